import Crypto

/// An Ed25519 public key: a participant, a validator, a transaction's signer. Encoded as its 32 bytes.
public struct PublicKey: Sendable, Hashable, Comparable, LedgerEncodable, CustomStringConvertible {
    public static let length = 32
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) throws(LedgerDecodingError) {
        guard bytes.count == Self.length else { throw LedgerDecodingError("an Ed25519 public key is 32 bytes, found \(bytes.count)", at: 0) }
        self.bytes = bytes
    }

    /// A key whose 32 bytes come from Crypto itself.
    init(unchecked bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// Whether `signature` is this key's Ed25519 signature of `message`.
    public func verifies(_ signature: [UInt8], over message: [UInt8]) -> Bool {
        guard signature.count == Signature.length, let key = try? Curve25519.Signing.PublicKey(rawRepresentation: bytes) else { return false }
        return key.isValidSignature(signature, for: message)
    }

    public static func < (a: PublicKey, b: PublicKey) -> Bool { a.bytes.lexicographicallyPrecedes(b.bytes) }

    /// Lower-case hex.
    public var description: String { Hex.encode(bytes) }

    public func encode(to writer: inout LedgerWriter) { writer.fixed(bytes) }

    public static func decode(from reader: inout LedgerReader) throws(LedgerDecodingError) -> PublicKey {
        try PublicKey(bytes: reader.fixed(length))
    }
}

/// Transactions whose signature verified on one chain, by hash: the hash binds the signer, the nonce, the body
/// and the signature, so a transaction with a hash seen here carries a signature that verified over the same
/// bytes. A lookup costs one set probe, not re-encoding the transaction to hash its sign bytes. Two generations of
/// ``capacity`` entries each: when the current one fills it becomes the previous one, so recent transactions (a
/// mempool's, a proposal's) are never all forgotten at once.
public struct TransactionSignatureCache: Sendable {
    /// A transaction hash (SHA-256, so its first eight bytes are already uniform: they are all it hashes).
    struct Key: Hashable, Sendable {
        let bytes: [UInt8]
        func hash(into hasher: inout Hasher) {
            var prefix: UInt64 = 0
            for b in bytes.prefix(8) { prefix = prefix << 8 | UInt64(b) }
            hasher.combine(prefix)
        }
        static func == (a: Key, b: Key) -> Bool { a.bytes == b.bytes }
    }
    private var current = Set<Key>()
    private var previous = Set<Key>()
    public var capacity = 65_536

    public init() {}

    public func contains(_ hash: [UInt8]) -> Bool {
        let key = Key(bytes: hash)
        return current.contains(key) || previous.contains(key)
    }

    /// Records a transaction whose signature verified.
    public mutating func insert(_ hash: [UInt8]) {
        if current.count >= capacity {
            previous = current
            current = []
            current.reserveCapacity(capacity)
        }
        current.insert(Key(bytes: hash))
    }
}

/// Signatures already verified, so that checking many receipts of one block verifies its commit and checkpoint
/// once: an entry is SHA-256 of the key, the signature and SHA-256 of the message, added only after the
/// signature verified. Bounded: past ``capacity`` entries it starts over.
public struct SignatureCache: Sendable {
    private var verified = Set<[UInt8]>()
    public var capacity = 65_536

    public init() {}

    public mutating func verify(_ key: PublicKey, _ signature: [UInt8], over message: [UInt8]) -> Bool {
        var h = SHA256()
        h.update(data: key.bytes)
        h.update(data: signature)
        h.update(data: Array(SHA256.hash(data: message)))
        let entry = Array(h.finalize())
        if verified.contains(entry) { return true }
        guard key.verifies(signature, over: message) else { return false }
        if verified.count >= capacity { verified.removeAll(keepingCapacity: true) }
        verified.insert(entry)
        return true
    }
}

/// An Ed25519 signature: 64 bytes.
public enum Signature {
    public static let length = 64
}

/// An Ed25519 private key. Its bytes leave this value only through ``rawRepresentation``, for the key file; it
/// has no description, so it cannot end up in a log by accident.
public struct SigningKey: Sendable {
    private let key: Curve25519.Signing.PrivateKey

    /// A fresh key from the system's secure generator.
    public init() {
        key = Curve25519.Signing.PrivateKey()
    }

    /// The key with this 32-byte seed (RFC 8032's private key).
    public init(seed: [UInt8]) throws(LedgerDecodingError) {
        guard seed.count == 32, let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: seed) else {
            throw LedgerDecodingError("an Ed25519 private key is a 32-byte seed, found \(seed.count) bytes", at: 0)
        }
        self.key = key
    }

    /// The 32-byte seed, for writing the key file.
    public var rawRepresentation: [UInt8] { Array(key.rawRepresentation) }

    public var publicKey: PublicKey {
        PublicKey(unchecked: Array(key.publicKey.rawRepresentation))
    }

    /// The Ed25519 signature of `message` (deterministic, RFC 8032).
    public func sign(_ message: [UInt8]) throws -> [UInt8] {
        Array(try key.signature(for: message))
    }
}

/// Lower-case hexadecimal.
public enum Hex {
    public static func encode(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    public static func decode(_ s: String) -> [UInt8]? {
        let u = Array(s.utf8)
        guard u.count % 2 == 0 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: c - 48
            case 97...102: c - 87
            case 65...70: c - 55
            default: nil
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(u.count / 2)
        var i = 0
        while i < u.count {
            guard let h = nibble(u[i]), let l = nibble(u[i + 1]) else { return nil }
            out.append(h << 4 | l)
            i += 2
        }
        return out
    }
}

/// How signatures are checked: directly, or (a simulation of many validators, a verifier of many receipts)
/// through a cache of results already computed. Verification is a pure function, so either gives the same answers.
public struct SignatureVerifier: Sendable {
    public let verify: @Sendable (PublicKey, [UInt8], [UInt8]) -> Bool
    /// Checks a transaction's signature on a chain: by default `verify` over its sign bytes.
    public let verifyTransaction: @Sendable (Transaction, String) -> Bool

    public init(_ verify: @escaping @Sendable (PublicKey, [UInt8], [UInt8]) -> Bool) {
        self.verify = verify
        verifyTransaction = { tx, chainId in verify(tx.signer, tx.signature, tx.signBytes(chainId: chainId)) }
    }

    /// A verifier that checks transactions through `transactions` (a node's cache keyed by transaction hash).
    public init(_ verify: @escaping @Sendable (PublicKey, [UInt8], [UInt8]) -> Bool,
                transactions: @escaping @Sendable (Transaction, String) -> Bool) {
        self.verify = verify
        verifyTransaction = transactions
    }

    public static let direct = SignatureVerifier { $0.verifies($1, over: $2) }
}
