import Crypto

/// The salted commitment to one record version that goes on the ledger:
/// `SHA-256("careledger/record/v1" ‖ salt ‖ SHA-256(canonical bytes))`.
///
/// The 32-byte salt is random per record version and stays off-chain with the record, so nobody can confirm
/// a guessed record from its commitment, and erasing the off-chain row erases the record.
public struct RecordCommitment: Sendable, Hashable, CustomStringConvertible {
    /// The domain-separation tag: 20 UTF-8 bytes, hashed first.
    public static let domainTag = "careledger/record/v1"
    /// Salt length in bytes.
    public static let saltLength = 32

    /// SHA-256 of the record's canonical bytes.
    public let canonicalHash: [UInt8]
    /// The per-version salt.
    public let salt: [UInt8]
    /// The commitment itself.
    public let value: [UInt8]

    /// Computes the commitment; the salt must be ``saltLength`` bytes and the hash 32 bytes.
    public init(canonicalHash: [UInt8], salt: [UInt8]) throws(RecordCommitment.Error) {
        guard salt.count == RecordCommitment.saltLength else { throw Error(reason: "the salt must be 32 bytes, got \(salt.count)") }
        guard canonicalHash.count == SHA256.byteCount else { throw Error(reason: "the canonical hash must be 32 bytes, got \(canonicalHash.count)") }
        self.canonicalHash = canonicalHash
        self.salt = salt
        var h = SHA256()
        h.update(data: Array(RecordCommitment.domainTag.utf8))
        h.update(data: salt)
        h.update(data: canonicalHash)
        value = Array(h.finalize())
    }

    /// Commits to a resource's canonical form with the given salt.
    public init(resource: Resource, salt: [UInt8]) throws(FHIRError) {
        let digest = Array(SHA256.hash(data: try CanonicalForm.bytes(of: resource)))
        do {
            try self.init(canonicalHash: digest, salt: salt)
        } catch {
            throw FHIRError(.unsupportedInput, error.reason)
        }
    }

    /// A fresh random salt. The generator comes in as a value so the core stays free of hidden randomness;
    /// in production pass a `SystemRandomNumberGenerator`.
    public static func freshSalt(using rng: inout some RandomNumberGenerator) -> [UInt8] {
        var salt: [UInt8] = []
        salt.reserveCapacity(saltLength)
        // Eight bytes per draw: a system generator costs a system call per draw, whatever its width.
        for _ in 0..<saltLength / 8 {
            let word: UInt64 = rng.next()
            for shift in stride(from: 0, to: 64, by: 8) { salt.append(UInt8(truncatingIfNeeded: word >> UInt64(shift))) }
        }
        return salt
    }

    /// Whether `canonicalBytes` with this salt gives this commitment (what a verifier checks).
    public func verifies(canonicalBytes: [UInt8]) -> Bool {
        guard let other = try? RecordCommitment(canonicalHash: Array(SHA256.hash(data: canonicalBytes)), salt: salt) else { return false }
        return other.value == value
    }

    public var description: String { Hex.encode(value) }

    /// A malformed commitment input.
    public struct Error: Swift.Error, Sendable, Hashable {
        public let reason: String
    }
}

/// Lowercase hexadecimal, for digests on the command line and in tests.
public enum Hex {
    private static let digits: [UInt8] = Array("0123456789abcdef".utf8)

    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        var out: [UInt8] = []
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes lowercase or uppercase hex; nil if the text is not hex of even length.
    public static func decode(_ text: String) -> [UInt8]? {
        let u = Array(text.utf8)
        guard u.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(u.count / 2)
        var i = 0
        while i < u.count {
            guard let hi = nibble(u[i]), let lo = nibble(u[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
