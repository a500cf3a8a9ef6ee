/// A validator's signed prevote or precommit. `blockId` is 32 zero bytes for a vote for nothing (nil).
public struct SignedVote: LedgerEncodable, Hashable {
    public static let nilBlock = [UInt8](repeating: 0, count: Hash32.length)

    public var kind: VoteKind
    public var height: UInt64
    public var round: UInt32
    public var blockId: [UInt8]
    public var validator: PublicKey
    public var signature: [UInt8]

    public init(kind: VoteKind, height: UInt64, round: UInt32, blockId: [UInt8], validator: PublicKey, signature: [UInt8]) {
        self.kind = kind
        self.height = height
        self.round = round
        self.blockId = blockId
        self.validator = validator
        self.signature = signature
    }

    /// Signs a vote as `key`.
    public init(signing kind: VoteKind, height: UInt64, round: UInt32, blockId: [UInt8]?, chainId: String, with key: SigningKey) throws {
        let id = blockId ?? Self.nilBlock
        self.init(kind: kind, height: height, round: round, blockId: id, validator: key.publicKey,
                  signature: try key.sign(voteSignBytes(chainId: chainId, kind: kind, height: height, round: round, blockId: id)))
    }

    public var isNil: Bool { blockId == Self.nilBlock }

    public func signBytes(chainId: String) -> [UInt8] {
        voteSignBytes(chainId: chainId, kind: kind, height: height, round: round, blockId: blockId)
    }

    public func verify(chainId: String) -> Bool {
        validator.verifies(signature, over: signBytes(chainId: chainId))
    }

    public func encode(to w: inout LedgerWriter) {
        w.u8(kind.rawValue)
        w.u64(height)
        w.u32(round)
        w.fixed(blockId)
        w.value(validator)
        w.fixed(signature)
    }

    public static func decode(from r: inout LedgerReader) throws(LedgerDecodingError) -> SignedVote {
        let at = r.offset
        guard let kind = VoteKind(rawValue: try r.u8()) else { throw LedgerDecodingError("unknown vote kind", at: at) }
        return SignedVote(kind: kind, height: try r.u64(), round: try r.u32(), blockId: try Hash32.read(&r), validator: try r.value(),
                          signature: try r.fixed(Signature.length))
    }
}

/// Proof that a validator signed two different votes of one kind at one height and round (CometBFT's duplicate-vote
/// evidence): committed as a transaction, it gets the validator slashed and jailed.
public struct DuplicateVoteEvidence: LedgerEncodable, Hashable {
    public var a: SignedVote
    public var b: SignedVote

    /// The two votes in a canonical order (by block id), so one equivocation has one encoding.
    public init(_ x: SignedVote, _ y: SignedVote) {
        if x.blockId.lexicographicallyPrecedes(y.blockId) {
            a = x
            b = y
        } else {
            a = y
            b = x
        }
    }

    public var validator: PublicKey { a.validator }

    /// Why this is not evidence of an equivocation on `chainId`, or nil.
    public func problem(chainId: String, verifier: SignatureVerifier = .direct) -> String? {
        guard a.validator == b.validator else { return "the votes are by different validators" }
        guard a.kind == b.kind, a.height == b.height, a.round == b.round else { return "the votes are for different heights, rounds or kinds" }
        guard a.blockId != b.blockId else { return "the votes are for the same block" }
        guard a.blockId.lexicographicallyPrecedes(b.blockId) else { return "the votes are not in canonical order" }
        guard verifier.verify(a.validator, a.signature, a.signBytes(chainId: chainId)),
              verifier.verify(b.validator, b.signature, b.signBytes(chainId: chainId)) else { return "a vote's signature does not verify" }
        return nil
    }

    /// What identifies the offence: one slashing per validator, height, round and kind.
    public var offence: [UInt8] {
        var w = LedgerWriter()
        w.string("careledger/offence/v1")
        w.value(a.validator)
        w.u64(a.height)
        w.u32(a.round)
        w.u8(a.kind.rawValue)
        return w.bytes
    }

    public func encode(to w: inout LedgerWriter) {
        w.value(a)
        w.value(b)
    }

    public static func decode(from r: inout LedgerReader) throws(LedgerDecodingError) -> DuplicateVoteEvidence {
        let x: SignedVote = try r.value()
        let y: SignedVote = try r.value()
        var e = DuplicateVoteEvidence(x, y)
        // Keep the order as read: problem() refuses a non-canonical one, so an encoding round-trips exactly.
        e.a = x
        e.b = y
        return e
    }
}
