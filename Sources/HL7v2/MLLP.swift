/// MLLP framing (HL7 v2 over TCP): each message is sent as `0x0B` payload `0x1C 0x0D`.
///
/// The framer takes bytes as they arrive, in any pieces, and yields what they hold: frames, bytes outside any
/// frame, and frames too large to keep (discarded as they stream, so a huge frame costs no memory).
public struct MLLPFramer: Sendable {
    public enum Event: Sendable, Hashable {
        /// A complete frame's payload.
        case frame([UInt8])
        /// Bytes that arrived outside a frame (before a start byte) and were skipped.
        case garbage(count: Int)
        /// A frame longer than the limit; its bytes were discarded, `count` in all.
        case oversized(count: Int)
        /// A start byte arrived inside a frame: the unterminated frame (`count` bytes) was dropped.
        case unterminated(count: Int)
    }

    public static let startBlock: UInt8 = 0x0B
    public static let endBlock: UInt8 = 0x1C
    public static let carriageReturn: UInt8 = 0x0D

    public let maxFrameBytes: Int
    private var inFrame = false
    private var payload: [UInt8] = []
    private var discarded = 0
    private var oversized = false
    private var garbage = 0
    /// An end byte was the last byte seen: a CR must follow.
    private var sawEnd = false
    private var events: [Event] = []
    private var eventIndex = 0

    public init(maxFrameBytes: Int = 16 << 20) {
        self.maxFrameBytes = maxFrameBytes
    }

    /// The framed form of `payload`.
    public static func frame(_ payload: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [startBlock]
        out.reserveCapacity(payload.count + 3)
        out.append(contentsOf: payload)
        out.append(endBlock)
        out.append(carriageReturn)
        return out
    }

    /// The number of payload bytes held for the frame in progress.
    public var pendingBytes: Int { payload.count }

    /// True when bytes have arrived that complete nothing yet: a frame begun, or bytes outside any frame (other than
    /// stray CR/LF between frames).
    public var holdsPartialInput: Bool { inFrame || garbage > 0 }

    /// Feeds bytes; read what they completed with ``next()``.
    public mutating func append<S: Sequence<UInt8>>(_ bytes: S) {
        for b in bytes { step(b) }
    }

    /// The next event, or nil when the bytes so far complete nothing more.
    public mutating func next() -> Event? {
        guard eventIndex < events.count else {
            events.removeAll(keepingCapacity: true)
            eventIndex = 0
            return nil
        }
        defer { eventIndex += 1 }
        return events[eventIndex]
    }

    private mutating func step(_ b: UInt8) {
        if !inFrame {
            if b == Self.startBlock {
                if garbage > 0 { events.append(.garbage(count: garbage)); garbage = 0 }
                inFrame = true
                payload.removeAll(keepingCapacity: true)
                discarded = 0
                oversized = false
                sawEnd = false
            } else if !(b == Self.carriageReturn || b == 0x0A) || garbage > 0 {
                // A stray CR/LF between frames is common and harmless; anything else is reported.
                garbage += 1
            }
            return
        }
        if sawEnd {
            sawEnd = false
            if b == Self.carriageReturn {
                finishFrame()
                return
            }
            // 0x1C not followed by CR: it was payload after all.
            keep(Self.endBlock)
        }
        switch b {
        case Self.endBlock:
            sawEnd = true
        case Self.startBlock:
            // A new frame starts before this one ended: drop the unterminated one.
            events.append(.unterminated(count: payload.count + discarded))
            payload.removeAll(keepingCapacity: true)
            discarded = 0
            oversized = false
        default:
            keep(b)
        }
    }

    private mutating func keep(_ b: UInt8) {
        if oversized { discarded += 1; return }
        if payload.count >= maxFrameBytes {
            oversized = true
            discarded = payload.count + 1
            payload = []
            return
        }
        payload.append(b)
    }

    private mutating func finishFrame() {
        inFrame = false
        if oversized {
            events.append(.oversized(count: discarded))
        } else {
            events.append(.frame(payload))
        }
        payload = []
        discarded = 0
        oversized = false
    }
}
