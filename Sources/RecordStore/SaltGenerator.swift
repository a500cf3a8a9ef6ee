import Crypto

/// Salts for many record versions at the cost of one system call: a ChaCha20 keystream under a fresh 256-bit key
/// from the system generator, drawn in 16 KiB blocks (sealing zeros with ChaChaPoly under a counter nonce). Its
/// output is as unpredictable as the key; the key lives only in this value and is never written anywhere.
///
/// `SystemRandomNumberGenerator` costs a `getrandom` call per 8 bytes: four per salt, which showed in the import
/// profile.
struct SaltGenerator: RandomNumberGenerator {
    private let key: SymmetricKey
    private var counter: UInt64 = 0
    private var block: [UInt8] = []
    private var offset = 0
    static let blockSize = 16 * 1024

    init() {
        var system = SystemRandomNumberGenerator()
        var bytes: [UInt8] = []
        for _ in 0..<4 {
            let word: UInt64 = system.next()
            for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: word >> UInt64(shift))) }
        }
        key = SymmetricKey(data: bytes)
    }

    mutating func next() -> UInt64 {
        if offset + 8 > block.count { refill() }
        var word: UInt64 = 0
        for i in 0..<8 { word |= UInt64(block[offset + i]) << UInt64(8 * i) }
        offset += 8
        return word
    }

    private mutating func refill() {
        // A 96-bit nonce that never repeats under this key: zero padding, then the block counter.
        var nonceBytes = [UInt8](repeating: 0, count: 4)
        for shift in stride(from: 0, to: 64, by: 8) { nonceBytes.append(UInt8(truncatingIfNeeded: counter >> UInt64(shift))) }
        counter += 1
        let zeros = [UInt8](repeating: 0, count: Self.blockSize)
        // Sealing cannot fail for a 12-byte nonce and a 256-bit key; were it to, fall back to the system generator.
        if let nonce = try? ChaChaPoly.Nonce(data: nonceBytes), let box = try? ChaChaPoly.seal(zeros, using: key, nonce: nonce) {
            block = Array(box.ciphertext)
        } else {
            var system = SystemRandomNumberGenerator()
            block = (0..<Self.blockSize / 8).flatMap { _ -> [UInt8] in
                let w: UInt64 = system.next()
                return (0..<8).map { UInt8(truncatingIfNeeded: w >> UInt64(8 * $0)) }
            }
        }
        offset = 0
    }
}
