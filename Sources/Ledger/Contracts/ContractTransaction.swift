public import Contracts

/// An allocation contract's transactions (docs/contracts.md, "On the ledger"): a sub-tag, then the body.
///
/// A contract divides what the consortium shares, so a deploy (or a new version) is a proposal that takes effect
/// only once participants holding more than 2/3 of the voting stake approve it by votes (the proposer's deploy
/// counts as its approval). A claim is signed by the participant it is for; a supply update comes from one of the
/// pool's owners; a withdrawal removes the signer's own claim.
public enum ContractTransaction: LedgerEncodable, Hashable {
    /// Proposes a contract, or its next version.
    case deploy(ContractDefinition)
    /// Approves (or rejects) the pending proposal of `contract` at `version`.
    case vote(contract: String, version: UInt32, approve: Bool)
    /// The signer's claim in `contract`, replacing its earlier claim on the same side.
    case claim(contract: String, Claim)
    /// The pool's supply from the next execution on.
    case supply(contract: String, units: Rational)
    /// Removes the signer's claim (on `side`, for auctions).
    case withdraw(contract: String, side: Claim.Side?)

    public var tag: UInt8 {
        switch self {
        case .deploy: 1
        case .vote: 2
        case .claim: 3
        case .supply: 4
        case .withdraw: 5
        }
    }

    /// The contract the transaction is about.
    public var contract: String {
        switch self {
        case .deploy(let d): d.id
        case .vote(let c, _, _), .claim(let c, _), .supply(let c, _), .withdraw(let c, _): c
        }
    }

    public func encode(to w: inout LedgerWriter) {
        w.u8(tag)
        switch self {
        case .deploy(let d): w.value(d)
        case .vote(let c, let version, let approve):
            w.string(c)
            w.u32(version)
            w.bool(approve)
        case .claim(let c, let claim):
            w.string(c)
            w.value(claim)
        case .supply(let c, let units):
            w.string(c)
            w.value(units)
        case .withdraw(let c, let side):
            w.string(c)
            w.optional(side) { $0.u8($1.tag) }
        }
    }

    public static func decode(from r: inout LedgerReader) throws(LedgerDecodingError) -> ContractTransaction {
        let start = r.offset
        switch try r.u8() {
        case 1: return .deploy(try r.value())
        case 2: return .vote(contract: try r.string(), version: try r.u32(), approve: try r.bool())
        case 3: return .claim(contract: try r.string(), try r.value())
        case 4: return .supply(contract: try r.string(), units: try r.value())
        case 5: return .withdraw(contract: try r.string(), side: try r.optional { (r) throws(LedgerDecodingError) in try Claim.Side.decode(&r) })
        case let t: throw LedgerDecodingError("unknown contract transaction \(t)", at: start)
        }
    }
}

/// An active contract as the state keeps it: the version in force, since when, the pool's supply, and which
/// epochs have run (an epoch is executed once and its result never rewritten, whatever versions follow).
public struct ContractRecord: LedgerEncodable, Hashable {
    public var definition: ContractDefinition
    /// The height at which this version took effect.
    public var activatedAt: UInt64
    public var supply: Rational
    /// The first epoch not executed yet: later versions never run an epoch below it.
    public var nextEpoch: UInt64
    public var lastExecuted: UInt64?

    public init(definition: ContractDefinition, activatedAt: UInt64, supply: Rational, nextEpoch: UInt64, lastExecuted: UInt64? = nil) {
        self.definition = definition
        self.activatedAt = activatedAt
        self.supply = supply
        self.nextEpoch = nextEpoch
        self.lastExecuted = lastExecuted
    }

    public func encode(to w: inout LedgerWriter) {
        w.value(definition)
        w.u64(activatedAt)
        w.value(supply)
        w.u64(nextEpoch)
        w.optional(lastExecuted) { $0.u64($1) }
    }

    public static func decode(from r: inout LedgerReader) throws(LedgerDecodingError) -> ContractRecord {
        ContractRecord(definition: try r.value(), activatedAt: try r.u64(), supply: try r.value(), nextEpoch: try r.u64(),
                       lastExecuted: try r.optional { (r) throws(LedgerDecodingError) in try r.u64() })
    }
}

/// A deploy waiting for votes: the definition, who proposed it and when, and who approved or rejected it so far
/// (keys in increasing order).
public struct ContractProposal: LedgerEncodable, Hashable {
    public var definition: ContractDefinition
    public var proposer: PublicKey
    public var height: UInt64
    public var approvals: [PublicKey]
    public var rejections: [PublicKey]

    public init(definition: ContractDefinition, proposer: PublicKey, height: UInt64, approvals: [PublicKey], rejections: [PublicKey] = []) {
        self.definition = definition
        self.proposer = proposer
        self.height = height
        self.approvals = approvals
        self.rejections = rejections
    }

    public func encode(to w: inout LedgerWriter) {
        w.value(definition)
        w.value(proposer)
        w.u64(height)
        w.list(approvals) { $0.value($1) }
        w.list(rejections) { $0.value($1) }
    }

    public static func decode(from r: inout LedgerReader) throws(LedgerDecodingError) -> ContractProposal {
        ContractProposal(definition: try r.value(), proposer: try r.value(), height: try r.u64(),
                         approvals: try r.list { (r) throws(LedgerDecodingError) in try r.value(PublicKey.self) },
                         rejections: try r.list { (r) throws(LedgerDecodingError) in try r.value(PublicKey.self) })
    }
}
