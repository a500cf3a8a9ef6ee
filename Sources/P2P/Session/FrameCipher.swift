import Crypto

/// One direction of a session: ChaCha20-Poly1305 (RFC 8439) under that direction's key, the nonce 4 zero bytes ‖
/// the frame counter as u64 big-endian. Each frame on the wire is `u32 length ‖ ciphertext ‖ tag`; the length
/// header is the authenticated data. A counter never repeats: at 2⁶⁴ − 1 the direction is exhausted.
struct FrameCipher {
    private let key: SymmetricKey
    /// The next frame's number.
    private(set) var counter: UInt64

    init(key: SymmetricKey, counter: UInt64 = 0) {
        self.key = key
        self.counter = counter
    }

    /// The frame carrying `plaintext`: header ‖ sealed payload.
    mutating func seal(_ plaintext: [UInt8]) throws(P2PError) -> [UInt8] {
        let header = Frame.header(plaintext.count + P2PLimits.tagBytes)
        let nonce = try nextNonce()
        do {
            let box = try ChaChaPoly.seal(plaintext, using: key, nonce: nonce, authenticating: header)
            return header + Array(box.ciphertext) + Array(box.tag)
        } catch {
            throw P2PError(.connectionError, "cannot seal a frame: \(error)")
        }
    }

    /// The plaintext of the frame with this `header` and `sealed` payload (ciphertext ‖ tag), or tamperedFrame.
    mutating func open(_ sealed: [UInt8], header: [UInt8]) throws(P2PError) -> [UInt8] {
        guard sealed.count >= P2PLimits.tagBytes else {
            throw P2PError(.tamperedFrame, "a sealed frame of \(sealed.count) bytes is shorter than its tag")
        }
        let nonce = try nextNonce()
        do {
            let box = try ChaChaPoly.SealedBox(
                nonce: nonce, ciphertext: sealed.dropLast(P2PLimits.tagBytes), tag: sealed.suffix(P2PLimits.tagBytes))
            return Array(try ChaChaPoly.open(box, using: key, authenticating: header))
        } catch {
            throw P2PError(.tamperedFrame, "frame \(counter - 1) failed its authentication tag")
        }
    }

    private mutating func nextNonce() throws(P2PError) -> ChaChaPoly.Nonce {
        guard counter < .max else { throw P2PError(.counterExhausted, "2^64 - 1 frames in one direction: nonces would repeat") }
        var bytes = [UInt8](repeating: 0, count: 4)
        withUnsafeBytes(of: counter.bigEndian) { bytes += $0 }
        counter += 1
        do {
            return try ChaChaPoly.Nonce(data: bytes)
        } catch {
            preconditionFailure("a 12-byte ChaCha20-Poly1305 nonce was refused: \(error)")
        }
    }
}

/// Frame headers: `u32 big-endian length` of what follows.
enum Frame {
    static func header(_ length: Int) -> [UInt8] {
        precondition(length >= 0 && length <= UInt32.max, "frame length \(length) does not fit a u32")
        return withUnsafeBytes(of: UInt32(length).bigEndian, Array.init)
    }

    /// A frame sent in the clear: the handshake's first.
    static func plain(_ payload: [UInt8]) -> [UInt8] { header(payload.count) + payload }
}
