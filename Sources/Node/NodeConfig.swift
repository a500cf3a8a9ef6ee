public import Foundation
public import Ledger

/// A node's network settings (`config/node.json`), written by `careledger testnet init` (or by hand):
///
/// ```json
/// {
///   "moniker": "st-olaf-hospital",
///   "rpcPort": 26601,
///   "p2pHost": "127.0.0.1",
///   "p2pPort": 26600,
///   "peers": [ { "name": "mercy-clinic", "publicKey": "base64", "host": "127.0.0.1", "port": 26610 } ]
/// }
/// ```
///
/// A home without it runs as the only validator of its chain (`node init`). A home with it runs consensus with the
/// peers it names, which must be validators of its genesis. Optional tuning: `blockIntervalMillis` (how long a
/// height waits after a commit when transactions are waiting, CometBFT's timeout_commit) and `emptyBlockMillis`
/// (how long it waits when none are).
public struct NodeConfig: Sendable, Hashable {
    public struct Peer: Sendable, Hashable {
        public var name: String
        public var publicKey: PublicKey
        public var host: String
        public var port: Int

        public init(name: String, publicKey: PublicKey, host: String, port: Int) {
            self.name = name
            self.publicKey = publicKey
            self.host = host
            self.port = port
        }
    }

    public var moniker: String
    public var rpcPort: Int
    public var p2pHost: String
    public var p2pPort: Int
    public var peers: [Peer]
    public var blockIntervalMillis: Int?
    public var emptyBlockMillis: Int?

    public init(moniker: String, rpcPort: Int, p2pHost: String = "127.0.0.1", p2pPort: Int, peers: [Peer],
                blockIntervalMillis: Int? = nil, emptyBlockMillis: Int? = nil) {
        self.moniker = moniker
        self.rpcPort = rpcPort
        self.p2pHost = p2pHost
        self.p2pPort = p2pPort
        self.peers = peers
        self.blockIntervalMillis = blockIntervalMillis
        self.emptyBlockMillis = emptyBlockMillis
    }

    public func write(to url: URL) throws {
        let file = NodeFiles.NodeConfigFile(
            moniker: moniker, rpcPort: rpcPort, p2pHost: p2pHost, p2pPort: p2pPort,
            peers: peers.map { NodeFiles.NodeConfigFile.Peer(name: $0.name, publicKey: Base64.encode($0.publicKey.bytes), host: $0.host, port: $0.port) },
            blockIntervalMillis: blockIntervalMillis, emptyBlockMillis: emptyBlockMillis)
        try NodeFiles.encode(file, pretty: true).write(to: url, options: .atomic)
    }

    public static func read(from url: URL) throws -> NodeConfig {
        let o = try NodeFiles.read(NodeFiles.NodeConfigFile.self, from: url)
        for (name, port) in [("rpcPort", o.rpcPort), ("p2pPort", o.p2pPort)] where !(0...65535).contains(port) {
            throw NodeError("\(url.path): \(name) must be a TCP port (0–65535)")
        }
        guard !o.moniker.isEmpty else { throw NodeError("\(url.path): no moniker") }
        var peers: [Peer] = []
        for (n, p) in o.peers.enumerated() {
            guard let key = Base64.decode(p.publicKey), let publicKey = try? PublicKey(bytes: key), !p.host.isEmpty, (1...65535).contains(p.port) else {
                throw NodeError("\(url.path): peers[\(n)] needs a name, a base64 32-byte publicKey, a host and a port")
            }
            peers.append(Peer(name: p.name, publicKey: publicKey, host: p.host, port: p.port))
        }
        for (name, value) in [("blockIntervalMillis", o.blockIntervalMillis), ("emptyBlockMillis", o.emptyBlockMillis)] {
            if let m = value, !(1...600_000).contains(m) { throw NodeError("\(url.path): \(name) must be 1–600000 milliseconds") }
        }
        return NodeConfig(moniker: o.moniker, rpcPort: o.rpcPort, p2pHost: o.p2pHost ?? "127.0.0.1", p2pPort: o.p2pPort, peers: peers,
                          blockIntervalMillis: o.blockIntervalMillis, emptyBlockMillis: o.emptyBlockMillis)
    }
}

extension NodeHome {
    public var nodeConfigFile: URL { root.appendingPathComponent("config/node.json") }

    /// The network settings, or nil for a one-validator home without `config/node.json`.
    public func nodeConfig() throws -> NodeConfig? {
        guard FileManager.default.fileExists(atPath: nodeConfigFile.path) else { return nil }
        return try NodeConfig.read(from: nodeConfigFile)
    }
}
