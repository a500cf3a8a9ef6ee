import Crypto
import Ledger
import NIOCore
import Testing
@testable import P2P

/// The handshake and framing as state machines, with no sockets: two sides hand each other bytes.
@Suite struct SessionProtocol {
    /// Both sides after handing each other every frame until neither has more to say, and what each did.
    struct Run {
        var a: SessionStateMachine
        var b: SessionStateMachine
        var aActions: [SessionStateMachine.Action] = []
        var bActions: [SessionStateMachine.Action] = []
        /// Every byte a wrote, in order.
        var aWrote: [UInt8] = []

        init(_ a: SessionStateMachine, _ b: SessionStateMachine, tamper: (inout [UInt8]) -> Void = { _ in }) {
            self.a = a
            self.b = b
            var toB = a.hello, toA = b.hello
            aWrote = toB
            while !toA.isEmpty || !toB.isEmpty {
                tamper(&toB)
                var bytes = ByteBuffer(bytes: toB)
                toB = []
                for action in self.b.receive(&bytes) {
                    if case .write(let frame) = action { toA += frame }
                    bActions.append(action)
                }
                bytes = ByteBuffer(bytes: toA)
                toA = []
                for action in self.a.receive(&bytes) {
                    if case .write(let frame) = action { toB += frame; aWrote += frame }
                    aActions.append(action)
                }
            }
        }
    }

    static func side(_ key: SigningKey, allowed: [SigningKey], expected: PublicKey? = nil, chainId: String = "chain",
                     maxFrameBytes: Int = 1 << 20) -> SessionStateMachine {
        SessionStateMachine(
            Handshake(chainId: chainId, key: key, allowed: Set(allowed.map(\.publicKey)), expected: expected),
            maxFrameBytes: maxFrameBytes)
    }

    static func established(_ actions: [SessionStateMachine.Action]) -> PublicKey? {
        for case .established(let peer) in actions { return peer }
        return nil
    }

    static func closed(_ actions: [SessionStateMachine.Action]) -> P2PError? {
        for case .close(let error) in actions { return error }
        return nil
    }

    static func delivered(_ actions: [SessionStateMachine.Action]) -> [[UInt8]] {
        actions.compactMap { if case .deliver(let message) = $0 { message } else { nil } }
    }

    @Test func bothSidesProveTheirKeysAndExchangeSealedMessages() throws {
        let k = try keys(2)
        var run = Run(Self.side(k[0], allowed: k, expected: k[1].publicKey), Self.side(k[1], allowed: k))
        #expect(Self.established(run.aActions) == k[1].publicKey)
        #expect(Self.established(run.bActions) == k[0].publicKey)
        #expect(run.aWrote.count == P2PLimits.helloFrameBytes + P2PLimits.authenticationFrameBytes)
        #expect(run.aWrote.prefix(4) == [0, 0, 0, 32])
        #expect(run.a.isOpen && run.b.isOpen)

        // Several frames in one read, and one frame split across reads.
        let frames = try [[UInt8](), [1, 2, 3], [UInt8](repeating: 7, count: 100_000)].map { try run.a.seal($0) }
        #expect(frames.map(\.count) == [20, 23, 100_020])
        #expect(frames[1].prefix(4) == [0, 0, 0, 19])
        #expect(frames[1][4...].starts(with: [1, 2, 3]) == false)  // not in the clear
        let wire = frames.flatMap { $0 }
        var first = ByteBuffer(bytes: wire[..<50_000]), rest = ByteBuffer(bytes: wire[50_000...])
        let early = run.b.receive(&first)
        #expect(Self.delivered(early) == [[], [1, 2, 3]])
        #expect(Self.delivered(run.b.receive(&rest)) == [[UInt8](repeating: 7, count: 100_000)])

        var reply = ByteBuffer(bytes: try run.b.seal([9]))
        #expect(Self.delivered(run.a.receive(&reply)) == [[9]])
    }

    @Test func differentChainIdsCannotOpenEachOthersAuthentication() throws {
        let k = try keys(2)
        let run = Run(Self.side(k[0], allowed: k, chainId: "chain-a"), Self.side(k[1], allowed: k, chainId: "chain-b"))
        #expect(Self.closed(run.aActions)?.code == .authenticationFailed)
        #expect(Self.closed(run.bActions)?.code == .authenticationFailed)
        #expect(Self.established(run.aActions) == nil && Self.established(run.bActions) == nil)
    }

    @Test func keysOutsideTheAllowedSetOrOtherThanExpectedOrOwnAreRefused() throws {
        let k = try keys(3)
        let outsider = Run(Self.side(k[0], allowed: k), Self.side(k[1], allowed: [k[1]]))
        #expect(Self.closed(outsider.bActions).map { [$0.code: $0.peer] } == [.notAllowed: k[0].publicKey])
        #expect(Self.established(outsider.aActions) == k[1].publicKey)  // a learns of the refusal when b closes

        let impostor = Run(Self.side(k[0], allowed: k, expected: k[2].publicKey), Self.side(k[1], allowed: k))
        #expect(Self.closed(impostor.aActions).map { [$0.code: $0.peer] } == [.unexpectedPeer: k[1].publicKey])

        let mirror = Run(Self.side(k[0], allowed: k), Self.side(k[0], allowed: k))
        #expect(Self.closed(mirror.aActions)?.code == .selfConnection)
    }

    @Test func aFlippedBitInAnyFrameIsDetected() throws {
        let k = try keys(2)
        // In the authentication frame.
        let inHandshake = Run(Self.side(k[0], allowed: k), Self.side(k[1], allowed: k)) { bytes in
            if bytes.count == P2PLimits.authenticationFrameBytes { bytes[40] ^= 0x80 }
        }
        #expect(Self.closed(inHandshake.bActions)?.code == .authenticationFailed)

        // In a message, in its length header, and a replayed frame.
        var run = Run(Self.side(k[0], allowed: k), Self.side(k[1], allowed: k))
        let frame = try run.a.seal([1, 2, 3, 4])
        for damage in [{ (f: inout [UInt8]) in f[6] ^= 1 }, { f in f[f.count - 1] ^= 0x10 }] {
            var copy = run.b
            var bytes = frame
            damage(&bytes)
            var buffer = ByteBuffer(bytes: bytes)
            #expect(Self.closed(copy.receive(&buffer)).map { [$0.code: $0.peer] } == [.tamperedFrame: k[0].publicKey])
        }
        var twice = ByteBuffer(bytes: frame + frame)
        let actions = run.b.receive(&twice)
        #expect(Self.delivered(actions) == [[1, 2, 3, 4]])
        #expect(Self.closed(actions)?.code == .tamperedFrame)
        var after = ByteBuffer(bytes: try run.a.seal([5]))
        #expect(run.b.receive(&after).isEmpty)  // closed: reads nothing more
    }

    @Test func anOversizedLengthClosesBeforeThePayloadArrives() throws {
        let k = try keys(2)
        var listener = Self.side(k[1], allowed: k)
        var header = ByteBuffer(bytes: Frame.header(33))
        #expect(Self.closed(listener.receive(&header))?.code == .frameTooLarge)

        var run = Run(Self.side(k[0], allowed: k), Self.side(k[1], allowed: k, maxFrameBytes: 1000))
        var atLimit = ByteBuffer(bytes: Frame.header(1000 + P2PLimits.tagBytes))
        #expect(run.b.receive(&atLimit).isEmpty)  // waits for the payload
        var run2 = Run(Self.side(k[0], allowed: k), Self.side(k[1], allowed: k, maxFrameBytes: 1000))
        var over = ByteBuffer(bytes: Frame.header(1001 + P2PLimits.tagBytes))
        #expect(Self.closed(run2.b.receive(&over))?.code == .frameTooLarge)
        #expect(throws: P2PError.self) { try run2.b.seal([UInt8](repeating: 0, count: 1001)) }
        _ = run
    }

    @Test func aMalformedOrReflectedHelloIsRefused() throws {
        let k = try keys(2)
        var short = Self.side(k[1], allowed: k)
        var bytes = ByteBuffer(bytes: Frame.plain([UInt8](repeating: 1, count: 31)))
        #expect(Self.closed(short.receive(&bytes))?.code == .malformedHandshake)

        var reflected = Self.side(k[1], allowed: k)
        bytes = ByteBuffer(bytes: reflected.hello)
        #expect(Self.closed(reflected.receive(&bytes))?.code == .malformedHandshake)

        var lowOrder = Self.side(k[1], allowed: k)
        bytes = ByteBuffer(bytes: Frame.plain([UInt8](repeating: 0, count: 32)))  // the identity point
        #expect(Self.closed(lowOrder.receive(&bytes))?.code == .malformedHandshake)
    }

    @Test func aDirectionsCounterStopsBeforeItsNonceWouldRepeat() throws {
        let key = SymmetricKey(size: .bits256)
        var sender = FrameCipher(key: key, counter: .max - 1)
        var receiver = FrameCipher(key: key, counter: .max - 1)
        let last = try sender.seal([42])
        #expect(try receiver.open(Array(last[4...]), header: Array(last[..<4])) == [42])
        #expect(sender.counter == .max)
        #expect(throws: P2PError.self) { try sender.seal([43]) }
        #expect(throws: P2PError.self) { try receiver.open(Array(last[4...]), header: Array(last[..<4])) }
        do {
            _ = try sender.seal([43])
        } catch {
            #expect(error.code == .counterExhausted)
        }
    }
}
