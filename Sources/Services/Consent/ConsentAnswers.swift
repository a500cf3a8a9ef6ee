public import Ledger
public import Node

/// Consent queries answered from the ledger: the decision at the last finalized height (the state the last
/// committed block's header commits to, at that block's time unless the question names one), and the same answer
/// with the proof `careledger verify` checks offline.
public struct ConsentAnswers: Sendable {
    /// An answer with the block whose state it comes from.
    public struct Answer: Sendable {
        public let answer: ConsentAnswer
        /// The header whose state root the answer's entries are in.
        public let header: BlockHeader
    }

    public let chain: Chain
    public let consortiumKey: [UInt8]

    public init(chain: Chain, consortiumKey: [UInt8]) {
        self.chain = chain
        self.consortiumKey = consortiumKey
    }

    /// The decision and REDACT obligations at the last finalized height; `.notReady` when the chain has no block yet.
    public func query(_ question: ConsentQuestion) async throws(ServiceError) -> Answer {
        let tip = try await finalizedTip()
        let header = tip.block.block.header
        return Answer(answer: ConsentEvaluator.evaluate(tip.state, question.query(consortiumKey: consortiumKey, blockTime: header.time)), header: header)
    }

    /// The answer with its proof: the patient's entries (or their absence) against the last finalized header, its
    /// commit, and, when the validator set changed since the genesis, the light path to it
    /// (careledger-consent-proof/2), so that the genesis alone verifies it.
    public func prove(_ question: ConsentQuestion) async throws(ServiceError) -> ConsentProof {
        let tip = try await finalizedTip()
        let header = tip.block.block.header
        do {
            let light = try await ReceiptBuilder.lightEvidence(to: header.height, in: chain)
            return try ConsentProof.make(state: tip.state, query: question.query(consortiumKey: consortiumKey, blockTime: header.time), header: header,
                                         commit: tip.block.commit, lightPath: light.lightPath, validators: light.validators)
        } catch {
            throw ServiceError(.internal, "cannot prove the answer at height \(header.height): \(error)")
        }
    }

    func finalizedTip() async throws(ServiceError) -> (state: LedgerState, block: StoredBlock) {
        guard let tip = await chain.provableTip else { throw ServiceError(.notReady, "the chain has no block yet") }
        return tip
    }
}
