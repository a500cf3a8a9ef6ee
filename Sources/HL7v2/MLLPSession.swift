/// One MLLP connection's receiving side without I/O: bytes and clock readings in, actions out (the postgres-nio
/// shape). The listener feeds it what it reads and the time, performs the actions, and arms a timer for
/// ``deadline``.
///
/// Two clocks bound a connection, so that a client cannot hold it by sending slowly:
/// - a frame must complete within ``Timeouts/frame`` of its first byte (bytes outside a frame count as the start of
///   one): a client that drips one byte a second is closed however often it sends;
/// - from the opening and between frames, with every message answered, a connection may be silent for
///   ``Timeouts/idle``. Stray CR/LF between frames are harmless but do not count as activity.
/// While a delivered message is still being answered the connection is busy and has no deadline; the listener may
/// read nothing meanwhile (back-pressure), so a frame begun then is timed from the last answer.
///
/// Times are durations on one monotonic clock, from any origin (the caller's clock is injected this way).
public struct MLLPSession: Sendable {
    public struct Timeouts: Sendable, Hashable {
        /// The longest a frame may take to arrive, from its first byte.
        public var frame: Duration
        /// The longest a connection may stay silent, from its opening or between frames once every message has been
        /// answered.
        public var idle: Duration

        public init(frame: Duration, idle: Duration) {
            precondition(frame > .zero && idle > .zero, "MLLP timeouts are positive")
            self.frame = frame
            self.idle = idle
        }
    }

    public enum Action: Sendable, Hashable {
        /// A complete frame's payload: answer it (then call ``answered(at:)``).
        case deliver([UInt8])
        /// A frame longer than the limit, discarded as it streamed (`count` bytes): answer it `AR` (then call
        /// ``answered(at:)``).
        case refuseOversized(count: Int)
        /// Bytes outside any frame were skipped.
        case skipped(count: Int)
        /// A frame was dropped because a new one started before it ended.
        case dropped(count: Int)
        /// Close the connection for this reason; nothing more is read.
        case close(CloseReason)
    }

    public enum CloseReason: Sendable, Hashable, CustomStringConvertible {
        /// A frame did not complete within the frame timeout; `pendingBytes` of its payload had arrived.
        case frameTimeout(pendingBytes: Int)
        /// Nothing arrived for the idle timeout (from the opening, or since the last answer).
        case idle

        public var description: String {
            switch self {
            case .frameTimeout(let pending):
                "a message did not arrive in full within the frame timeout (\(pending) bytes of it had)"
            case .idle:
                "silent for the idle timeout"
            }
        }
    }

    public let timeouts: Timeouts
    private var framer: MLLPFramer
    /// When the frame in progress started (its first byte, or the last answer if that came later); nil between
    /// frames.
    private var frameStarted: Duration?
    /// When the connection last became idle: opened, or its last outstanding message answered.
    private var idleSince: Duration
    /// Messages delivered (or refused as oversized) and not yet answered.
    private var unanswered = 0
    private var closed = false

    public init(timeouts: Timeouts, maxFrameBytes: Int, openedAt now: Duration) {
        self.timeouts = timeouts
        framer = MLLPFramer(maxFrameBytes: maxFrameBytes)
        idleSince = now
    }

    public var isClosed: Bool { closed }

    /// The time by which more must happen, or the connection is closed: the frame in progress's deadline, else the
    /// idle deadline; nil while a message is being answered, or once closed.
    public var deadline: Duration? {
        if closed || unanswered > 0 { return nil }
        if let frameStarted { return frameStarted + timeouts.frame }
        return idleSince + timeouts.idle
    }

    /// Takes bytes read at `now`; returns what to do, in order.
    public mutating func received<S: Sequence<UInt8>>(_ bytes: S, at now: Duration) -> [Action] {
        if closed { return [] }
        if let expired = expire(at: now) { return [expired] }
        var actions: [Action] = []
        framer.append(bytes)
        while let event = framer.next() {
            switch event {
            case .frame(let payload):
                unanswered += 1
                finishFrame()
                actions.append(.deliver(payload))
            case .oversized(let count):
                unanswered += 1
                finishFrame()
                actions.append(.refuseOversized(count: count))
            case .garbage(let count):
                actions.append(.skipped(count: count))
            case .unterminated(let count):
                actions.append(.dropped(count: count))
            }
        }
        // Whatever is left in the framer (a frame begun, bytes outside any frame) starts the frame clock now.
        if frameStarted == nil, framer.holdsPartialInput { frameStarted = now }
        return actions
    }

    /// One delivered or oversized message was answered at `now`.
    public mutating func answered(at now: Duration) {
        precondition(unanswered > 0, "an MLLP answer with no message to answer")
        unanswered -= 1
        guard unanswered == 0 else { return }
        idleSince = now
        // Bytes of a frame begun while answering may not have been read yet: its time counts from now.
        if let started = frameStarted, started < now { frameStarted = now }
    }

    /// The timer armed for ``deadline`` fired (or any time): the close action when a deadline has passed.
    public mutating func tick(at now: Duration) -> Action? {
        if closed { return nil }
        return expire(at: now)
    }

    private mutating func finishFrame() {
        frameStarted = nil
    }

    private mutating func expire(at now: Duration) -> Action? {
        guard let deadline, now >= deadline else { return nil }
        closed = true
        if frameStarted != nil {
            return .close(.frameTimeout(pendingBytes: framer.pendingBytes))
        }
        return .close(.idle)
    }
}
