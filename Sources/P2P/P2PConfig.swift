public import Ledger

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Who a node is on the validators' network, whom it accepts, where it listens, and its limits.
public struct P2PConfig: Sendable {
    /// The chain id, bound into every handshake: nodes of different chains cannot connect.
    public var chainId: String
    /// This node's identity: its validator key. Only its public half and signatures leave the node.
    public var key: SigningKey
    /// The node keys accepted as peers: the chain's validators. This node's own key may be in it.
    public var allowed: Set<PublicKey>
    /// The address the listener binds.
    public var listenHost: String = "127.0.0.1"
    /// The port the listener binds; 0 picks a free port (``P2PNode/port`` tells which).
    public var listenPort: Int = 0
    /// The largest message sent or accepted; a peer announcing a longer frame is disconnected.
    public var maxFrameBytes: Int = 4 << 20
    /// Bytes queued for one peer beyond which its connection is dropped (and redialed), so a slow peer cannot
    /// hold the sender's memory or stall the others.
    public var maxBufferedBytes: Int = 64 << 20
    /// Connecting, and then the handshake, must each finish within this, or the connection is closed.
    public var handshakeTimeout: Duration = .seconds(10)
    /// Receives the reason each time a connection is refused or dropped, or a dial fails. Standard error unless
    /// set. The reasons name peers by public key and address, never by private material.
    public var log: @Sendable (P2PError) -> Void = P2PConfig.logToStandardError

    public init(chainId: String, key: SigningKey, allowed: Set<PublicKey>) {
        self.chainId = chainId
        self.key = key
        self.allowed = allowed
    }

    /// Writes `p2p: <error>` and a newline to standard error.
    public static let logToStandardError: @Sendable (P2PError) -> Void = { error in
        let line = Array("p2p: \(error)\n".utf8)
        _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    }
}

/// The protocol's constants and the dialer's timings, in one place (docs/p2p.md).
enum P2PLimits {
    /// Bound into the key derivation and the signed challenge: a different version cannot complete a handshake.
    static let protocolLabel = Array("careledger-p2p-v1".utf8)
    /// Prefixed to the challenge before signing, so the signature means nothing outside this handshake.
    static let challengeLabel = Array("careledger-p2p-v1 challenge".utf8)
    /// A frame starts with its length: u32 big-endian.
    static let headerBytes = 4
    /// The ChaCha20-Poly1305 tag after each sealed payload.
    static let tagBytes = 16
    /// An X25519 public key: the first frame's payload.
    static let ephemeralKeyBytes = 32
    /// The node key and its signature of the challenge: the second frame's plaintext.
    static let authenticationBytes = PublicKey.length + Signature.length
    /// The first frame (header ‖ ephemeral key) on the wire.
    static let helloFrameBytes = headerBytes + ephemeralKeyBytes
    /// The second frame (header ‖ sealed authentication) on the wire.
    static let authenticationFrameBytes = headerBytes + authenticationBytes + tagBytes
    /// A dialer waits this long before its first redial, doubling up to ``maxRedial``.
    static let firstRedial: Duration = .milliseconds(50)
    static let maxRedial: Duration = .seconds(2)
    /// A session that lasted at least this long resets the dialer's backoff; a shorter one (a peer that accepts
    /// the handshake and drops us) keeps doubling it.
    static let stableSession: Duration = .seconds(2)
    /// Pending connections the listening socket queues.
    static let backlog: Int32 = 256
}
