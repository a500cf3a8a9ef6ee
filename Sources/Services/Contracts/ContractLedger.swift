public import Contracts
public import Ledger
public import Node
import Foundation

/// Allocation contracts on the ledger, as a participant uses them (docs/contracts.md, "On the ledger"): deploy a
/// definition or its next version (a proposal), vote on a proposal, claim, update the supply, withdraw — each a
/// transaction signed with the home's participant key and committed through its running node. The command line
/// and the gateway call these, never the RPC themselves.
public struct ContractLedger: Sendable {
    public let home: NodeHome

    public init(home: NodeHome) { self.home = home }

    /// Proposes `contract`; it takes effect once participants holding more than 2/3 of the stake approve it.
    public func deploy(_ contract: CompiledContract) async throws(ServiceError) -> ParticipantSubmission.Committed {
        try await submit(.deploy(contract.definition), conflicts: [.proposalPending])
    }

    public func vote(contract: String, version: UInt32, approve: Bool) async throws(ServiceError) -> ParticipantSubmission.Committed {
        try await submit(.vote(contract: contract, version: version, approve: approve), conflicts: [.alreadyVoted])
    }

    /// Claims in `contract` for this home's participant: `claim`'s claimant is set to the participant's name, which
    /// is what the ledger checks the signature against.
    public func claim(contract: String, _ claim: Claim) async throws(ServiceError) -> ParticipantSubmission.Committed {
        var claim = claim
        claim.claimant = try await participantName()
        return try await submit(.claim(contract: contract, claim))
    }

    /// Sets the pool's supply for the next executions; only the pool's owners may.
    public func supply(contract: String, units: Rational) async throws(ServiceError) -> ParticipantSubmission.Committed {
        try await submit(.supply(contract: contract, units: units))
    }

    public func withdraw(contract: String, side: Claim.Side?) async throws(ServiceError) -> ParticipantSubmission.Committed {
        try await submit(.withdraw(contract: contract, side: side))
    }

    func submit(_ body: ContractTransaction, conflicts: Set<TransactionError.Code> = []) async throws(ServiceError) -> ParticipantSubmission.Committed {
        try await ParticipantSubmission(home: home).submit(.contract(body), refusedAsConflict: conflicts)
    }

    /// The name this home's participant goes by in contracts, as its running node has it.
    public func participantName() async throws(ServiceError) -> String {
        try await ParticipantSubmission(home: home).participant().name
    }
}

/// What the ledger says of a contract, read from a chain (a home's block store, or the running node's): its
/// version in force, the proposal waiting for votes, the standing claims, and executed epochs with their proofs.
public struct ContractQueries: Sendable {
    /// A contract as `contract show` prints it.
    public struct Status: Sendable {
        public let record: ContractRecord?
        public let proposal: ContractProposal?
        public let claims: [Claim]
        /// The last executed epoch's result, if any.
        public let lastResult: EpochResult?
        /// The height whose committed state this is.
        public let height: UInt64
    }

    public let chain: Chain

    public init(chain: Chain) { self.chain = chain }

    /// The contract as the last finalized header commits to it; `notFound` when neither it nor a proposal exists.
    public func show(_ id: String) async throws(ServiceError) -> Status {
        let (state, block) = try await tip()
        let record = state.contract(id), proposal = state.proposal(id)
        guard record != nil || proposal != nil else { throw ServiceError(.notFound, "no contract or proposal '\(id)' at height \(block.block.header.height - 1)") }
        let last = record?.lastExecuted.flatMap { state.allocation(id, epoch: $0) }
        return Status(record: record, proposal: proposal, claims: state.claims(of: id), lastResult: last, height: block.block.header.height - 1)
    }

    /// Epoch `epoch`'s result; `notFound` when it has not been executed (or its execution is not yet under a
    /// finalized header).
    public func result(_ id: String, epoch: UInt64) async throws(ServiceError) -> EpochResult {
        let (state, block) = try await tip()
        guard let result = state.allocation(id, epoch: epoch) else {
            throw ServiceError(.notFound, "epoch \(epoch) of '\(id)' has no result at height \(block.block.header.height - 1)"
                               + (state.contract(id).map { " (the next epoch to run is \($0.nextEpoch), ending at height \($0.definition.epochs.lastHeight(of: $0.nextEpoch)))" } ?? ""))
        }
        return result
    }

    /// The result with its proof against the last finalized header, its commit and the light path from the
    /// genesis validators (as a consent proof's), for `careledger verify`.
    public func prove(_ id: String, epoch: UInt64, claimant: String?) async throws(ServiceError) -> (proof: AllocationProof, result: EpochResult) {
        let result = try await result(id, epoch: epoch)
        if let claimant, result.allocations(of: claimant).isEmpty {
            throw ServiceError(.notFound, "'\(claimant)' had no claim in epoch \(epoch) of '\(id)' (claimants: \(result.allocations.map(\.claimant).joined(separator: ", ")))")
        }
        let (state, block) = try await tip()
        let header = block.block.header
        do {
            let light = try await ReceiptBuilder.lightEvidence(to: header.height, in: chain)
            let proof = try AllocationProof.make(state: state, contract: id, epoch: epoch, claimant: claimant, header: header, commit: block.commit,
                                                 lightPath: light.lightPath, validators: light.validators)
            return (proof, result)
        } catch {
            throw ServiceError(.internal, "cannot prove epoch \(epoch) of '\(id)' at height \(header.height): \(error)")
        }
    }

    func tip() async throws(ServiceError) -> (state: LedgerState, block: StoredBlock) {
        guard let tip = await chain.provableTip else { throw ServiceError(.notReady, "the chain has no block yet") }
        return tip
    }
}
