public import Contracts

/// An epoch's allocation with its evidence: the result entry (with every allocation and the explanation) proven
/// against the state root of a block header that a commit certificate finalized, and the light path that makes
/// that commit trusted from the genesis validators (as a ``ConsentProof``'s). Anyone holding the genesis checks it
/// offline (`careledger verify`), and sees what a claimant got and the steps that led to it.
public struct AllocationProof: Sendable, Hashable {
    public var contract: String
    public var epoch: UInt64
    /// The claimant the proof was asked for (its allocation and steps are what `explain` shows); nil: the whole epoch.
    public var claimant: String?
    public var header: BlockHeader
    public var commit: CommitCertificate
    public var entry: ConsentProof.Entry
    public var lightPath: [LightBlock]
    public var validators: ValidatorSet?

    public init(contract: String, epoch: UInt64, claimant: String?, header: BlockHeader, commit: CommitCertificate, entry: ConsentProof.Entry,
                lightPath: [LightBlock] = [], validators: ValidatorSet? = nil) {
        self.contract = contract
        self.epoch = epoch
        self.claimant = claimant
        self.header = header
        self.commit = commit
        self.entry = entry
        self.lightPath = lightPath
        self.validators = validators
    }

    /// Proves epoch `epoch` of `contract` from `state`, the state `header` commits to. Fails when the state is not
    /// the header's or the epoch has not been executed.
    public static func make(state: LedgerState, contract: String, epoch: UInt64, claimant: String?, header: BlockHeader, commit: CommitCertificate,
                            lightPath: [LightBlock] = [], validators: ValidatorSet? = nil) throws(SparseMerkleTree.Error) -> AllocationProof {
        guard state.root == header.stateRoot else { throw SparseMerkleTree.Error("the state is not the one the header commits to") }
        let e = LedgerState.Entry.allocation(id: contract, epoch: epoch)
        guard let value = state.value(of: e) else { throw SparseMerkleTree.Error("epoch \(epoch) of \(contract) has not been executed at height \(header.height - 1)") }
        return AllocationProof(contract: contract, epoch: epoch, claimant: claimant, header: header, commit: commit,
                               entry: ConsentProof.Entry(key: e.key, value: value, proof: try state.proof(of: e)), lightPath: lightPath, validators: validators)
    }

    /// The proven result: checks the chain, the light path and commit, the entry against the header's state root,
    /// and that it is the named contract's epoch. Fails naming the check.
    public func verify(chainId: String, validators trusted: ValidatorSet) throws(Receipt.Failure) -> EpochResult {
        var cache = SignatureCache()
        try LightClient.verifyFinalized(header, commit: commit, lightPath: lightPath, validators: validators, chainId: chainId,
                                        trusting: trusted, cache: &cache)
        guard entry.key == LedgerState.Entry.allocation(id: contract, epoch: epoch).key, let value = entry.value else {
            throw Receipt.Failure(check: "allocation", reason: "the entry is not epoch \(epoch) of \(contract)")
        }
        do throws(SparseMerkleTree.Error) {
            try entry.proof.verify(root: header.stateRoot, key: entry.key, value: value)
        } catch {
            throw Receipt.Failure(check: "allocation", reason: "the entry does not verify against the header's state root: \(error)")
        }
        let result: EpochResult
        do throws(LedgerDecodingError) {
            result = try EpochResult(encoded: value)
        } catch {
            throw Receipt.Failure(check: "allocation", reason: "the entry does not decode: \(error)")
        }
        guard result.contract == contract, result.epoch == epoch else {
            throw Receipt.Failure(check: "allocation", reason: "the entry holds epoch \(result.epoch) of \(result.contract)")
        }
        if let claimant, result.allocations(of: claimant).isEmpty {
            throw Receipt.Failure(check: "claimant", reason: "'\(claimant)' had no claim in epoch \(epoch) of \(contract)")
        }
        return result
    }
}
