import Ledger
import NIOCore

/// One connection's protocol without I/O: the handshake, then sealed frames both ways. ``SessionHandler`` feeds it
/// the bytes it reads and performs the actions it returns (the postgres-nio shape).
struct SessionStateMachine {
    enum Action {
        /// Write this frame.
        case write([UInt8])
        /// The handshake proved the peer's key; messages follow.
        case established(PublicKey)
        /// A message from the peer.
        case deliver([UInt8])
        /// Close the connection for this reason; nothing more is read.
        case close(P2PError)
    }

    private enum State {
        case handshaking(Handshake)
        case open(peer: PublicKey, sender: FrameCipher, receiver: FrameCipher)
        case closed
    }

    private var state: State
    private var inbound = ByteBuffer()
    private let maxFrameBytes: Int

    init(_ handshake: Handshake, maxFrameBytes: Int) {
        state = .handshaking(handshake)
        self.maxFrameBytes = maxFrameBytes
    }

    /// The first frame to write: this side's ephemeral key.
    var hello: [UInt8] {
        guard case .handshaking(let handshake) = state else { preconditionFailure("hello after the handshake") }
        return handshake.hello
    }

    var isOpen: Bool {
        if case .open = state { true } else { false }
    }

    /// Takes bytes read from the socket; returns what to do, in order.
    mutating func receive(_ bytes: inout ByteBuffer) -> [Action] {
        if case .closed = state { return [] }
        inbound.writeBuffer(&bytes)
        var actions: [Action] = []
        while let length = inbound.getInteger(at: inbound.readerIndex, as: UInt32.self) {
            let limit = switch state {
            case .handshaking(let handshake): handshake.maxPayload
            case .open, .closed: maxFrameBytes + P2PLimits.tagBytes
            }
            guard Int(length) <= limit else {
                return actions + [fail(P2PError(.frameTooLarge, "a frame of \(length) bytes exceeds the limit of \(limit)", peer: peer))]
            }
            guard inbound.readableBytes >= P2PLimits.headerBytes + Int(length),
                  let header = inbound.readBytes(length: P2PLimits.headerBytes),
                  let payload = inbound.readBytes(length: Int(length)) else { break }
            do {
                switch state {
                case .handshaking(var handshake):
                    switch try handshake.receive(payload, header: header) {
                    case .send(let frame):
                        state = .handshaking(handshake)
                        actions.append(.write(frame))
                    case .established(let peer, let sender, let receiver):
                        state = .open(peer: peer, sender: sender, receiver: receiver)
                        actions.append(.established(peer))
                    }
                case .open(let peer, let sender, var receiver):
                    let message = try receiver.open(payload, header: header)
                    state = .open(peer: peer, sender: sender, receiver: receiver)
                    actions.append(.deliver(message))
                case .closed:
                    break
                }
            } catch {
                return actions + [fail(error)]
            }
        }
        if inbound.readableBytes == 0 { inbound.clear() } else if inbound.readerIndex > 1 << 20 { inbound.discardReadBytes() }
        return actions
    }

    /// The frame carrying `message`, once the session is open.
    mutating func seal(_ message: [UInt8]) throws(P2PError) -> [UInt8] {
        guard case .open(let peer, var sender, let receiver) = state else {
            throw P2PError(.refused, "no message can be sent before the handshake finishes")
        }
        guard message.count <= maxFrameBytes else {
            throw P2PError(.frameTooLarge, "a message of \(message.count) bytes exceeds the limit of \(maxFrameBytes)", peer: peer)
        }
        let frame = try sender.seal(message)
        state = .open(peer: peer, sender: sender, receiver: receiver)
        return frame
    }

    private var peer: PublicKey? {
        if case .open(let peer, _, _) = state { peer } else { nil }
    }

    private mutating func fail(_ error: P2PError) -> Action {
        var error = error
        if error.peer == nil { error.peer = peer }
        state = .closed
        inbound.clear()
        return .close(error)
    }
}
