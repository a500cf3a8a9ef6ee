import Foundation
public import Hummingbird
public import Logging
public import Node
public import RecordStore
public import Services

/// What the gateway's routes work with: the record store, the node whose ledger decides consent and anchors
/// versions, the node's home (its keys and configuration), and the logger.
///
/// One value, built once per process and shared (read-only) by every request.
public struct GatewayDependencies: Sendable {
    /// The node's loopback RPC address.
    public struct NodeEndpoint: Sendable, Hashable {
        public var host: String
        public var port: Int
        public init(host: String = "127.0.0.1", port: Int) {
            self.host = host
            self.port = port
        }
    }

    public var store: any RecordStore
    /// The node to ask about the ledger (consent decisions, client registrations), when its address is fixed;
    /// nil to find it in ``home`` at each use (the running node writes its RPC port there, and may restart on
    /// another).
    public var node: NodeEndpoint?
    /// The node's home directory, when there is one.
    public var home: NodeHome?
    public var logger: Logger
    /// The record use cases (read, history, writes, Bundles) over ``store``.
    public var records: RecordService
    /// The consent gate every partner read passes (one per process, so its decision cache is shared by every
    /// route); nil on a gateway without a ledger, where partner reads are refused.
    public var consent: ConsentGate?
    /// Where partner accesses are audited (AuditEvents stored before the response leaves); nil: not audited.
    public var audit: AuditTrail?
    /// Seals the paging cursors of `next` links (search and history): the node home's key for a gateway made by
    /// ``forNode(home:store:logger:)``, so every gateway process of the node opens them; else a random key of this
    /// process.
    public var cursorSeal: CursorSeal
    /// The port the gateway is listening on once bound (the real one when ``configuration`` asked for port 0);
    /// shared by every copy of these dependencies.
    public let listening = ListeningPort()
    /// How the gateway listens; set by ``GatewayApplication/make(configuration:dependencies:concerns:onListening:)``.
    public internal(set) var configuration = GatewayConfiguration()

    public init(store: any RecordStore, node: NodeEndpoint? = nil, home: NodeHome? = nil,
                consent: ConsentGate? = nil, audit: AuditTrail? = nil,
                logger: Logger = Logger(label: "careledger.gateway")) {
        self.store = store
        self.node = node
        self.home = home
        self.consent = consent
        self.audit = audit
        self.logger = logger
        self.records = RecordService(store: store)
        self.cursorSeal = CursorSeal.withRandomKey()
    }

    /// The dependencies of a gateway in front of the node whose home is `home` (`careledger serve`, `node start
    /// --http`): consent decided from the finalized chain in that home under the consortium key, partner accesses
    /// audited into `store`. Throws when the home has no consortium key.
    public static func forNode(home: NodeHome, store: any RecordStore,
                               logger: Logger = Logger(label: "careledger.gateway")) throws(ServiceError) -> GatewayDependencies {
        let consortiumKey: [UInt8]
        do {
            consortiumKey = try home.consortiumKey()
        } catch {
            throw ServiceError(.configuration, "\(home.root.path) has no usable consortium key: \(error)")
        }
        let gate = ConsentGate(source: NodeHomeConsentState(home: home), store: store, consortiumKey: consortiumKey)
        let audit = AuditTrail(store: store, observer: "careledger-gateway")
        var dependencies = GatewayDependencies(store: store, home: home, consent: gate, audit: audit, logger: logger)
        dependencies.cursorSeal = CursorSeal(key: try CursorSeal.key(home: home))
        return dependencies
    }

    /// Where the node's RPC is: ``node`` when fixed, else the port the node running on ``home`` wrote.
    public func nodeEndpoint() throws(ServiceError) -> NodeEndpoint {
        if let node { return node }
        guard let home else { throw ServiceError(.unavailable, "the gateway runs without a node (no --home)") }
        do {
            return NodeEndpoint(port: try home.rpcPort())
        } catch {
            throw ServiceError(.unavailable, "the node is not reachable: \(error)")
        }
    }

    /// ``configuration`` with the bound port in place of port 0 once the gateway listens: what URLs built from the
    /// listen address (the token URL, a base URL without `Host`) must name.
    public var listeningConfiguration: GatewayConfiguration {
        var configuration = configuration
        if configuration.port == 0, let port = listening.port { configuration.port = port }
        return configuration
    }

    /// The token URL client assertions' `aud` must name and the gateway advertises (``SMARTAuthRoutes/tokenURL(_:)``
    /// of ``listeningConfiguration``).
    public var tokenURL: String { SMARTAuthRoutes.tokenURL(listeningConfiguration) }

    /// The FHIR base URL as the client sees it (`Location`, Bundle links): the configured public base URL, else the
    /// scheme and the request's `Host`, else the listen address. No trailing slash.
    public func baseURL(for request: Request) -> String {
        if let base = configuration.publicBaseURL {
            return base.hasSuffix("/") ? String(base.dropLast()) : base
        }
        let authority = request.head.authority.flatMap { Self.isPlausibleAuthority($0) ? $0 : nil }
            ?? "\(configuration.host):\(listeningConfiguration.port)"
        return "\(configuration.scheme)://\(authority)"
    }

    /// A `Host` value that can go into a URL: host and port characters only (no `/`, `@`, spaces or quotes).
    static func isPlausibleAuthority(_ value: String) -> Bool {
        !value.isEmpty && value.utf8.count <= 255 && value.utf8.allSatisfy { c in
            (0x30...0x39).contains(c) || (0x41...0x5A).contains(c) || (0x61...0x7A).contains(c)
                || c == UInt8(ascii: ".") || c == UInt8(ascii: "-") || c == UInt8(ascii: ":")
                || c == UInt8(ascii: "[") || c == UInt8(ascii: "]") || c == UInt8(ascii: "_")
        }
    }
}
