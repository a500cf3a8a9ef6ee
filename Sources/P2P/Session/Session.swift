import Ledger
import NIOCore
import Synchronization

/// An authenticated session with one peer, as the node's table holds it: its channel, which side dialed, and the
/// bytes queued on it but not yet written to the socket.
final class Session: Sendable {
    let peer: PublicKey
    /// Whether this node dialed it (rather than accepted it).
    let dialedByUs: Bool
    let channel: any Channel
    let opened = ContinuousClock.now
    private let maxBufferedBytes: Int
    private let log: @Sendable (P2PError) -> Void
    private let queued = Atomic<Int>(0)

    init(peer: PublicKey, dialedByUs: Bool, channel: any Channel, config: P2PConfig) {
        self.peer = peer
        self.dialedByUs = dialedByUs
        self.channel = channel
        maxBufferedBytes = config.maxBufferedBytes
        log = config.log
    }

    /// Queues `message` for the peer; false if the channel is closed or the queue would pass ``P2PConfig/maxBufferedBytes``,
    /// in which case the connection is dropped (its dialer redials). Messages queued from one thread go out in order.
    func send(_ message: [UInt8]) -> Bool {
        guard channel.isActive else { return false }
        let size = message.count + P2PLimits.headerBytes + P2PLimits.tagBytes
        guard queued.add(size, ordering: .relaxed).newValue <= maxBufferedBytes else {
            queued.subtract(size, ordering: .relaxed)
            log(P2PError(.slowPeer, "more than \(maxBufferedBytes) bytes wait to be written; dropping the connection", peer: peer))
            close()
            return false
        }
        channel.writeAndFlush(message).whenComplete { _ in self.queued.subtract(size, ordering: .relaxed) }
        return true
    }

    func close() { channel.close(promise: nil) }
}
