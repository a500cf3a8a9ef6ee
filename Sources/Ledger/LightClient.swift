/// A block as a light client sees it (CometBFT spec/light-client/verification, `LightBlock`): the header, the commit
/// certificate that finalized it, the validator set that signed it (hashing to `header.validatorsHash`) and the set
/// that signs the next height (hashing to `header.nextValidatorsHash`), which a later block is trusted against.
public struct LightBlock: Sendable, Hashable {
    public var header: BlockHeader
    public var commit: CommitCertificate
    /// The validators whose precommits certify this block.
    public var validators: ValidatorSet
    /// The validators of the next height: once this block is verified, a skipping step trusts them.
    public var nextValidators: ValidatorSet

    public init(header: BlockHeader, commit: CommitCertificate, validators: ValidatorSet, nextValidators: ValidatorSet) {
        self.header = header
        self.commit = commit
        self.validators = validators
        self.nextValidators = nextValidators
    }
}

/// What a light client trusts: a chain, a verified height with its block id and time, and the validators that
/// sign the height after it. The root of trust is the genesis: height 0, the genesis validators next.
public struct TrustedState: Sendable, Hashable {
    public var chainId: String
    /// 0 for the genesis.
    public var height: UInt64
    /// The trusted block's id: 32 zero bytes at the genesis (what block 1 names as its previous block).
    public var blockId: [UInt8]
    /// The trusted block's time (milliseconds); nil at the genesis, which constrains nothing here.
    public var time: Int64?
    /// The validators of `height + 1`.
    public var nextValidators: ValidatorSet

    public init(chainId: String, height: UInt64, blockId: [UInt8], time: Int64?, nextValidators: ValidatorSet) {
        self.chainId = chainId
        self.height = height
        self.blockId = blockId
        self.time = time
        self.nextValidators = nextValidators
    }

    /// The trust root of an offline verifier: the chain's genesis validators sign block 1.
    public static func genesis(chainId: String, validators: ValidatorSet) -> TrustedState {
        TrustedState(chainId: chainId, height: 0, blockId: [UInt8](repeating: 0, count: Hash32.length), time: nil, nextValidators: validators)
    }
}

/// Why a light block does not verify from a trusted state: the rule that failed, the target height, the trusted
/// height it was checked from, and a reason a person can act on.
public struct LightClientError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The rule that failed. A struct so that rules can be added without breaking callers.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Rule: String, Sendable, Hashable {
            case wrongChain = "chain"
            case notAfterTrusted = "height"
            case timeNotAfterTrusted = "time"
            case validatorSetMismatch = "validator set"
            case nextValidatorSetMismatch = "next validator set"
            case commitMismatch = "commit block"
            case notLinked = "previous block"
            case untrustedValidators = "adjacent validators"
            case invalidCommit = "commit signatures"
            case insufficientTrust = "trust level"
            case insufficientPower = "two thirds"
        }

        private let rule: Rule
        private init(_ rule: Rule) { self.rule = rule }

        /// The header is for another chain than the trusted one.
        public static let wrongChain = Code(.wrongChain)
        /// The target is not above the trusted height (a path out of order, or a repeated block).
        public static let notAfterTrusted = Code(.notAfterTrusted)
        /// The target's time is not after the trusted block's.
        public static let timeNotAfterTrusted = Code(.timeNotAfterTrusted)
        /// The validator set given for the block does not hash to its header's `validatorsHash` (a forged set).
        public static let validatorSetMismatch = Code(.validatorSetMismatch)
        /// The next validator set given does not hash to the header's `nextValidatorsHash`.
        public static let nextValidatorSetMismatch = Code(.nextValidatorSetMismatch)
        /// The commit certifies another height or block id than the header's.
        public static let commitMismatch = Code(.commitMismatch)
        /// Adjacent: the header does not name the trusted block as its previous block.
        public static let notLinked = Code(.notLinked)
        /// Adjacent: the header's validators are not the set the trusted block named next.
        public static let untrustedValidators = Code(.untrustedValidators)
        /// A precommit is by a key outside the block's set, repeated, or does not verify.
        public static let invalidCommit = Code(.invalidCommit)
        /// Skipping: the trusted validators that signed hold 1/3 of the trusted power or less.
        public static let insufficientTrust = Code(.insufficientTrust)
        /// The signers hold 2/3 of the block's own set's power or less (or the powers overflow).
        public static let insufficientPower = Code(.insufficientPower)

        public var description: String { rule.rawValue }
    }

    public let code: Code
    /// The height of the block that failed.
    public let height: UInt64
    /// The trusted height it was verified from.
    public let trustedHeight: UInt64
    public let reason: String

    public init(_ code: Code, height: UInt64, trustedHeight: UInt64, _ reason: String) {
        self.code = code
        self.height = height
        self.trustedHeight = trustedHeight
        self.reason = reason
    }

    public var description: String { "block \(height) from trusted height \(trustedHeight), rule \(code): \(reason)" }
}

/// CometBFT light-client verification (spec/light-client/verification), offline: no trusting period, since an
/// offline verifier has no clock (docs/receipt.md explains the long-range caveat). Pure: integers, no I/O.
///
/// From a trusted state, a block one height above is verified by hash chaining (its validators are the set the
/// trusted block named next, and more than 2/3 of them signed); a block further above by the trust level: the
/// trusted next validators that signed its commit hold more than 1/3 of their power, and more than 2/3 of its own
/// set signed.
public enum LightClient {
    /// The trust level of a skipping step, `numerator / denominator` of the trusted power (CometBFT's default, 1/3).
    public static let trustNumerator: UInt64 = 1
    public static let trustDenominator: UInt64 = 3

    /// Verifies a header, its commit and the set said to sign it from `trusted`, skipping signatures `cache` has
    /// already verified. Returns normally only if the block is as final as the trusted one.
    public static func verify(header: BlockHeader, commit: CommitCertificate, validators: ValidatorSet, from trusted: TrustedState,
                              cache: inout SignatureCache) throws(LightClientError) {
        func fail(_ code: LightClientError.Code, _ reason: String) -> LightClientError {
            LightClientError(code, height: header.height, trustedHeight: trusted.height, reason)
        }
        guard header.chainId == trusted.chainId else { throw fail(.wrongChain, "the header is for chain \(header.chainId), not \(trusted.chainId)") }
        guard header.height > trusted.height else {
            throw fail(.notAfterTrusted, "it is not above the trusted height (a light path goes up, one block per height at most)")
        }
        if let time = trusted.time, header.time <= time {
            throw fail(.timeNotAfterTrusted, "its time \(header.time) is not after the trusted block's \(time)")
        }
        guard validators.hash == header.validatorsHash else {
            throw fail(.validatorSetMismatch, "the validator set given does not hash to the header's validators hash")
        }
        guard commit.height == header.height, commit.blockId == header.id else {
            throw fail(.commitMismatch, "the certificate is for another block than the header")
        }
        let adjacent = header.height == trusted.height + 1
        if adjacent {
            guard header.validatorsHash == trusted.nextValidators.hash else {
                throw fail(.untrustedValidators, "its validators are not the set the trusted block named next")
            }
            guard header.previousBlockId == trusted.blockId else { throw fail(.notLinked, "its previous block id is not the trusted block's id") }
        }
        let message = voteSignBytes(chainId: trusted.chainId, kind: .precommit, height: commit.height, round: commit.round, blockId: commit.blockId)
        var seen = Set<PublicKey>()
        var signed: UInt64 = 0
        var trustedSigned: UInt64 = 0
        for s in commit.signatures {
            guard seen.insert(s.validator).inserted else { throw fail(.invalidCommit, "validator \(s.validator) signed twice") }
            guard let power = validators.power(of: s.validator) else {
                throw fail(.invalidCommit, "\(s.validator) is not a validator of height \(header.height)")
            }
            guard cache.verify(s.validator, s.signature, over: message) else { throw fail(.invalidCommit, "the precommit of \(s.validator) does not verify") }
            guard let sum = add(signed, power) else { throw fail(.insufficientPower, "the signers' power overflows") }
            signed = sum
            if !adjacent, let trustedPower = trusted.nextValidators.power(of: s.validator) {
                guard let sum = add(trustedSigned, trustedPower) else { throw fail(.insufficientTrust, "the trusted signers' power overflows") }
                trustedSigned = sum
            }
        }
        if !adjacent {
            // signed trusted power > trust level × trusted total, in integers: s × den > num × total.
            let trustedTotal = totalPower(trusted.nextValidators)
            guard let total = trustedTotal, trustedSigned.multipliedFullWidth(by: trustDenominator) > total.multipliedFullWidth(by: trustNumerator) else {
                throw fail(.insufficientTrust, "the trusted validators that signed hold \(trustedSigned) of \(describe(trustedTotal)) trusted power; more than \(trustNumerator)/\(trustDenominator) is needed")
            }
        }
        // signed > 2/3 of the block's own set: 3 × signed > 2 × total.
        let ownTotal = totalPower(validators)
        guard let total = ownTotal, signed.multipliedFullWidth(by: 3) > total.multipliedFullWidth(by: 2) else {
            throw fail(.insufficientPower, "the signatures hold \(signed) of \(describe(ownTotal)) voting power; more than two thirds is needed")
        }
    }

    /// Verifies a light block from `trusted` and returns the state it makes trusted.
    public static func verify(_ block: LightBlock, from trusted: TrustedState, cache: inout SignatureCache) throws(LightClientError) -> TrustedState {
        try verify(header: block.header, commit: block.commit, validators: block.validators, from: trusted, cache: &cache)
        guard block.nextValidators.hash == block.header.nextValidatorsHash else {
            throw LightClientError(.nextValidatorSetMismatch, height: block.header.height, trustedHeight: trusted.height,
                                   "the next validator set given does not hash to the header's next validators hash")
        }
        return TrustedState(chainId: trusted.chainId, height: block.header.height, blockId: block.header.id, time: block.header.time,
                            nextValidators: block.nextValidators)
    }

    /// Verifies `path` in order, each block from the state the one before it made trusted, and returns the last
    /// trusted state (`trusted` itself for an empty path).
    public static func verify(path: [LightBlock], from trusted: TrustedState, cache: inout SignatureCache) throws(LightClientError) -> TrustedState {
        var state = trusted
        for block in path { state = try verify(block, from: state, cache: &cache) }
        return state
    }

    /// The set's total power, or nil when it does not fit in 64 bits.
    static func totalPower(_ set: ValidatorSet) -> UInt64? {
        var total: UInt64 = 0
        for v in set.validators {
            guard let sum = add(total, v.power) else { return nil }
            total = sum
        }
        return total
    }

    private static func describe(_ power: UInt64?) -> String { power.map { String($0) } ?? "an overflowing amount of" }

    private static func add(_ a: UInt64, _ b: UInt64) -> UInt64? {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? nil : sum
    }
}

extension LightClient {
    /// The check every proof against a state root starts with (consent and allocation proofs): `header` is on
    /// `chainId`, `lightPath` leads from the `trusting` (genesis) validators to the set that signed `commit`
    /// (`validators`, or the set the last trusted block named next), and `commit` finalizes `header`. Fails naming
    /// the check: `chain`, `light path` or `commit`.
    public static func verifyFinalized(_ header: BlockHeader, commit: CommitCertificate, lightPath: [LightBlock], validators: ValidatorSet?,
                                       chainId: String, trusting: ValidatorSet, cache: inout SignatureCache) throws(Receipt.Failure) {
        guard header.chainId == chainId else { throw Receipt.Failure(check: "chain", reason: "the header is for chain \(header.chainId), not \(chainId)") }
        // The light path from the genesis validators, then the proof's block from the last trusted state (as a
        // receipt's: with no path and no set, this is the commit checked against the genesis validators).
        let last: TrustedState
        do throws(LightClientError) {
            last = try LightClient.verify(path: lightPath, from: TrustedState.genesis(chainId: chainId, validators: trusting), cache: &cache)
        } catch {
            throw Receipt.Failure(check: "light path", reason: error.description)
        }
        do throws(LightClientError) {
            try LightClient.verify(header: header, commit: commit, validators: validators ?? last.nextValidators, from: last, cache: &cache)
        } catch {
            throw Receipt.Failure(check: "commit", reason: error.description)
        }
    }
}
