import ArgumentParser
import Foundation
import Gateway
import Logging
import Node
import RecordStore
import Services

/// `careledger serve`: the FHIR gateway (docs/gateway.md) as its own process.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve FHIR R4 REST (SMART Backend Services, consent-checked reads, audit) over the store and the node.",
        discussion: """
            The gateway is stateless: several `serve` processes may share one store and one node (what they must \
            share, such as the token jti replay cache, lives in the store). It prints `listening on URL` (the real \
            port when --listen asks for port 0) and stops on SIGINT or SIGTERM, after the requests in flight are \
            answered. HTTPS with --tls-cert and --tls-key (PEM files); plain HTTP without.

            Exit codes: 0 stopped by a signal; 64 a bad option or --store; 66 --home is not a node home; 69 the store \
            cannot be opened or the address cannot be listened on; 78 the TLS certificate or key cannot be used.
            """
    )

    @Option(help: ArgumentHelp("The node's home directory (careledger node init): its ledger decides consent and anchors writes.",
                               valueName: "DIR"))
    var home: String

    @OptionGroup var storeOptions: StoreOptions

    @Option(help: ArgumentHelp("The address to listen on (port 0 picks a free port).", valueName: "HOST:PORT"))
    var listen: String = "\(GatewayConfiguration.defaultHost):\(GatewayConfiguration.defaultPort)"

    @Option(help: ArgumentHelp("The TLS certificate chain (PEM); with --tls-key, the gateway serves HTTPS.", valueName: "FILE"))
    var tlsCert: String?

    @Option(help: ArgumentHelp("The TLS private key (PEM) of --tls-cert.", valueName: "FILE"))
    var tlsKey: String?

    @Option(help: ArgumentHelp("The base URL clients reach the gateway at, when a proxy stands in front (default: the request's Host).",
                               valueName: "URL"))
    var baseURL: String?

    func validate() throws {
        do {
            _ = try GatewayConfiguration.parseListen(listen)
        } catch {
            throw ValidationError(error.description)
        }
        guard (tlsCert == nil) == (tlsKey == nil) else {
            throw ValidationError("--tls-cert and --tls-key go together: give both for HTTPS, or neither")
        }
        if let baseURL, !(baseURL.hasPrefix("http://") || baseURL.hasPrefix("https://")) {
            throw ValidationError("--base-url must be an http:// or https:// URL")
        }
    }

    func run() async throws {
        let nodeHome = NodeHome(home)
        guard FileManager.default.fileExists(atPath: nodeHome.genesisFile.path) else {
            FileHandle.standardError.write(Data("careledger serve: \(home) is not a node home (no config/genesis.json); create it with careledger node init\n".utf8))
            throw ExitCode(66)
        }
        let address = try GatewayConfiguration.parseListen(listen)
        let configuration = GatewayConfiguration(host: address.host, port: address.port, tlsCertificate: tlsCert,
                                                 tlsKey: tlsKey, publicBaseURL: baseURL)
        let store = try await storeOptions.open()
        let dependencies: GatewayDependencies
        do {
            dependencies = try GatewayDependencies.forNode(home: nodeHome, store: store, logger: Logger(label: "careledger.gateway"))
        } catch {
            FileHandle.standardError.write(Data("careledger serve: \(error.reason)\n".utf8))
            try? await store.close()
            throw ExitCode(78)
        }
        let application: GatewayApplication.App
        do {
            application = try GatewayApplication.make(configuration: configuration, dependencies: dependencies) { url in
                Output.line("listening on \(url)")
            }
        } catch {
            FileHandle.standardError.write(Data("careledger serve: \(error)\n".utf8))
            try? await store.close()
            throw ExitCode(78)
        }
        do {
            try await GatewayApplication.runUntilSignalled(application)
        } catch {
            FileHandle.standardError.write(Data("careledger serve: \(error)\n".utf8))
            try? await store.close()
            throw ExitCode(69)
        }
        if let audit = dependencies.audit {
            let (stored, transactions, largest) = await (audit.stored, audit.transactions, audit.largestBatch)
            Output.line("audit trail: \(stored) AuditEvents stored in \(transactions) transactions (largest batch \(largest))")
        }
        try await store.close()
    }
}
