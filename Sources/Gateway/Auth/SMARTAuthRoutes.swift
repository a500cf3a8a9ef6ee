public import Foundation
public import Hummingbird
import Logging
import Node
import RecordStore
public import Services

/// The SMART Backend Services concern of the gateway: the open endpoints (`/.well-known/smart-configuration`,
/// `POST /auth/token`) and then the authentication middleware, so every route added after it needs a token.
///
/// In ``GatewayApplication/concerns()`` it is `SMARTAuthRoutes()`: it builds its token issuer from the dependencies
/// (``make(dependencies:clock:)``). If that fails (no node home), it fails closed: the middleware is still installed
/// with a key nobody has, so no request passes, and the token endpoint answers 503.
public struct SMARTAuthRoutes: GatewayRoutes {
    private let prepared: (issuer: TokenIssuer, codec: AccessTokenCodec)?
    private let clock: @Sendable () -> Date

    /// The concern as the gateway mounts it: built from the dependencies when added to the router.
    public init(clock: @escaping @Sendable () -> Date = { Date() }) {
        self.prepared = nil
        self.clock = clock
    }

    /// The concern with a ready issuer and codec (tests, or a caller with its own client directory).
    public init(issuer: TokenIssuer, codec: AccessTokenCodec) {
        self.prepared = (issuer, codec)
        self.clock = { Date() }
    }

    public func add(to router: Router<GatewayRequestContext>, dependencies: GatewayDependencies) {
        let issuer: TokenIssuer?, codec: AccessTokenCodec
        if let prepared {
            (issuer, codec) = prepared
        } else {
            do {
                let made = try Self.make(dependencies: dependencies, clock: clock)
                (issuer, codec) = (made.issuer, made.codec)
            } catch {
                dependencies.logger.error("SMART Backend Services are unavailable, every protected request is refused: \(error)")
                (issuer, codec) = (nil, AccessTokenCodec.withRandomKey(clock: clock))
            }
        }
        if let issuer {
            // A prepared issuer keeps its own token URL; one built here follows the bound port (listen port 0).
            var tokenURL: (@Sendable () -> String)?
            if prepared == nil { tokenURL = { dependencies.tokenURL } }
            Gateway.addAuthRoutes(to: router, issuer: issuer, tokenURL: tokenURL)
        } else {
            router.post("/auth/token") { _, _ in
                Gateway.authJSON(TokenError.Body(error: "temporarily_unavailable",
                                                 errorDescription: "the gateway has no token key (started without a node home)"),
                                 status: .serviceUnavailable)
            }
        }
        router.add(middleware: SMARTAuthMiddleware(codec: codec, audit: dependencies.audit))
    }

    /// The token URL that assertions' `aud` must name: the public base URL when configured, else the listen address
    /// (with the bound port once listening: ``GatewayDependencies/tokenURL``).
    /// Never taken from a request's `Host`, so an assertion made for another hospital's gateway (the same partner
    /// client is valid at every gateway of the consortium) cannot be replayed here under a forged `Host`.
    public static func tokenURL(_ configuration: GatewayConfiguration) -> String {
        if let base = configuration.publicBaseURL {
            return (base.hasSuffix("/") ? String(base.dropLast()) : base) + "/auth/token"
        }
        let host = configuration.host.contains(":") ? "[\(configuration.host)]" : configuration.host
        return "\(configuration.scheme)://\(host):\(configuration.port)/auth/token"
    }

    /// The issuer and codec for a gateway on `dependencies`' node home and store: clients from the home's
    /// `config/clients.json` (local) and the ledger (partners, through the node's RPC), cached 30 s; the jti replay
    /// cache in the store; the access token key derived from the node key.
    public static func make(dependencies: GatewayDependencies, clock: @escaping @Sendable () -> Date) throws
        -> (issuer: TokenIssuer, codec: AccessTokenCodec)
    {
        guard let home = dependencies.home else {
            throw ServiceError(.configuration, "SMART Backend Services need the node home (--home): its key signs access tokens")
        }
        guard let replayCache = dependencies.store as? any TokenReplayCache else {
            throw ServiceError(.configuration, "the record store keeps no token replay cache")
        }
        let ledger = LedgerClientDirectory {
            let node = try dependencies.nodeEndpoint()
            return (node.host, node.port)
        }
        let directory = CachedClientDirectory([LocalClientDirectory(home: home.root.path), ledger], clock: clock)
        let verifier = ClientAssertionVerifier(tokenURL: dependencies.tokenURL, directory: directory,
                                               replayCache: replayCache)
        let codec = AccessTokenCodec(key: try AccessTokenCodec.key(home: home), clock: clock)
        return (TokenIssuer(verifier: verifier, codec: codec, clock: clock), codec)
    }
}
