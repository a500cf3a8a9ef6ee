import HL7v2
import Testing

/// The MLLP session without sockets: bytes and clock readings in, actions out (issue 16 item 8). Times are injected,
/// so the deadlines are exact.
@Suite struct MLLPSessionTests {
    static let timeouts = MLLPSession.Timeouts(frame: .seconds(10), idle: .seconds(300))
    static let message = Array("MSH|^~\\&|A|B|||||ADT^A01|1|P|2.5\rPID|1\r".utf8)

    static func session(at opened: Duration = .zero) -> MLLPSession {
        MLLPSession(timeouts: timeouts, maxFrameBytes: 1_000, openedAt: opened)
    }

    /// Slowloris: one byte a second never completes a frame, and the frame's deadline does not move with it.
    @Test func aFrameThatTricklesInIsClosedAtItsDeadlineHoweverSteadilyItsBytesArrive() {
        var session = Self.session()
        #expect(session.deadline == .seconds(300))   // idle until the first byte
        var actions: [MLLPSession.Action] = []
        var second = 0
        for byte in [MLLPFramer.startBlock] + Self.message {
            second += 1
            actions = session.received([byte], at: .seconds(second))
            if !actions.isEmpty { break }
            #expect(session.deadline == .seconds(11), "the deadline moved at second \(second)")
        }
        #expect(second == 11)
        #expect(actions == [.close(.frameTimeout(pendingBytes: 9))])
        #expect(session.isClosed)
        #expect(session.deadline == nil)
        #expect(session.received(MLLPFramer.frame(Self.message), at: .seconds(12)) == [])
    }

    /// A sender may open its connection long before its first message, as interface engines do: the opening is
    /// idle time, not a frame.
    @Test func aConnectionThatSendsNothingIsClosedWhenIdleForTheIdleTimeout() {
        var session = Self.session(at: .seconds(100))
        #expect(session.deadline == .seconds(400))
        #expect(session.tick(at: .seconds(399)) == nil)
        #expect(session.received(MLLPFramer.frame(Self.message), at: .seconds(399)) == [.deliver(Self.message)])
        session.answered(at: .seconds(399))
        #expect(session.tick(at: .seconds(698)) == nil)
        #expect(session.tick(at: .seconds(699)) == .close(.idle))
        #expect(session.tick(at: .seconds(700)) == nil)
    }

    /// While a message is being answered the listener may read nothing (back-pressure): a frame begun meanwhile is
    /// timed from the answer, and nothing closes a connection that is owed an answer.
    @Test func aFrameBegunWhileTheLastIsAnsweredIsTimedFromTheAnswer() {
        var session = Self.session()
        let next = [MLLPFramer.startBlock] + Self.message.prefix(3)
        #expect(session.received(MLLPFramer.frame(Self.message) + next, at: .seconds(1)) == [.deliver(Self.message)])
        #expect(session.deadline == nil)
        #expect(session.tick(at: .seconds(500)) == nil)
        session.answered(at: .seconds(500))
        #expect(session.deadline == .seconds(510))
        #expect(session.tick(at: .seconds(510)) == .close(.frameTimeout(pendingBytes: 3)))
    }

    /// After the first frame, a frame's clock starts at its first byte; between frames, with every message answered,
    /// the idle timeout applies, and stray CR/LF are not activity.
    @Test func eachFrameHasItsOwnDeadlineAndSilenceBetweenFramesIsIdle() {
        var session = Self.session()
        #expect(session.received(MLLPFramer.frame(Self.message), at: .seconds(9)) == [.deliver(Self.message)])
        // Being answered: the connection is busy, not idle, and has no deadline (the store may be slow).
        #expect(session.deadline == nil)
        #expect(session.tick(at: .seconds(1_000)) == nil)
        session.answered(at: .seconds(1_000))
        #expect(session.deadline == .seconds(1_300))
        #expect(session.received([0x0D, 0x0A], at: .seconds(1_200)) == [])
        #expect(session.deadline == .seconds(1_300))
        // The second frame starts at 1,250 and must end by 1,260.
        #expect(session.received([MLLPFramer.startBlock] + Self.message.prefix(5), at: .seconds(1_250)) == [])
        #expect(session.deadline == .seconds(1_260))
        let rest = Array(Self.message.dropFirst(5)) + [MLLPFramer.endBlock, MLLPFramer.carriageReturn]
        #expect(session.received(rest, at: .seconds(1_259)) == [.deliver(Self.message)])
        session.answered(at: .seconds(1_259))
        #expect(session.tick(at: .seconds(1_558)) == nil)
        #expect(session.tick(at: .seconds(1_559)) == .close(.idle))
    }

    /// A new start byte inside a frame drops the unterminated one but does not restart the clock; bytes outside any
    /// frame start it too.
    @Test func restartingAFrameOrSendingNoiseDoesNotBuyTime() {
        var session = Self.session()
        #expect(session.received(MLLPFramer.frame(Self.message), at: .seconds(1)) == [.deliver(Self.message)])
        session.answered(at: .seconds(1))
        #expect(session.received(Array("noise".utf8), at: .seconds(2)) == [])
        #expect(session.deadline == .seconds(12))
        #expect(session.received([MLLPFramer.startBlock, 0x41], at: .seconds(5)) == [.skipped(count: 5)])
        #expect(session.received([MLLPFramer.startBlock, 0x42], at: .seconds(8)) == [.dropped(count: 1)])
        #expect(session.deadline == .seconds(12))
        #expect(session.received([0x43], at: .seconds(12)) == [.close(.frameTimeout(pendingBytes: 1))])
    }

    @Test func anOversizedFrameIsRefusedAndMustBeAnsweredLikeAMessage() {
        var session = MLLPSession(timeouts: Self.timeouts, maxFrameBytes: 4, openedAt: .zero)
        let actions = session.received(MLLPFramer.frame(Self.message) + MLLPFramer.frame([0x41]), at: .seconds(1))
        #expect(actions == [.refuseOversized(count: Self.message.count), .deliver([0x41])])
        session.answered(at: .seconds(2))
        #expect(session.deadline == nil)    // one answer still owed
        session.answered(at: .seconds(3))
        #expect(session.deadline == .seconds(303))
    }

    /// Frames split anywhere come out whole, whatever the pieces, as long as they arrive in time.
    @Test func framesSplitAtEveryByteAreDeliveredWhole() {
        let stream = MLLPFramer.frame(Self.message) + MLLPFramer.frame(Self.message)
        for cut in 1..<stream.count {
            var session = Self.session()
            let actions = session.received(stream[..<cut], at: .seconds(1)) + session.received(stream[cut...], at: .seconds(2))
            #expect(actions == [.deliver(Self.message), .deliver(Self.message)], "cut at \(cut)")
        }
    }
}
