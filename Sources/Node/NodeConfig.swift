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
        var object: [String: Any] = [
            "moniker": moniker,
            "rpcPort": rpcPort,
            "p2pHost": p2pHost,
            "p2pPort": p2pPort,
            "peers": peers.map { ["name": $0.name, "publicKey": Base64.encode($0.publicKey.bytes), "host": $0.host, "port": $0.port] as [String: Any] },
        ]
        if let blockIntervalMillis { object["blockIntervalMillis"] = blockIntervalMillis }
        if let emptyBlockMillis { object["emptyBlockMillis"] = emptyBlockMillis }
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted])
        try data.write(to: url, options: .atomic)
    }

    public static func read(from url: URL) throws -> NodeConfig {
        let o = try NodeHome.readObject(url)
        func port(_ name: String) throws -> Int {
            guard let p = (o[name] as? NSNumber)?.intValue, (0...65535).contains(p) else { throw NodeError("\(url.path): \(name) must be a TCP port (0–65535)") }
            return p
        }
        guard let moniker = o["moniker"] as? String, !moniker.isEmpty else { throw NodeError("\(url.path): no moniker") }
        let host = o["p2pHost"] as? String ?? "127.0.0.1"
        guard let list = o["peers"] as? [[String: Any]] else { throw NodeError("\(url.path): peers must be a list") }
        var peers: [Peer] = []
        for (n, p) in list.enumerated() {
            guard let name = p["name"] as? String, let key = (p["publicKey"] as? String).flatMap(Base64.decode), let publicKey = try? PublicKey(bytes: key),
                  let peerHost = p["host"] as? String, !peerHost.isEmpty, let peerPort = (p["port"] as? NSNumber)?.intValue, (1...65535).contains(peerPort) else {
                throw NodeError("\(url.path): peers[\(n)] needs a name, a base64 32-byte publicKey, a host and a port")
            }
            peers.append(Peer(name: name, publicKey: publicKey, host: peerHost, port: peerPort))
        }
        func millis(_ name: String) throws -> Int? {
            guard let value = o[name] else { return nil }
            guard let m = (value as? NSNumber)?.intValue, m >= 1, m <= 600_000 else { throw NodeError("\(url.path): \(name) must be 1–600000 milliseconds") }
            return m
        }
        return NodeConfig(moniker: moniker, rpcPort: try port("rpcPort"), p2pHost: host, p2pPort: try port("p2pPort"), peers: peers,
                          blockIntervalMillis: try millis("blockIntervalMillis"), emptyBlockMillis: try millis("emptyBlockMillis"))
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
