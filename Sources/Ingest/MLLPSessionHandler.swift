import HL7v2
import NIOCore

/// Runs one connection's ``MLLPSession`` on its event loop: feeds it the bytes read and the time, passes its
/// frames on as ``MLLPSession/Action`` values, tells it of each answer written, and closes the connection when it
/// says so, with a timer armed for its deadline.
final class MLLPSessionHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = MLLPSession.Action
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let timeouts: MLLPSession.Timeouts
    private let maxFrameBytes: Int
    private let log: MLLPServer.Log
    private var session: MLLPSession?
    private var timer: Scheduled<Void>?
    private var armedFor: Duration?
    private var peer = "?"

    init(timeouts: MLLPSession.Timeouts, maxFrameBytes: Int, log: @escaping MLLPServer.Log) {
        self.timeouts = timeouts
        self.maxFrameBytes = maxFrameBytes
        self.log = log
    }

    /// The event loop's monotonic clock as the session reads time.
    static func now() -> Duration { .nanoseconds(Int64(clamping: NIODeadline.now().uptimeNanoseconds)) }

    func handlerAdded(context: ChannelHandlerContext) {
        peer = context.channel.remoteAddress?.description ?? "?"
        session = MLLPSession(timeouts: timeouts, maxFrameBytes: maxFrameBytes, openedAt: Self.now())
        arm(context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard var session else { return }
        let buffer = unwrapInboundIn(data)
        let actions = session.received(buffer.readableBytesView, at: Self.now())
        self.session = session
        for action in actions {
            if case .close(let reason) = action {
                close(context, reason)
                return
            }
            context.fireChannelRead(wrapInboundOut(action))
        }
        arm(context)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        // Every write is the answer to one delivered or oversized frame.
        if var session, !session.isClosed {
            session.answered(at: Self.now())
            self.session = session
            arm(context)
        }
        context.write(data, promise: promise)
    }

    /// Keeps one timer armed for the session's deadline.
    private func arm(_ context: ChannelHandlerContext) {
        let deadline = session?.deadline
        guard deadline != armedFor else { return }
        timer?.cancel()
        timer = nil
        armedFor = deadline
        guard let deadline else { return }
        let delay = deadline - Self.now()
        // Clamped: a timeout of centuries must not overflow into a negative delay.
        let (seconds, attoseconds) = delay.components
        let nanoseconds = seconds >= 9_000_000_000 ? Int64.max : max(0, seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(nanoseconds)) { [weak self] in
            self?.fire(context)
        }
    }

    private func fire(_ context: ChannelHandlerContext) {
        armedFor = nil
        timer = nil
        guard var session else { return }
        let action = session.tick(at: Self.now())
        self.session = session
        if case .close(let reason) = action {
            close(context, reason)
        } else {
            arm(context)
        }
    }

    private func close(_ context: ChannelHandlerContext, _ reason: MLLPSession.CloseReason) {
        timer?.cancel()
        timer = nil
        log("mllp \(peer): connection closed: \(reason)")
        context.close(promise: nil)
    }
}
