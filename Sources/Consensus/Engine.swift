public import Ledger

/// What the engine asks of its shell, in order. A `persistLastSigned` must be durable before any later
/// `broadcast` leaves the process.
public enum ConsensusOutput: Sendable, Hashable {
    /// This validator proposes at (height, round): build a block and hand it back as `.proposalBlock`.
    case buildProposal(height: UInt64, round: UInt32)
    case persistLastSigned(LastSigned)
    case broadcast(ConsensusMessage)
    case scheduleTimeout(TimeoutKind, height: UInt64, round: UInt32, millis: Int64)
    /// The height is decided: the block and the precommits that finalized it.
    case decide(Block, CommitCertificate)
    /// A validator signed two different votes: report it (the shell submits it as a transaction).
    case evidence(DuplicateVoteEvidence)
}

public enum ConsensusInput: Sendable, Hashable {
    case message(ConsensusMessage)
    case timeout(TimeoutKind, height: UInt64, round: UInt32)
    /// The block the shell built after `.buildProposal`.
    case proposalBlock(Block, round: UInt32)
}

/// Tendermint consensus for one height at a time (Buchman, Kwon, Milosevic, "The latest gossip on BFT consensus",
/// Algorithm 1; CometBFT's spec/consensus), as a pure state machine: inputs in, outputs out, no clock, no I/O.
/// Voting power is the validators' stake; thresholds are computed in integers ("more than 2/3", "more than 1/3").
///
/// The rules, numbered as in docs/consensus.md: (1) start a round — the proposer re-proposes its valid value or
/// asks for a new block; (2) prevote a fresh proposal if valid and not locked on another value; (3) prevote a
/// re-proposal justified by a polka of round vr if valid and locked no later than vr (proof-of-lock unlock);
/// (4) more than 2/3 prevotes of any kind: schedule the prevote timeout; (5) a polka for the round's proposal:
/// lock and precommit it (first time), and remember it as the valid value; (6) a polka for nil: precommit nil;
/// (7) more than 2/3 precommits of any kind: schedule the precommit timeout; (8) more than 2/3 precommits for a
/// proposal of any round: decide; (9) more than 1/3 of the power in a later round: skip to it; (10) timeouts,
/// each only if its height, round and step are still current.
public struct ConsensusEngine: Sendable {
    public let chainId: String
    private let key: SigningKey?
    public let timeouts: TimeoutParams
    private var validate: @Sendable (Block) -> Bool
    /// Ed25519 verification (key, signature, message); a simulation shares one cache among its validators.
    private let verify: @Sendable (PublicKey, [UInt8], [UInt8]) -> Bool

    public private(set) var height: UInt64
    public private(set) var round: UInt32 = 0
    public private(set) var step: Step = .propose
    public private(set) var validators: ValidatorSet
    public private(set) var schedule: ProposerSchedule
    public private(set) var lastSigned: LastSigned?
    public private(set) var decided: Block?

    private var lockedValue: Block?
    private var lockedRound: Int64 = -1
    private var validValue: Block?
    private var validRound: Int64 = -1
    private var proposals: [UInt32: SignedProposal] = [:]
    private var prevotes: [UInt32: VoteSet] = [:]
    private var precommits: [UInt32: VoteSet] = [:]
    private var prevoteTimeoutScheduled: Set<UInt32> = []
    private var precommitTimeoutScheduled: Set<UInt32> = []
    private var polkaSeen: Set<UInt32> = []
    private var validity: [[UInt8]: Bool] = [:]
    private var reported: Set<[UInt8]> = []
    /// Messages for the next height, replayed when it starts (bounded).
    private var future: [ConsensusMessage] = []
    public static let maxFutureMessages = 10_000
    /// Rounds this far ahead of the current one are ignored (a byzantine validator could sign votes for any round).
    public static let maxRoundsAhead: UInt32 = 64

    /// An engine for `height` under `validators` and `schedule`; `key` nil for an observer. `lastSigned` comes
    /// from the shell's durable record after a restart. `validate` is the application's check of a proposed block.
    public init(chainId: String, key: SigningKey?, height: UInt64, validators: ValidatorSet, schedule: ProposerSchedule,
                lastSigned: LastSigned?, timeouts: TimeoutParams = TimeoutParams(),
                verify: @escaping @Sendable (PublicKey, [UInt8], [UInt8]) -> Bool = { $0.verifies($1, over: $2) },
                validate: @escaping @Sendable (Block) -> Bool) {
        self.chainId = chainId
        self.key = key
        self.height = height
        self.validators = validators
        self.schedule = schedule
        self.lastSigned = lastSigned
        self.timeouts = timeouts
        self.verify = verify
        self.validate = validate
    }

    /// Starts round 0 of the current height.
    public mutating func start() -> [ConsensusOutput] {
        var out: [ConsensusOutput] = []
        startRound(0, &out)
        runRules(&out)
        return out
    }

    /// Moves to the next height once the shell has committed the decided block, and replays what arrived early.
    public mutating func advance(to next: UInt64, validators: ValidatorSet, schedule: ProposerSchedule, validate newValidate: (@Sendable (Block) -> Bool)? = nil) -> [ConsensusOutput] {
        height = next
        if let newValidate { validate = newValidate }
        self.validators = validators
        self.schedule = schedule
        round = 0
        step = .propose
        decided = nil
        lockedValue = nil
        lockedRound = -1
        validValue = nil
        validRound = -1
        proposals = [:]
        prevotes = [:]
        precommits = [:]
        prevoteTimeoutScheduled = []
        precommitTimeoutScheduled = []
        polkaSeen = []
        validity = [:]
        var out: [ConsensusOutput] = []
        startRound(0, &out)
        let early = future.filter { $0.height == next }
        future.removeAll { $0.height <= next }
        for m in early { _ = receive(m, &out) }
        runRules(&out)
        return out
    }

    public mutating func handle(_ input: ConsensusInput) -> [ConsensusOutput] {
        var out: [ConsensusOutput] = []
        switch input {
        case .message(let m):
            // A message that changes nothing (gossiped again, stale, invalid) triggers no rule.
            guard receive(m, &out) else { return out }
        case .timeout(let kind, let h, let r):
            guard h == height, r == round, decided == nil else { break }
            switch kind {
            case .propose where step == .propose:
                castVote(.prevote, nil, &out)
                step = .prevote
            case .prevote where step == .prevote:
                castVote(.precommit, nil, &out)
                step = .precommit
            case .precommit:
                startRound(round + 1, &out)
            default:
                break
            }
        case .proposalBlock(let block, let r):
            guard r == round, step == .propose, decided == nil, block.header.height == height, isProposer(r), proposals[r] == nil else { break }
            propose(block, polRound: -1, &out)
        }
        runRules(&out)
        return out
    }

    public func proposer(round r: UInt32) -> PublicKey? { schedule.proposer(round: r) }

    /// The current round as seen here, for reading a failed simulation seed: proposals held, lock and valid
    /// rounds, and the prevote and precommit power per block id (nil is "nil").
    public var summary: String {
        func describe(_ set: VoteSet?) -> String {
            guard let set else { return "-" }
            let parts = set.power.map { (id, p) in (id == SignedVote.nilBlock ? "nil" : String(Ledger.Hex.encode(id).prefix(6))) + "=\(p)" }.sorted()
            return "\(set.total)[" + parts.joined(separator: " ") + "]"
        }
        let ids = proposals.sorted { $0.key < $1.key }.map { "r\($0.key):\(Ledger.Hex.encode($0.value.block.header.id).prefix(6))\(validity[$0.value.block.header.id].map { $0 ? "" : "✗" } ?? "?")" }
        return "power \(validators.totalPower) proposals [\(ids.suffix(4).joined(separator: " "))] locked \(lockedRound)"
            + "\(lockedValue.map { ":" + Ledger.Hex.encode($0.header.id).prefix(6) } ?? "") valid \(validRound) prevotes \(describe(prevotes[round])) precommits \(describe(precommits[round]))"
    }

    private func isProposer(_ r: UInt32) -> Bool {
        guard let key else { return false }
        return schedule.proposer(round: r) == key.publicKey
    }

    // MARK: Rounds and signing

    private mutating func startRound(_ r: UInt32, _ out: inout [ConsensusOutput]) {
        round = r
        step = .propose
        if isProposer(r) {
            if let valid = validValue {
                propose(valid, polRound: validRound, &out)
            } else {
                out.append(.buildProposal(height: height, round: r))
            }
        }
        out.append(.scheduleTimeout(.propose, height: height, round: r, millis: timeouts.millis(.propose, round: r)))
    }

    /// Advances the double-sign guard to `next`, or refuses (nil) when this validator signed at or past it.
    private mutating func mayPersist(_ next: LastSigned, _ out: inout [ConsensusOutput]) -> Bool {
        if let last = lastSigned, next <= last { return false }
        lastSigned = next
        out.append(.persistLastSigned(next))
        return true
    }

    private mutating func propose(_ block: Block, polRound: Int64, _ out: inout [ConsensusOutput]) {
        guard let key, mayPersist(LastSigned(height: height, round: round, step: .propose), &out),
              let proposal = try? SignedProposal(signing: block, round: round, polRound: polRound, chainId: chainId, with: key) else { return }
        out.append(.broadcast(.proposal(proposal)))
        // A re-proposal is accepted only by a validator that saw its proof of lock (more than 2/3 prevotes for it
        // in round polRound). Validators that missed those votes (lost, cut off, restarted) would prevote nil for
        // ever while the locked ones refuse anything else: send the proof with the proposal, as CometBFT gossips
        // a proposal's POL votes.
        if polRound >= 0, let pol = prevotes[UInt32(polRound)] {
            for vote in pol.signatures(for: block.header.id).sorted(by: { $0.validator < $1.validator }) { out.append(.broadcast(.vote(vote))) }
        }
        _ = receive(.proposal(proposal), &out)
    }

    private mutating func castVote(_ kind: VoteKind, _ blockId: [UInt8]?, _ out: inout [ConsensusOutput]) {
        guard let key, validators.power(of: key.publicKey) != nil else { return }
        let stepOfVote: Step = kind == .prevote ? .prevote : .precommit
        guard mayPersist(LastSigned(height: height, round: round, step: stepOfVote), &out),
              let vote = try? SignedVote(signing: kind, height: height, round: round, blockId: blockId, chainId: chainId, with: key) else { return }
        out.append(.broadcast(.vote(vote)))
        _ = receive(.vote(vote), &out)
    }

    // MARK: Receiving

    /// Takes a message in; true when it added something.
    private mutating func receive(_ m: ConsensusMessage, _ out: inout [ConsensusOutput]) -> Bool {
        if m.height > height {
            if m.height == height + 1, future.count < Self.maxFutureMessages { future.append(m) }
            return false
        }
        guard m.height == height, m.round <= round + Self.maxRoundsAhead else { return false }
        switch m {
        case .proposal(let p):
            guard proposals[p.round] == nil, p.proposer == schedule.proposer(round: p.round), p.polRound < Int64(p.round),
                  p.block.header.height == height,
                  verify(p.proposer, p.signature, SignedProposal.signBytes(chainId: chainId, height: p.height, round: p.round, polRound: p.polRound,
                                                                          blockId: p.block.header.id)) else { return false }
            proposals[p.round] = p
            return true
        case .vote(let v):
            var set = (v.kind == .prevote ? prevotes[v.round] : precommits[v.round]) ?? VoteSet()
            // A vote gossiped again is known: no second signature check.
            if set.contains(v) { return false }
            guard let power = validators.power(of: v.validator), verify(v.validator, v.signature, v.signBytes(chainId: chainId)) else { return false }
            let added = set.add(v, power: power)
            if v.kind == .prevote { prevotes[v.round] = set } else { precommits[v.round] = set }
            if case .conflicting(let first) = added {
                let evidence = DuplicateVoteEvidence(first, v)
                if reported.insert(evidence.offence).inserted { out.append(.evidence(evidence)) }
            }
            if case .duplicate = added { return false }
            return true
        }
    }

    // MARK: Rules

    private func moreThanTwoThirds(_ p: UInt64) -> Bool { p.multipliedFullWidth(by: 3) > validators.totalPower.multipliedFullWidth(by: 2) }
    private func moreThanOneThird(_ p: UInt64) -> Bool { p.multipliedFullWidth(by: 3) > validators.totalPower.multipliedFullWidth(by: 1) }

    private mutating func isValid(_ block: Block) -> Bool {
        let id = block.header.id
        if let known = validity[id] { return known }
        let ok = validate(block)
        validity[id] = ok
        return ok
    }

    /// Applies every rule that holds until none does.
    private mutating func runRules(_ out: inout [ConsensusOutput]) {
        var guardCount = 0
        while decided == nil, guardCount < 64, applyOneRule(&out) { guardCount += 1 }
    }

    /// Applies the first rule that holds; false when none does.
    private mutating func applyOneRule(_ out: inout [ConsensusOutput]) -> Bool {
        // (8) Decide: more than 2/3 precommits for a proposal of any round.
        for (r, p) in proposals.sorted(by: { $0.key < $1.key }) {
            let id = p.block.header.id
            if let set = precommits[r], moreThanTwoThirds(set.power(for: id)), isValid(p.block) {
                let signatures = set.signatures(for: id).map { CommitSignature(validator: $0.validator, signature: $0.signature) }
                decided = p.block
                out.append(.decide(p.block, CommitCertificate(height: height, round: r, blockId: id, signatures: signatures)))
                return true
            }
        }
        // (9) Skip to a later round in which more than 1/3 of the power speaks.
        if let later = laterRoundWithOneThird() {
            startRound(later, &out)
            return true
        }
        let r = round
        let proposal = proposals[r]
        // (2) and (3): prevote the round's proposal.
        if step == .propose, let p = proposal {
            let id = p.block.header.id
            if p.polRound < 0 {
                let ok = isValid(p.block) && (lockedRound == -1 || lockedValue?.header.id == id)
                castVote(.prevote, ok ? id : nil, &out)
                step = .prevote
                return true
            }
            if p.polRound < Int64(r), let pol = prevotes[UInt32(p.polRound)], moreThanTwoThirds(pol.power(for: id)) {
                let ok = isValid(p.block) && (lockedRound <= p.polRound || lockedValue?.header.id == id)
                castVote(.prevote, ok ? id : nil, &out)
                step = .prevote
                return true
            }
        }
        let votes = prevotes[r] ?? VoteSet()
        // (4) Any polka: schedule the prevote timeout.
        if step == .prevote, moreThanTwoThirds(votes.total), prevoteTimeoutScheduled.insert(r).inserted {
            out.append(.scheduleTimeout(.prevote, height: height, round: r, millis: timeouts.millis(.prevote, round: r)))
            return true
        }
        // (5) A polka for the proposal: lock and precommit it (first time), remember it as valid.
        if step >= .prevote, let p = proposal, moreThanTwoThirds(votes.power(for: p.block.header.id)), !polkaSeen.contains(r), isValid(p.block) {
            polkaSeen.insert(r)
            if step == .prevote {
                lockedValue = p.block
                lockedRound = Int64(r)
                castVote(.precommit, p.block.header.id, &out)
                step = .precommit
            }
            validValue = p.block
            validRound = Int64(r)
            return true
        }
        // (6) A polka for nil: precommit nil.
        if step == .prevote, moreThanTwoThirds(votes.power(for: SignedVote.nilBlock)) {
            castVote(.precommit, nil, &out)
            step = .precommit
            return true
        }
        // (7) Any more than 2/3 precommits: schedule the precommit timeout.
        if let set = precommits[r], moreThanTwoThirds(set.total), precommitTimeoutScheduled.insert(r).inserted {
            out.append(.scheduleTimeout(.precommit, height: height, round: r, millis: timeouts.millis(.precommit, round: r)))
            return true
        }
        return false
    }

    private func laterRoundWithOneThird() -> UInt32? {
        var rounds = Set(prevotes.keys).union(precommits.keys).union(proposals.keys).filter { $0 > round }
        guard !rounds.isEmpty else { return nil }
        var found: UInt32?
        for r in rounds.sorted() {
            var speakers = Set<PublicKey>()
            for v in (prevotes[r]?.votes.keys).map(Array.init) ?? [] { speakers.insert(v) }
            for v in (precommits[r]?.votes.keys).map(Array.init) ?? [] { speakers.insert(v) }
            if let p = proposals[r] { speakers.insert(p.proposer) }
            let power = speakers.reduce(UInt64(0)) { $0 + (validators.power(of: $1) ?? 0) }
            if moreThanOneThird(power) { found = r }
        }
        rounds.removeAll()
        return found
    }
}
