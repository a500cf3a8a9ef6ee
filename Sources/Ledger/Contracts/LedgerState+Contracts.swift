public import Contracts
import Crypto

/// A claim's place in a contract: the claimant's name and its side (0 none, 1 buy, 2 sell).
public struct ClaimKey: Sendable, Hashable {
    public var claimant: String
    public var side: UInt8

    public init(claimant: String, side: Claim.Side?) {
        self.claimant = claimant
        self.side = side?.tag ?? 0
    }
}

/// The most standing claims one contract holds, and the most attributes one claim carries.
public enum ContractLimits {
    public static let maxClaims = CompiledContract.maxClaimants
    public static let maxAttributes = 64
    public static let maxContracts = 256
}

extension ContractTransaction: TransactionRules {
    /// Every check comes before the first write, so a refused transaction changes nothing.
    public func apply(to state: inout LedgerState, _ context: TransactionContext) throws(TransactionError) {
        let signer = try state.participant(context.signer)
        switch self {
        case .deploy(let definition):
            try state.propose(definition, by: context.signer, height: context.height)
        case .vote(let id, let version, let approve):
            try state.vote(on: id, version: version, approve: approve, by: context.signer, height: context.height)
        case .claim(let id, let claim):
            let record = try state.activeContract(id)
            let name = try state.contractName(of: context.signer, signer)
            guard claim.claimant == name else {
                throw TransactionError(.invalidClaim, "the claim is for '\(claim.claimant)' but participant '\(name)' signed it: a claim is signed by the participant it is for")
            }
            let d = record.definition
            guard d.claimants.isEmpty || d.claimants.contains(name) else {
                throw TransactionError(.notEligible, "'\(name)' is not among the claimants of \(id) (\(d.claimants.joined(separator: ", ")))")
            }
            if let problem = LedgerState.claimProblem(claim, d) { throw TransactionError(.invalidClaim, "\(id): \(problem)") }
            let key = ClaimKey(claimant: name, side: claim.side)
            let claims = state.contractClaims[id] ?? [:]
            guard claims[key] != nil || claims.count < ContractLimits.maxClaims else {
                throw TransactionError(.invalidClaim, "\(id) already holds \(ContractLimits.maxClaims) claims")
            }
            state.contractClaims[id, default: [:]][key] = claim
            state.set(.contractClaim(id: id, claimant: name, side: key.side), claim.encoded)
        case .supply(let id, let units):
            var record = try state.activeContract(id)
            let name = try state.contractName(of: context.signer, signer)
            guard record.definition.pool.owners.contains(name) else {
                throw TransactionError(.notOwner, "'\(name)' is not an owner of \(id)'s pool (\(record.definition.pool.owners.joined(separator: ", ")))")
            }
            guard !units.isNegative, record.definition.pool.divisible || units.isInteger else {
                throw TransactionError(.invalidClaim, "\(id): a supply of \(units) is below zero or not whole units of an indivisible pool")
            }
            record.supply = units
            state.putContract(record)
        case .withdraw(let id, let side):
            _ = try state.activeContract(id)
            let name = try state.contractName(of: context.signer, signer)
            let key = ClaimKey(claimant: name, side: side)
            guard state.contractClaims[id]?[key] != nil else {
                throw TransactionError(.invalidClaim, "'\(name)' has no claim\(side.map { " on the \($0.rawValue) side" } ?? "") in \(id)")
            }
            state.contractClaims[id]?[key] = nil
            state.set(.contractClaim(id: id, claimant: name, side: key.side), nil)
        }
    }
}

extension LedgerState {
    // MARK: Queries

    /// The contract in force with this id.
    public func contract(_ id: String) -> ContractRecord? { contracts[id] }

    /// The deploy of this contract waiting for votes, if any.
    public func proposal(_ id: String) -> ContractProposal? { contractProposals[id] }

    /// The contract's standing claims, by claimant id then side.
    public func claims(of id: String) -> [Claim] {
        (contractClaims[id] ?? [:]).sorted { a, b in
            a.key.claimant == b.key.claimant ? a.key.side < b.key.side : idPrecedes(a.key.claimant, b.key.claimant)
        }.map(\.value)
    }

    /// An executed epoch's result, read from the state tree.
    public func allocation(_ id: String, epoch: UInt64) -> EpochResult? {
        guard let bytes = value(of: .allocation(id: id, epoch: epoch)) else { return nil }
        return try? EpochResult(encoded: bytes)
    }

    /// The voting stake of a proposal's approvers and rejecters, and of every participant that is not jailed.
    func stake(of proposal: ContractProposal) -> (approved: UInt128, rejected: UInt128, total: UInt128) {
        var total: UInt128 = 0, approved: UInt128 = 0, rejected: UInt128 = 0
        for (key, p) in participants where !p.jailed {
            total += UInt128(p.stake)
            if proposal.approvals.contains(key) { approved += UInt128(p.stake) }
            if proposal.rejections.contains(key) { rejected += UInt128(p.stake) }
        }
        return (approved, rejected, total)
    }

    // MARK: Rules

    func activeContract(_ id: String) throws(TransactionError) -> ContractRecord {
        guard let record = contracts[id] else {
            let pending = contractProposals[id] != nil ? " (its deploy is waiting for votes)" : ""
            throw TransactionError(.unknownContract, "no contract '\(id)' is in force\(pending)")
        }
        return record
    }

    /// The name a participant goes by in contracts, which must be its alone.
    func contractName(of key: PublicKey, _ participant: Participant) throws(TransactionError) -> String {
        let sharing = participants.values.lazy.filter { $0.name == participant.name }.count
        guard sharing == 1 else {
            throw TransactionError(.ambiguousParticipant, "\(sharing) participants are named '\(participant.name)': contracts name claimants and owners by name, which must be unique")
        }
        return participant.name
    }

    /// Why a claim cannot stand in a contract under `d`, or nil.
    static func claimProblem(_ claim: Claim, _ d: ContractDefinition) -> String? {
        if claim.units.isNegative { return "a claim of \(claim.units) units is below zero" }
        if !d.pool.divisible && !claim.units.isInteger { return "\(claim.units) is not whole units of an indivisible pool" }
        if claim.attributes.count > ContractLimits.maxAttributes { return "a claim carries at most \(ContractLimits.maxAttributes) attributes" }
        if let w = claim.weight, w.isNegative { return "a weight of \(w) is below zero" }
        switch d.mechanism.type {
        case .doubleAuction:
            if claim.side == nil { return "a double-auction claim has a side (buy or sell)" }
            if claim.price == nil { return "a double-auction claim has a price (the bid or ask per unit)" }
        case .tatonnement:
            if claim.side == nil { return "a tâtonnement claim has a side (buy or sell)" }
        default:
            if claim.side != nil { return "\(d.mechanism.type.rawValue) claims have no side" }
        }
        if let p = claim.price, p.isNegative { return "a price of \(p) is below zero" }
        return nil
    }

    /// A deploy: the definition must compile, be the contract's next version, and name participants that exist.
    mutating func propose(_ definition: ContractDefinition, by key: PublicKey, height: UInt64) throws(TransactionError) {
        do throws(ContractFailure) {
            _ = try CompiledContract(definition)
        } catch {
            throw TransactionError(.invalidContract, "\(definition.id): \(error.message)")
        }
        let id = definition.id
        let next = (contracts[id]?.definition.version ?? 0) + 1
        guard definition.version == next else {
            throw TransactionError(.invalidContract, "\(id): the next version is \(next), not \(definition.version)")
        }
        if let pending = contractProposals[id] {
            throw TransactionError(.proposalPending, "\(id) version \(pending.definition.version) is waiting for votes; vote on it first")
        }
        guard contracts[id] != nil || contracts.count + contractProposals.count < ContractLimits.maxContracts else {
            throw TransactionError(.invalidContract, "the ledger holds at most \(ContractLimits.maxContracts) contracts")
        }
        let names = Set(participants.values.map(\.name))
        for name in definition.pool.owners + definition.claimants where !names.contains(name) {
            throw TransactionError(.invalidContract, "\(id): '\(name)' is not a participant's name")
        }
        let proposal = ContractProposal(definition: definition, proposer: key, height: height, approvals: [key])
        settleProposal(proposal, height: height)
    }

    mutating func vote(on id: String, version: UInt32, approve: Bool, by key: PublicKey, height: UInt64) throws(TransactionError) {
        guard var proposal = contractProposals[id], proposal.definition.version == version else {
            throw TransactionError(.unknownProposal, "no deploy of \(id) version \(version) is waiting for votes")
        }
        guard !proposal.approvals.contains(key), !proposal.rejections.contains(key) else {
            throw TransactionError(.alreadyVoted, "\(key) already voted on \(id) version \(version)")
        }
        if approve {
            proposal.approvals.append(key)
            proposal.approvals.sort()
        } else {
            proposal.rejections.append(key)
            proposal.rejections.sort()
        }
        settleProposal(proposal, height: height)
    }

    /// Puts a proposal in force once its approvals hold more than 2/3 of the voting stake, drops it once its
    /// rejections hold at least 1/3 (it can no longer pass), and otherwise keeps it waiting.
    mutating func settleProposal(_ proposal: ContractProposal, height: UInt64) {
        let id = proposal.definition.id
        let (approved, rejected, total) = stake(of: proposal)
        if total > 0 && approved * 3 > total * 2 {
            contractProposals[id] = nil
            set(.contractProposal(id: id), nil)
            let d = proposal.definition
            let current = d.epochs.epoch(containing: height) ?? 0
            let record: ContractRecord
            if let old = contracts[id] {
                // A new version's pool.units is the supply it was voted in with; it never runs an epoch already executed.
                record = ContractRecord(definition: d, activatedAt: height, supply: d.pool.units, nextEpoch: max(old.nextEpoch, current), lastExecuted: old.lastExecuted)
            } else {
                record = ContractRecord(definition: d, activatedAt: height, supply: d.pool.units, nextEpoch: current)
            }
            putContract(record)
        } else if total == 0 || rejected * 3 >= total {
            contractProposals[id] = nil
            set(.contractProposal(id: id), nil)
        } else {
            contractProposals[id] = proposal
            set(.contractProposal(id: id), proposal.encoded)
        }
    }

    mutating func putContract(_ record: ContractRecord) {
        contracts[record.definition.id] = record
        set(.contract(id: record.definition.id), record.encoded)
    }

    // MARK: Execution

    /// The randomness of one epoch: SHA-256 of a tag, the block's id, the contract id and the epoch. The block id
    /// commits to the previous state and this block's transactions, never to this block's results.
    public static func epochSeed(blockId: [UInt8], contract: String, epoch: UInt64) -> [UInt8] {
        var w = LedgerWriter()
        w.string("careledger/contract-seed/v1")
        w.byteString(blockId)
        w.string(contract)
        w.u64(epoch)
        return Array(SHA256.hash(data: w.bytes))
    }

    /// Runs every contract epoch that ends at `block.height`, in contract-id order, and stores each result in the
    /// state (``Entry/allocation(id:epoch:)``).
    mutating func executeContractEpochs(_ block: BlockContext) {
        for id in contracts.keys.sorted(by: idPrecedes) {
            guard var record = contracts[id], let epoch = record.definition.epochs.epoch(endingAt: block.height), epoch >= record.nextEpoch else { continue }
            let d = record.definition
            let claims = self.claims(of: id).filter { d.claimants.isEmpty || d.claimants.contains($0.claimant) }
            let seed = LedgerState.epochSeed(blockId: block.blockId, contract: id, epoch: epoch)
            let result: EpochResult
            do throws(ContractFailure) {
                result = ContractExecutor.execute(try CompiledContract(d), epoch: epoch, supply: record.supply, claims: claims, seed: seed)
            } catch {
                result = EpochResult(contract: id, version: d.version, epoch: epoch, mechanism: d.mechanism.type, supply: record.supply,
                                     allocations: [], free: record.supply, price: nil, steps: [], gasUsed: 0, failure: error)
            }
            set(.allocation(id: id, epoch: epoch), result.encoded)
            record.nextEpoch = epoch + 1
            record.lastExecuted = epoch
            putContract(record)
        }
    }
}

/// The block an end-of-block hook runs for.
public struct BlockContext: Sendable, Hashable {
    public var height: UInt64
    public var time: Int64
    /// The block's id (its header's hash).
    public var blockId: [UInt8]

    public init(height: UInt64, time: Int64, blockId: [UInt8]) {
        self.height = height
        self.time = time
        self.blockId = blockId
    }
}

/// Work the application does after a block's transactions and before its state root is taken, identically on
/// every validator (CometBFT's EndBlock, inside FinalizeBlock): the extension point for what happens at heights
/// rather than in transactions.
public protocol EndBlockHook: Sendable {
    func endBlock(_ state: inout LedgerState, _ block: BlockContext)
}

/// Executes allocation contract epochs at their boundaries.
public struct ContractEpochs: EndBlockHook {
    public init() {}

    public func endBlock(_ state: inout LedgerState, _ block: BlockContext) { state.executeContractEpochs(block) }
}
