import Ledger
import Synchronization
import Testing
@testable import P2P

/// What one node saw: messages per sender, session events, logged reasons.
final class Recorder: Sendable {
    private struct Seen {
        var messages: [PublicKey: [[UInt8]]] = [:]
        var peerEvents: [PublicKey: [Bool]] = [:]
        var logs: [P2PError] = []
    }
    private let seen = Mutex(Seen())

    func received(_ key: PublicKey, _ message: [UInt8]) { seen.withLock { $0.messages[key, default: []].append(message) } }
    func peer(_ key: PublicKey, _ up: Bool) { seen.withLock { $0.peerEvents[key, default: []].append(up) } }
    func log(_ error: P2PError) { seen.withLock { $0.logs.append(error) } }

    func messages(from key: PublicKey) -> [[UInt8]] { seen.withLock { $0.messages[key] ?? [] } }
    func peerEvents(_ key: PublicKey) -> [Bool] { seen.withLock { $0.peerEvents[key] ?? [] } }
    var logs: [P2PError] { seen.withLock { $0.logs } }
    func logged(_ code: P2PError.Code, peer: PublicKey) -> Bool { logs.contains { $0.code == code && $0.peer == peer } }
}

/// A running node with its key and what it saw.
struct TestNode {
    let key: SigningKey
    let node: P2PNode
    let seen: Recorder
    var id: PublicKey { key.publicKey }

    static let chainId = "careledger-test"

    /// Starts a node on 127.0.0.1 (port 0 unless given) that records what it sees.
    static func start(_ key: SigningKey, allowed: [SigningKey], port: Int = 0,
                      configure: (inout P2PConfig) -> Void = { _ in }) async throws -> TestNode {
        let seen = Recorder()
        var config = P2PConfig(chainId: chainId, key: key, allowed: Set(allowed.map(\.publicKey)))
        config.listenPort = port
        config.handshakeTimeout = .seconds(5)
        config.log = { seen.log($0) }
        configure(&config)
        let node = try await P2PNode.start(config, onMessage: { seen.received($0, $1) }, onPeer: { seen.peer($0, $1) })
        return TestNode(key: key, node: node, seen: seen)
    }

    func dial(_ other: TestNode) { node.addPeer(other.id, host: "127.0.0.1", port: other.node.port) }
}

/// Deterministic keys 1, 2, 3…
func keys(_ count: Int) throws -> [SigningKey] {
    try (1...count).map { try SigningKey(seed: [UInt8](repeating: UInt8($0), count: 32)) }
}

/// Polls `condition` every 10 ms until it holds or `limit` passes; whether it held.
func eventually(within limit: Duration = .seconds(45), _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + limit
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return condition()
}
