public import Ledger
import NIOCore
import NIOPosix

/// A validator's endpoint on the network: a listener for peers that dial it, dialers that keep its configured
/// peers connected, and at most one authenticated, encrypted session per peer (docs/p2p.md).
///
/// `onMessage` and `onPeer` run on the session's NIO event loop, in the order frames arrive: they must return
/// quickly (hand the message to an actor or an `AsyncStream`), never block or wait.
public final class P2PNode: Sendable {
    /// The listener's port.
    public let port: Int
    let peers: Peers
    private let listener: any Channel

    private init(port: Int, peers: Peers, listener: any Channel) {
        self.port = port
        self.peers = peers
        self.listener = listener
    }

    /// Binds the listener and returns the running node; throws P2PError `.bindFailed`.
    public static func start(
        _ config: P2PConfig,
        onMessage: @escaping @Sendable (PublicKey, [UInt8]) -> Void,
        onPeer: @escaping @Sendable (PublicKey, Bool) -> Void = { _, _ in }
    ) async throws -> P2PNode {
        let address = "\(config.listenHost):\(config.listenPort)"
        guard (0...65535).contains(config.listenPort) else { throw P2PError(.bindFailed, "not a TCP port", address: address) }
        guard config.maxFrameBytes > 0, config.maxFrameBytes <= Int(UInt32.max) - P2PLimits.tagBytes else {
            throw P2PError(.bindFailed, "maxFrameBytes must be in 1...\(Int(UInt32.max) - P2PLimits.tagBytes)")
        }
        let peers = Peers(config: config, onMessage: onMessage, onPeer: onPeer)
        let listener: any Channel
        do {
            listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.backlog, value: P2PLimits.backlog)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if let refusal = peers.admit(channel) {
                            config.log(refusal)
                            throw refusal
                        }
                        try channel.pipeline.syncOperations.addHandler(
                            SessionHandler(peers: peers, expected: nil, established: nil))
                    }
                }
                .bind(host: config.listenHost, port: config.listenPort).get()
        } catch {
            throw P2PError(.bindFailed, "cannot listen: \(error)", address: address)
        }
        guard let port = listener.localAddress?.port else {
            listener.close(promise: nil)
            throw P2PError(.bindFailed, "the listener has no local address", address: address)
        }
        return P2PNode(port: port, peers: peers, listener: listener)
    }

    /// Keeps a connection to the peer at host:port whose key must be `key`: dials, and redials with backoff
    /// (50 ms doubling to 2 s) whenever it drops, until ``stop()`` or ``forget(_:)``. While a session with the
    /// peer exists, whichever side dialed it, it does not dial. Adding a peer again replaces its address.
    public func addPeer(_ key: PublicKey, host: String, port: Int) {
        peers.addPeer(key, host: host, port: port)
    }

    /// Stops dialing `key` and closes the session with it. The peer may still dial this node.
    public func forget(_ key: PublicKey) {
        peers.forget(key)
    }

    /// Queues one message for a connected peer; false if it is not connected, the message exceeds
    /// ``P2PConfig/maxFrameBytes``, or the peer's queue is full (then its connection is dropped). Messages to one
    /// peer sent from one task or thread arrive in order.
    @discardableResult public func send(_ message: [UInt8], to key: PublicKey) -> Bool {
        guard message.count <= peers.config.maxFrameBytes, let session = peers.currentSession(key) else { return false }
        return session.send(message)
    }

    /// Sends `message` to every connected peer.
    public func broadcast(_ message: [UInt8]) {
        for key in peers.connected { send(message, to: key) }
    }

    /// The keys of the peers with a session, sorted.
    public var connectedPeers: [PublicKey] { peers.connected }

    /// Drops every connection and stops dialing; the listener stays bound but closes what it accepts, so the node
    /// is cut off (for partition tests) until ``reconnect()``.
    public func disconnectAll() {
        _ = peers.closeAll(stopping: false)
    }

    /// Accepts connections again and resumes dialing the added peers.
    public func reconnect() {
        peers.resume()
    }

    /// Closes the listener and every connection and stops the dialers; returns once they are done. Calling it
    /// again does nothing.
    public func stop() async throws {
        let (dialers, connections) = peers.closeAll(stopping: true)
        do {
            try await listener.close()
        } catch ChannelError.alreadyClosed {
            // Already stopped.
        }
        for connection in connections { try? await connection.closeFuture.get() }
        for dialer in dialers { await dialer.value }
    }
}
