public import Ledger

/// The step of a round (Tendermint's Algorithm 1).
public enum Step: UInt8, Sendable, Hashable, Comparable {
    case propose = 1
    case prevote = 2
    case precommit = 3

    public static func < (a: Step, b: Step) -> Bool { a.rawValue < b.rawValue }
}

public enum TimeoutKind: UInt8, Sendable, Hashable {
    case propose = 1
    case prevote = 2
    case precommit = 3
}

/// What this validator signed last: it never signs at or below it again (the double-sign guard). The shell makes
/// it durable before any message signed after it leaves the process.
public struct LastSigned: LedgerEncodable, Hashable, Comparable {
    public var height: UInt64
    public var round: UInt32
    public var step: Step

    public init(height: UInt64, round: UInt32, step: Step) {
        self.height = height
        self.round = round
        self.step = step
    }

    public static func < (a: LastSigned, b: LastSigned) -> Bool {
        (a.height, a.round, a.step.rawValue) < (b.height, b.round, b.step.rawValue)
    }

    public func encode(to w: inout LedgerWriter) {
        w.u64(height)
        w.u32(round)
        w.u8(step.rawValue)
    }

    public static func decode(from r: inout LedgerReader) throws(LedgerDecodingError) -> LastSigned {
        let h = try r.u64()
        let round = try r.u32()
        let at = r.offset
        guard let step = Step(rawValue: try r.u8()) else { throw LedgerDecodingError("unknown step", at: at) }
        return LastSigned(height: h, round: round, step: step)
    }
}

/// A proposer's block for a height and round, with the round of the prevotes that justify re-proposing it (−1:
/// none).
public struct SignedProposal: LedgerEncodable, Hashable {
    public var height: UInt64
    public var round: UInt32
    public var polRound: Int64
    public var block: Block
    public var proposer: PublicKey
    public var signature: [UInt8]

    public init(height: UInt64, round: UInt32, polRound: Int64, block: Block, proposer: PublicKey, signature: [UInt8]) {
        self.height = height
        self.round = round
        self.polRound = polRound
        self.block = block
        self.proposer = proposer
        self.signature = signature
    }

    public static func signBytes(chainId: String, height: UInt64, round: UInt32, polRound: Int64, blockId: [UInt8]) -> [UInt8] {
        var w = LedgerWriter()
        w.string("careledger/proposal/v1")
        w.string(chainId)
        w.u64(height)
        w.u32(round)
        w.i64(polRound)
        w.fixed(blockId)
        return w.bytes
    }

    public init(signing block: Block, round: UInt32, polRound: Int64, chainId: String, with key: SigningKey) throws {
        let h = block.header.height
        self.init(height: h, round: round, polRound: polRound, block: block, proposer: key.publicKey,
                  signature: try key.sign(Self.signBytes(chainId: chainId, height: h, round: round, polRound: polRound, blockId: block.header.id)))
    }

    public func verify(chainId: String) -> Bool {
        block.header.height == height
            && proposer.verifies(signature, over: Self.signBytes(chainId: chainId, height: height, round: round, polRound: polRound, blockId: block.header.id))
    }

    public func encode(to w: inout LedgerWriter) {
        w.u64(height)
        w.u32(round)
        w.i64(polRound)
        w.value(block)
        w.value(proposer)
        w.fixed(signature)
    }

    public static func decode(from r: inout LedgerReader) throws(LedgerDecodingError) -> SignedProposal {
        SignedProposal(height: try r.u64(), round: try r.u32(), polRound: try r.i64(), block: try r.value(), proposer: try r.value(),
                       signature: try r.fixed(Signature.length))
    }
}

/// What validators gossip to agree on a block.
public enum ConsensusMessage: LedgerEncodable, Hashable {
    case proposal(SignedProposal)
    case vote(SignedVote)

    public var height: UInt64 {
        switch self {
        case .proposal(let p): p.height
        case .vote(let v): v.height
        }
    }

    public var round: UInt32 {
        switch self {
        case .proposal(let p): p.round
        case .vote(let v): v.round
        }
    }

    public var sender: PublicKey {
        switch self {
        case .proposal(let p): p.proposer
        case .vote(let v): v.validator
        }
    }

    public func encode(to w: inout LedgerWriter) {
        switch self {
        case .proposal(let p):
            w.u8(1)
            w.value(p)
        case .vote(let v):
            w.u8(2)
            w.value(v)
        }
    }

    public static func decode(from r: inout LedgerReader) throws(LedgerDecodingError) -> ConsensusMessage {
        let at = r.offset
        switch try r.u8() {
        case 1: return .proposal(try r.value())
        case 2: return .vote(try r.value())
        case let t: throw LedgerDecodingError("unknown consensus message \(t)", at: at)
        }
    }
}

/// Timeouts in milliseconds: timeout(r) = base + r·delta.
public struct TimeoutParams: Sendable, Hashable {
    public var propose: Int64
    public var proposeDelta: Int64
    public var prevote: Int64
    public var prevoteDelta: Int64
    public var precommit: Int64
    public var precommitDelta: Int64

    public init(propose: Int64 = 1_000, proposeDelta: Int64 = 500, prevote: Int64 = 500, prevoteDelta: Int64 = 250,
                precommit: Int64 = 500, precommitDelta: Int64 = 250) {
        self.propose = propose
        self.proposeDelta = proposeDelta
        self.prevote = prevote
        self.prevoteDelta = prevoteDelta
        self.precommit = precommit
        self.precommitDelta = precommitDelta
    }

    public func millis(_ kind: TimeoutKind, round: UInt32) -> Int64 {
        let r = Int64(min(round, 1_000))
        switch kind {
        case .propose: return propose + r * proposeDelta
        case .prevote: return prevote + r * prevoteDelta
        case .precommit: return precommit + r * precommitDelta
        }
    }
}

/// The votes of one kind in one round. Each validator counts once in the total ("more than 2/3 of any kind") and
/// at most once for each block id. A validator that votes twice counts for both ids, as a sender of two different
/// messages does in the paper's counting, so a polka one node saw can be seen by every node that gets the same
/// votes, whichever of the equivocator's votes arrived first. It keeps at most four votes per validator.
struct VoteSet: Sendable {
    /// Each validator's first vote.
    private(set) var votes: [PublicKey: SignedVote] = [:]
    private(set) var byBlock: [[UInt8]: [PublicKey: SignedVote]] = [:]
    private var perValidator: [PublicKey: Int] = [:]
    private(set) var power: [[UInt8]: UInt64] = [:]
    private(set) var total: UInt64 = 0

    enum Added {
        case added
        case duplicate
        case conflicting(SignedVote)
    }

    func contains(_ vote: SignedVote) -> Bool { byBlock[vote.blockId]?[vote.validator] == vote }

    mutating func add(_ vote: SignedVote, power p: UInt64) -> Added {
        if byBlock[vote.blockId]?[vote.validator] != nil { return .duplicate }
        guard let first = votes[vote.validator] else {
            votes[vote.validator] = vote
            byBlock[vote.blockId, default: [:]][vote.validator] = vote
            perValidator[vote.validator] = 1
            power[vote.blockId, default: 0] += p
            total += p
            return .added
        }
        // An equivocation: counted for this block too (bounded), and reported.
        if perValidator[vote.validator, default: 1] < 4 {
            perValidator[vote.validator, default: 1] += 1
            byBlock[vote.blockId, default: [:]][vote.validator] = vote
            power[vote.blockId, default: 0] += p
        }
        return .conflicting(first)
    }

    func power(for blockId: [UInt8]) -> UInt64 { power[blockId] ?? 0 }

    func signatures(for blockId: [UInt8]) -> [SignedVote] { (byBlock[blockId] ?? [:]).values.map { $0 } }
}
