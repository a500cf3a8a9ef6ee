import Foundation
public import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore

/// Builds the gateway: a Hummingbird 2 application serving the FHIR R4 REST API (and SMART Backend Services,
/// consent enforcement and audit) over one record store and one node.
///
/// The result is a swift-service-lifecycle `Service`: `careledger serve` runs it alone with graceful shutdown on
/// SIGTERM/SIGINT (in-flight requests finish); `node start --http` adds it to the node's own service group.
public enum GatewayApplication {
    /// The application type the gateway builds.
    public typealias App = Application<RouterResponder<GatewayRequestContext>>

    /// The gateway's concerns, in the order they are added to the router (see ``GatewayRoutes``): the open
    /// endpoints, then the concern that adds the authentication middleware, then the FHIR interactions.
    ///
    /// A shared list, like the CLI's subcommands: each concern is one line.
    public static func concerns(authentication: Bool = true) -> [any GatewayRoutes] {
        var list: [any GatewayRoutes] = [
            // Open: no token needed.
            HealthRoutes(),
            MetadataRoutes(),
        ]
        // SMART Backend Services (.well-known, token endpoint), then the authentication middleware: every concern
        // after it needs a token. Without it (tests of the interactions alone) every request is a local one.
        if authentication { list.append(SMARTAuthRoutes()) }
        list += [
            // Protected FHIR interactions.
            GatewayRouteClosure { router, dependencies in
                SearchRoutes(consent: dependencies.consent).add(to: router, dependencies: dependencies)
            },
            ReadRoutes(),
            HistoryRoutes(),
            WriteRoutes(),
            BundleRoutes(),
            EverythingRoutes(),
        ]
        return list
    }

    /// The router: the error middleware first (so it wraps everything), then each concern in order.
    public static func router(dependencies: GatewayDependencies,
                              concerns: [any GatewayRoutes] = GatewayApplication.concerns()) -> Router<GatewayRequestContext> {
        let router = Router(context: GatewayRequestContext.self)
        router.add(middleware: OperationOutcomeMiddleware<GatewayRequestContext>())
        for concern in concerns {
            concern.add(to: router, dependencies: dependencies)
        }
        return router
    }

    /// The gateway application for `configuration`. `onListening` is called with the URL once the socket is bound
    /// (its real port when the configuration asked for port 0); the application also logs it.
    public static func make(configuration: GatewayConfiguration, dependencies: GatewayDependencies,
                            concerns: [any GatewayRoutes] = GatewayApplication.concerns(),
                            onListening: @escaping @Sendable (String) async -> Void = { _ in })
    throws(GatewayConfigurationError) -> App {
        var dependencies = dependencies
        dependencies.configuration = configuration
        let router = router(dependencies: dependencies, concerns: concerns)
        let server = try serverBuilder(configuration)
        let logger = dependencies.logger
        let scheme = configuration.scheme
        let host = configuration.host
        let listening = dependencies.listening
        return Application(
            router: router,
            server: server,
            configuration: ApplicationConfiguration(address: .hostname(host, port: configuration.port),
                                                    serverName: "CareLedger"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? configuration.port
                // Before the URL is announced: from now on the token URL names this port, not `:0`.
                listening.bound(port)
                let url = "\(scheme)://\(host.contains(":") ? "[\(host)]" : host):\(port)"
                logger.notice("listening on \(url)")
                await onListening(url)
            },
            logger: logger
        )
    }

    /// Runs `application` until SIGTERM or SIGINT, then shuts it down gracefully: it stops accepting connections
    /// and answers the requests in flight before returning (`careledger serve`).
    public static func runUntilSignalled(_ application: App) async throws {
        try await application.runService()
    }

    /// HTTP/1.1, inside TLS when the configuration has a certificate and key.
    static func serverBuilder(_ configuration: GatewayConfiguration) throws(GatewayConfigurationError) -> HTTPServerBuilder {
        switch (configuration.tlsCertificate, configuration.tlsKey) {
        case (nil, nil):
            return .http1()
        case (let certificate?, let key?):
            do {
                let chain = try NIOSSLCertificate.fromPEMFile(certificate)
                guard !chain.isEmpty else {
                    throw GatewayConfigurationError("--tls-cert \(certificate) holds no PEM certificate")
                }
                let privateKey = try NIOSSLPrivateKey(file: key, format: .pem)
                let tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) },
                                                                   privateKey: .privateKey(privateKey))
                return try .tls(.http1(), tlsConfiguration: tls)
            } catch let error as GatewayConfigurationError {
                throw error
            } catch {
                // The key file's content is never part of the message.
                throw GatewayConfigurationError("cannot load the TLS certificate \(certificate) or key \(key): \(type(of: error))")
            }
        default:
            throw GatewayConfigurationError("--tls-cert and --tls-key go together: give both for HTTPS, or neither")
        }
    }
}
