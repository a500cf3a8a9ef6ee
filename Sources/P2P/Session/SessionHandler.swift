import Ledger
import NIOCore

/// Runs one connection's ``SessionStateMachine`` on its channel: writes the hello when active, enforces the
/// handshake timeout, registers the session with the node once the peer is proven, hands messages to `onMessage`
/// on the event loop, and seals outgoing messages (`[UInt8]` written to the channel).
final class SessionHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = [UInt8]
    typealias OutboundOut = ByteBuffer

    private let peers: Peers
    private let dialedByUs: Bool
    /// Completed when the session is registered, or failed with the reason it is not; for the dialer.
    private let established: EventLoopPromise<Void>?
    private var machine: SessionStateMachine
    private var session: Session?
    private var address: String?
    private var timeout: Scheduled<Void>?
    private var started = false
    private var finished = false

    /// `expected` is the key of the peer dialed; nil for an accepted connection.
    init(peers: Peers, expected: PublicKey?, established: EventLoopPromise<Void>?) {
        let config = peers.config
        self.peers = peers
        dialedByUs = expected != nil
        self.established = established
        machine = SessionStateMachine(
            Handshake(chainId: config.chainId, key: config.key, allowed: config.allowed, expected: expected),
            maxFrameBytes: config.maxFrameBytes)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context)
        context.fireChannelActive()
    }

    private func start(_ context: ChannelHandlerContext) {
        guard !started else { return }
        started = true
        if let remote = context.channel.remoteAddress {
            address = "\(remote.ipAddress ?? "?"):\(remote.port ?? 0)"
        }
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: machine.hello)), promise: nil)
        let limit = peers.config.handshakeTimeout
        timeout = context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(limit)) {
            self.finish(context, P2PError(.handshakeTimeout, "no handshake within \(limit)"))
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        for action in machine.receive(&bytes) {
            switch action {
            case .write(let frame):
                context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: frame)), promise: nil)
            case .established(let peer):
                timeout?.cancel()
                let session = Session(peer: peer, dialedByUs: dialedByUs, channel: context.channel, config: peers.config)
                if let refusal = peers.register(session) {
                    finish(context, refusal)
                    return
                }
                self.session = session
                established?.succeed()
            case .deliver(let message):
                if let session { peers.onMessage(session.peer, message) }
            case .close(let error):
                finish(context, error)
                return
            }
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        do throws(P2PError) {
            let frame = try machine.seal(unwrapOutboundIn(data))
            context.write(wrapOutboundOut(ByteBuffer(bytes: frame)), promise: promise)
        } catch {
            promise?.fail(error)
            if error.code != .frameTooLarge { finish(context, error) }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        timeout?.cancel()
        if let session {
            peers.unregister(session)
        } else if !finished {
            finish(context, P2PError(.closedDuringHandshake, "the connection closed before the handshake finished"))
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        finish(context, P2PError(.connectionError, "\(error)", peer: session?.peer))
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timeout?.cancel()
        established?.fail(P2PError(.closedDuringHandshake, "the connection closed"))
    }

    /// Logs `error` with the peer's address and closes the connection; only the first reason counts.
    private func finish(_ context: ChannelHandlerContext, _ error: P2PError) {
        guard !finished else { return }
        finished = true
        var error = error
        error.address = error.address ?? address
        peers.config.log(error)
        established?.fail(error)
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension SessionHandler: Sendable {}
