public import Ledger

/// Why a connection was refused or dropped, or a dial or the listener failed.
public struct P2PError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of failure. New codes can be added without breaking callers.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable, Hashable {
            case bindFailed, unreachable, refused, malformedHandshake, authenticationFailed, notAllowed,
                unexpectedPeer, selfConnection, handshakeTimeout, closedDuringHandshake, duplicateSession,
                tamperedFrame, frameTooLarge, counterExhausted, slowPeer, connectionError
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The listener could not bind its host and port.
        public static let bindFailed = Code(.bindFailed)
        /// A dial found nothing accepting connections at the peer's address.
        public static let unreachable = Code(.unreachable)
        /// This node is stopped or disconnected (``P2PNode/disconnectAll()``) and closed a new connection.
        public static let refused = Code(.refused)
        /// A handshake frame of the wrong size, or an unusable or reflected ephemeral key.
        public static let malformedHandshake = Code(.malformedHandshake)
        /// The peer's authentication did not open (another chain id or protocol version, or tampering), or its
        /// signature of the challenge did not verify.
        public static let authenticationFailed = Code(.authenticationFailed)
        /// The peer proved a key that is not in the allowed set.
        public static let notAllowed = Code(.notAllowed)
        /// The dialed peer proved a key other than the one it was dialed for.
        public static let unexpectedPeer = Code(.unexpectedPeer)
        /// The peer proved this node's own key.
        public static let selfConnection = Code(.selfConnection)
        /// Connecting and the handshake took longer than ``P2PConfig/handshakeTimeout``.
        public static let handshakeTimeout = Code(.handshakeTimeout)
        /// The peer closed the connection before the handshake finished (typically: it refused us).
        public static let closedDuringHandshake = Code(.closedDuringHandshake)
        /// A second session with a peer: one of the two is closed, the same one at both ends.
        public static let duplicateSession = Code(.duplicateSession)
        /// A frame failed its authentication tag: it was altered, reordered or replayed in transit.
        public static let tamperedFrame = Code(.tamperedFrame)
        /// A frame longer than ``P2PConfig/maxFrameBytes`` (or than a handshake frame) was announced.
        public static let frameTooLarge = Code(.frameTooLarge)
        /// A direction's frame counter reached 2⁶⁴ − 1: its nonces would repeat.
        public static let counterExhausted = Code(.counterExhausted)
        /// More than ``P2PConfig/maxBufferedBytes`` waited to be written to the peer.
        public static let slowPeer = Code(.slowPeer)
        /// The socket failed (reset, broken pipe).
        public static let connectionError = Code(.connectionError)

        public var description: String { base.rawValue }
    }

    /// The kind of failure.
    public let code: Code
    /// What happened.
    public let reason: String
    /// The peer's key, when known (proven or expected).
    public var peer: PublicKey?
    /// The remote address, `host:port`, when known.
    public var address: String?

    public init(_ code: Code, _ reason: String, peer: PublicKey? = nil, address: String? = nil) {
        self.code = code
        self.reason = reason
        self.peer = peer
        self.address = address
    }

    public var description: String {
        var text = "\(code): \(reason)"
        if let peer { text += " (peer \(peer)" + (address.map { ", \($0))" } ?? ")") }
        else if let address { text += " (\(address))" }
        return text
    }
}
