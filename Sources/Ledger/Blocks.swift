import Crypto

/// A validator and its voting power (its bonded stake).
public struct Validator: LedgerEncodable, Hashable {
    public var key: PublicKey
    public var power: UInt64

    public init(key: PublicKey, power: UInt64) {
        self.key = key
        self.power = power
    }

    public func encode(to w: inout LedgerWriter) {
        w.value(key)
        w.u64(power)
    }

    public static func decode(from r: inout LedgerReader) throws(LedgerDecodingError) -> Validator {
        Validator(key: try r.value(), power: try r.u64())
    }
}

/// A validator set, kept sorted by key so that it has one hash.
public struct ValidatorSet: Sendable, Hashable {
    public private(set) var validators: [Validator]

    public init(_ validators: [Validator]) {
        self.validators = validators.sorted { $0.key < $1.key }
    }

    public var totalPower: UInt64 { validators.reduce(0) { $0 &+ $1.power } }

    public func power(of key: PublicKey) -> UInt64? { validators.first { $0.key == key }?.power }

    /// The RFC 6962 root over the encoded validators, in key order.
    public var hash: [UInt8] { Merkle.root(leaves: validators.map(\.encoded)) }
}

/// A block header. Its id is SHA-256 of the tag and its encoding, fields in this order.
public struct BlockHeader: LedgerEncodable, Hashable {
    public var chainId: String
    public var height: UInt64
    /// Milliseconds since the epoch, as the consensus agreed it (never a validator's local clock when replayed).
    public var time: Int64
    /// The previous block's id; 32 zero bytes at height 1.
    public var previousBlockId: [UInt8]
    /// The RFC 6962 root over the block's encoded transactions.
    public var transactionsRoot: [UInt8]
    /// The application state root after the previous block's transactions (the state the header commits to).
    public var stateRoot: [UInt8]
    public var validatorsHash: [UInt8]
    public var nextValidatorsHash: [UInt8]
    public var proposer: PublicKey

    public init(chainId: String, height: UInt64, time: Int64, previousBlockId: [UInt8], transactionsRoot: [UInt8], stateRoot: [UInt8],
                validatorsHash: [UInt8], nextValidatorsHash: [UInt8], proposer: PublicKey) {
        self.chainId = chainId
        self.height = height
        self.time = time
        self.previousBlockId = previousBlockId
        self.transactionsRoot = transactionsRoot
        self.stateRoot = stateRoot
        self.validatorsHash = validatorsHash
        self.nextValidatorsHash = nextValidatorsHash
        self.proposer = proposer
    }

    public var id: [UInt8] {
        var w = LedgerWriter()
        w.string(DomainTag.block)
        w.value(self)
        return Array(SHA256.hash(data: w.bytes))
    }

    public func encode(to w: inout LedgerWriter) {
        w.string(chainId)
        w.u64(height)
        w.i64(time)
        w.fixed(previousBlockId)
        w.fixed(transactionsRoot)
        w.fixed(stateRoot)
        w.fixed(validatorsHash)
        w.fixed(nextValidatorsHash)
        w.value(proposer)
    }

    public static func decode(from r: inout LedgerReader) throws(LedgerDecodingError) -> BlockHeader {
        BlockHeader(chainId: try r.string(), height: try r.u64(), time: try r.i64(), previousBlockId: try Hash32.read(&r),
                    transactionsRoot: try Hash32.read(&r), stateRoot: try Hash32.read(&r), validatorsHash: try Hash32.read(&r),
                    nextValidatorsHash: try Hash32.read(&r), proposer: try r.value())
    }
}

/// A vote's kind; the commit certificate is made of precommits.
public enum VoteKind: UInt8, Sendable, Hashable {
    case prevote = 1
    case precommit = 2
}

/// The bytes a validator signs to vote for `blockId` at `height` and `round`.
public func voteSignBytes(chainId: String, kind: VoteKind, height: UInt64, round: UInt32, blockId: [UInt8]) -> [UInt8] {
    var w = LedgerWriter()
    w.string(DomainTag.vote)
    w.string(chainId)
    w.u8(kind.rawValue)
    w.u64(height)
    w.u32(round)
    w.fixed(blockId)
    return w.bytes
}

/// One validator's precommit signature in a commit certificate.
public struct CommitSignature: LedgerEncodable, Hashable {
    public var validator: PublicKey
    public var signature: [UInt8]

    public init(validator: PublicKey, signature: [UInt8]) {
        self.validator = validator
        self.signature = signature
    }

    public func encode(to w: inout LedgerWriter) {
        w.value(validator)
        w.fixed(signature)
    }

    public static func decode(from r: inout LedgerReader) throws(LedgerDecodingError) -> CommitSignature {
        CommitSignature(validator: try r.value(), signature: try r.fixed(Signature.length))
    }
}

/// Precommits for one block from validators holding more than two thirds of the power: what makes it final.
public struct CommitCertificate: LedgerEncodable, Hashable {
    public var height: UInt64
    public var round: UInt32
    public var blockId: [UInt8]
    /// Sorted by validator key, at most one per validator.
    public var signatures: [CommitSignature]

    public init(height: UInt64, round: UInt32, blockId: [UInt8], signatures: [CommitSignature]) {
        self.height = height
        self.round = round
        self.blockId = blockId
        self.signatures = signatures.sorted { $0.validator < $1.validator }
    }

    /// Why the certificate does not finalize `blockId` at `height` for `validators` on `chainId`, or nil when it does:
    /// known validators only, each once, every signature valid, more than 2/3 of the total power.
    public func problem(chainId: String, validators: ValidatorSet) -> String? {
        var cache = SignatureCache()
        return problem(chainId: chainId, validators: validators, cache: &cache)
    }

    /// The same, skipping signatures `cache` has already verified.
    public func problem(chainId: String, validators: ValidatorSet, cache: inout SignatureCache) -> String? {
        var seen = Set<PublicKey>()
        var power: UInt64 = 0
        let message = voteSignBytes(chainId: chainId, kind: .precommit, height: height, round: round, blockId: blockId)
        for s in signatures {
            guard seen.insert(s.validator).inserted else { return "validator \(s.validator) signed twice" }
            guard let p = validators.power(of: s.validator) else { return "\(s.validator) is not a validator at height \(height)" }
            guard cache.verify(s.validator, s.signature, over: message) else { return "the signature of \(s.validator) does not verify" }
            let (sum, overflow) = power.addingReportingOverflow(p)
            guard !overflow else { return "the signers' voting power overflows 64 bits" }
            power = sum
        }
        // power > 2/3 total, in integers (full-width products: no overflow for any powers).
        guard power.multipliedFullWidth(by: 3) > validators.totalPower.multipliedFullWidth(by: 2) else {
            return "the signatures hold \(power) of \(validators.totalPower) voting power; more than two thirds is needed"
        }
        return nil
    }

    public func encode(to w: inout LedgerWriter) {
        w.u64(height)
        w.u32(round)
        w.fixed(blockId)
        w.list(signatures) { $0.value($1) }
    }

    /// Refuses signatures out of increasing validator order (or one validator twice): the initializer sorts them,
    /// so any other order would decode to a certificate that encodes to other bytes, and a value has one encoding.
    public static func decode(from r: inout LedgerReader) throws(LedgerDecodingError) -> CommitCertificate {
        let height = try r.u64()
        let round = try r.u32()
        let blockId = try Hash32.read(&r)
        let listStart = r.offset
        let signatures = try r.list { (r) throws(LedgerDecodingError) in try r.value(CommitSignature.self) }
        for (n, pair) in zip(signatures, signatures.dropFirst()).enumerated() where !(pair.0.validator < pair.1.validator) {
            throw LedgerDecodingError("a commit's signatures must be in increasing validator order, each validator once; signature \(n + 1) is not",
                                      at: listStart + 4 + (n + 1) * (PublicKey.length + Signature.length))
        }
        return CommitCertificate(height: height, round: round, blockId: blockId, signatures: signatures)
    }
}

/// A block: its header, its transactions, and the certificate that finalized the previous block.
public struct Block: LedgerEncodable, Hashable {
    public var header: BlockHeader
    public var transactions: [Transaction]
    public var lastCommit: CommitCertificate?

    public init(header: BlockHeader, transactions: [Transaction], lastCommit: CommitCertificate?) {
        self.header = header
        self.transactions = transactions
        self.lastCommit = lastCommit
    }

    /// The RFC 6962 root over encoded transactions, as the header's `transactionsRoot`.
    public static func transactionsRoot(_ transactions: [Transaction]) -> [UInt8] {
        Merkle.root(leaves: transactions.map(\.encoded))
    }

    public func encode(to w: inout LedgerWriter) {
        w.value(header)
        w.list(transactions) { $0.value($1) }
        w.optional(lastCommit) { $0.value($1) }
    }

    public static func decode(from r: inout LedgerReader) throws(LedgerDecodingError) -> Block {
        Block(header: try r.value(), transactions: try r.list { (r) throws(LedgerDecodingError) in try r.value(Transaction.self) },
              lastCommit: try r.optional { (r) throws(LedgerDecodingError) in try r.value(CommitCertificate.self) })
    }
}
