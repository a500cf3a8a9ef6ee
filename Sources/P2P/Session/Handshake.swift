import Crypto
import Ledger

/// The handshake of docs/p2p.md as a state machine without I/O: frames' payloads in, frames out.
///
/// 1. Each side sends its ephemeral X25519 key in the clear (``hello``).
/// 2. From the shared secret, HKDF-SHA256 salted with the transcript hash (protocol label, chain id, both
///    ephemeral keys in sorted order) gives one ChaCha20-Poly1305 key per direction and a 32-byte challenge.
/// 3. Each side sends, sealed, its node key and its signature of the challenge; the receiver checks the signature,
///    the allowed set, that the key is not its own and, when it dialed, that it is the key it expected.
struct Handshake {
    /// What the caller does next.
    enum Step {
        /// Send this frame (the sealed authentication).
        case send([UInt8])
        /// The peer proved `peer`: the session is open with these ciphers.
        case established(peer: PublicKey, sender: FrameCipher, receiver: FrameCipher)
    }

    private enum State {
        case awaitingHello
        case awaitingAuthentication(sender: FrameCipher, receiver: FrameCipher, challenge: [UInt8])
        case done
    }

    private let chainId: String
    private let key: SigningKey
    private let allowed: Set<PublicKey>
    private let expected: PublicKey?
    private let ephemeral: Curve25519.KeyAgreement.PrivateKey
    private var state = State.awaitingHello

    /// `expected` is the key of the peer this side dialed; nil for a connection it accepted.
    init(chainId: String, key: SigningKey, allowed: Set<PublicKey>, expected: PublicKey?,
         ephemeral: Curve25519.KeyAgreement.PrivateKey = .init()) {
        self.chainId = chainId
        self.key = key
        self.allowed = allowed
        self.expected = expected
        self.ephemeral = ephemeral
    }

    /// The first frame: this side's ephemeral public key.
    var hello: [UInt8] { Frame.plain(Array(ephemeral.publicKey.rawRepresentation)) }

    /// The longest payload the next frame may carry.
    var maxPayload: Int {
        switch state {
        case .awaitingHello: P2PLimits.ephemeralKeyBytes
        case .awaitingAuthentication, .done: P2PLimits.authenticationBytes + P2PLimits.tagBytes
        }
    }

    /// Takes the next frame from the peer: its `header` and `payload`.
    mutating func receive(_ payload: [UInt8], header: [UInt8]) throws(P2PError) -> Step {
        switch state {
        case .awaitingHello:
            return try receiveHello(payload)
        case .awaitingAuthentication(let sender, var receiver, let challenge):
            state = .done
            let plaintext: [UInt8]
            do {
                plaintext = try receiver.open(payload, header: header)
            } catch {
                throw P2PError(.authenticationFailed,
                               "the peer's authentication did not open: another chain id or protocol version, or tampering",
                               peer: expected)
            }
            return .established(peer: try authenticate(plaintext, challenge: challenge), sender: sender, receiver: receiver)
        case .done:
            preconditionFailure("the handshake received a frame after it finished")
        }
    }

    private mutating func receiveHello(_ payload: [UInt8]) throws(P2PError) -> Step {
        let ours = Array(ephemeral.publicKey.rawRepresentation)
        guard payload.count == P2PLimits.ephemeralKeyBytes,
              let theirs = try? Curve25519.KeyAgreement.PublicKey(rawRepresentation: payload) else {
            throw P2PError(.malformedHandshake, "the first frame must be a 32-byte X25519 key, found \(payload.count) bytes",
                           peer: expected)
        }
        guard payload != ours else {
            throw P2PError(.malformedHandshake, "the peer sent back this side's own ephemeral key", peer: expected)
        }
        guard let shared = try? ephemeral.sharedSecretFromKeyAgreement(with: theirs),
              !shared.withUnsafeBytes({ $0.allSatisfy { $0 == 0 } }) else {
            throw P2PError(.malformedHandshake, "the peer's ephemeral key is a low-order point", peer: expected)
        }

        // The transcript hash: label ‖ u32 length ‖ chain id ‖ lower ephemeral key ‖ higher one.
        let weAreLow = ours.lexicographicallyPrecedes(payload)
        let chain = Array(chainId.utf8)
        var transcript = SHA256()
        transcript.update(data: P2PLimits.protocolLabel)
        transcript.update(data: Frame.header(chain.count))
        transcript.update(data: chain)
        transcript.update(data: weAreLow ? ours : payload)
        transcript.update(data: weAreLow ? payload : ours)

        // 96 bytes: the low side's sending key, the high side's sending key, the challenge.
        let okm = shared.hkdfDerivedSymmetricKey(
            using: SHA256.self, salt: Array(transcript.finalize()), sharedInfo: P2PLimits.protocolLabel, outputByteCount: 96
        ).withUnsafeBytes { Array($0) }
        let lowKey = SymmetricKey(data: okm[0..<32]), highKey = SymmetricKey(data: okm[32..<64])
        var sender = FrameCipher(key: weAreLow ? lowKey : highKey)
        let receiver = FrameCipher(key: weAreLow ? highKey : lowKey)
        let challenge = Array(okm[64..<96])

        let signature: [UInt8]
        do {
            signature = try key.sign(P2PLimits.challengeLabel + challenge)
        } catch {
            throw P2PError(.authenticationFailed, "cannot sign the challenge: \(error)", peer: expected)
        }
        let frame = try sender.seal(key.publicKey.bytes + signature)
        state = .awaitingAuthentication(sender: sender, receiver: receiver, challenge: challenge)
        return .send(frame)
    }

    /// The peer's key, once its signature, membership and identity are checked.
    private func authenticate(_ plaintext: [UInt8], challenge: [UInt8]) throws(P2PError) -> PublicKey {
        guard plaintext.count == P2PLimits.authenticationBytes,
              let peer = try? PublicKey(bytes: Array(plaintext.prefix(PublicKey.length))) else {
            throw P2PError(.malformedHandshake, "the authentication must be 96 bytes, found \(plaintext.count)", peer: expected)
        }
        let signature = Array(plaintext.suffix(Signature.length))
        guard peer.verifies(signature, over: P2PLimits.challengeLabel + challenge) else {
            throw P2PError(.authenticationFailed, "the signature of the challenge does not verify", peer: peer)
        }
        guard peer != key.publicKey else {
            throw P2PError(.selfConnection, "the peer is this node itself", peer: peer)
        }
        guard allowed.contains(peer) else {
            throw P2PError(.notAllowed, "the peer's key is not in the allowed set", peer: peer)
        }
        if let expected, peer != expected {
            throw P2PError(.unexpectedPeer, "dialed \(expected) but the peer proved another key", peer: peer)
        }
        return peer
    }
}
