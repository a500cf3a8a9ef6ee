/// What executing one transaction of a block gave: nil code when it took effect. A refused transaction stays in
/// the block (every validator refuses it the same way) but changes nothing.
public struct TransactionResult: Sendable, Hashable {
    public var code: TransactionError.Code?
    public var message: String

    public init(code: TransactionError.Code?, message: String) {
        self.code = code
        self.message = message
    }

    public static let ok = TransactionResult(code: nil, message: "")
}

/// The outcome of finalizing a block: one result per transaction, the state root after it, and the validator set
/// the new state gives (which consensus applies two heights later).
public struct FinalizedBlock: Sendable, Hashable {
    public var results: [TransactionResult]
    public var stateRoot: [UInt8]
    public var validators: ValidatorSet
}

/// The ledger application behind an ABCI-shaped seam (CometBFT's check, prepare, process, finalize, commit): the
/// consensus engine — one validator now, the BFT engine later — drives it and never looks inside the state.
///
/// A block header at height H carries the state root after block H−1 (``committedRoot`` when H is proposed).
public struct LedgerApplication: Sendable {
    public private(set) var state: LedgerState
    /// The height of the last committed block (0 before the first).
    public private(set) var height: UInt64 = 0
    private var pending: (height: UInt64, state: LedgerState)?
    /// How transaction signatures are checked (a simulation shares one cache among its validators).
    public var verifier: SignatureVerifier = .direct
    /// What runs after each block's transactions, in order, before its state root is taken: the same list on every
    /// validator, as the transaction kinds are.
    public static let endBlockHooks: [any EndBlockHook] = [ContractEpochs()]

    /// Runs the end-of-block hooks for `block` on `state`.
    static func endBlock(_ state: inout LedgerState, _ block: Block) {
        let context = BlockContext(height: block.header.height, time: block.header.time, blockId: block.header.id)
        for hook in endBlockHooks { hook.endBlock(&state, context) }
    }

    public init(genesis state: LedgerState) {
        self.state = state
    }

    public var chainId: String { state.chainId }
    public var committedRoot: [UInt8] { state.root }

    /// Mempool admission: whether `tx` would apply to the committed state now.
    public func checkTx(_ tx: Transaction) -> TransactionResult {
        do throws(TransactionError) {
            try state.check(tx)
            return .ok
        } catch {
            return TransactionResult(code: error.code, message: error.message)
        }
    }

    /// The proposer's choice from its mempool: in order, those that apply one after another, up to `limit`.
    public func prepareProposal(_ candidates: [Transaction], limit: Int) -> [Transaction] {
        var scratch = state
        var chosen: [Transaction] = []
        for tx in candidates where chosen.count < limit {
            do throws(TransactionError) {
                try scratch.apply(tx, height: height + 1, time: 0, index: UInt32(chosen.count), verifier: verifier)
                chosen.append(tx)
            } catch {
                continue
            }
        }
        return chosen
    }

    /// Why a proposed block is not acceptable, or nil: the next height, on this chain, over the committed root,
    /// its transactions root right, and every transaction applying.
    public func processProposal(_ block: Block) -> String? {
        if case .refused(let problem) = executeProposal(block) { return problem }
        return nil
    }

    /// A proposal checked as ``processProposal(_:)`` does, with the state after it when it is acceptable: a
    /// validator that goes on to finalize the block can hand that state to ``finalizeBlock(_:executed:)`` instead
    /// of executing every transaction again.
    public enum ProposalOutcome: Sendable {
        case accepted(LedgerState)
        case refused(String)
    }

    public func executeProposal(_ block: Block) -> ProposalOutcome {
        let h = block.header
        guard h.chainId == chainId else { return .refused("the block is for chain \(h.chainId), not \(chainId)") }
        guard h.height == height + 1 else { return .refused("the block is at height \(h.height); the next is \(height + 1)") }
        guard h.stateRoot == committedRoot else { return .refused("the header's state root is not the committed state's") }
        guard h.transactionsRoot == Block.transactionsRoot(block.transactions) else { return .refused("the header's transactions root does not match its transactions") }
        var scratch = state
        for (i, tx) in block.transactions.enumerated() {
            do throws(TransactionError) {
                try scratch.apply(tx, height: h.height, time: h.time, index: UInt32(i), verifier: verifier)
            } catch {
                return .refused("transaction \(i) does not apply: \(error)")
            }
        }
        LedgerApplication.endBlock(&scratch, block)
        scratch.settle()
        return .accepted(scratch)
    }

    /// Finalizes a block that ``executeProposal(_:)`` accepted on the current committed state, giving the state it
    /// produced: every transaction took effect, so the outcome is the one ``finalizeBlock(_:)`` computes.
    public mutating func finalizeBlock(_ block: Block, executed: LedgerState) -> FinalizedBlock {
        var executed = executed
        executed.settle()
        pending = (block.header.height, executed)
        return FinalizedBlock(results: Array(repeating: .ok, count: block.transactions.count), stateRoot: executed.root, validators: executed.validators)
    }

    /// Executes a decided block against the committed state (kept aside until ``commit()``).
    public mutating func finalizeBlock(_ block: Block) -> FinalizedBlock {
        var next = state
        var results: [TransactionResult] = []
        results.reserveCapacity(block.transactions.count)
        for (i, tx) in block.transactions.enumerated() {
            do throws(TransactionError) {
                try next.apply(tx, height: block.header.height, time: block.header.time, index: UInt32(i), verifier: verifier)
                results.append(.ok)
            } catch {
                results.append(TransactionResult(code: error.code, message: error.message))
            }
        }
        LedgerApplication.endBlock(&next, block)
        next.settle()
        pending = (block.header.height, next)
        return FinalizedBlock(results: results, stateRoot: next.root, validators: next.validators)
    }

    /// Makes the finalized block's state the committed one; returns its root. Without a finalized block, nothing
    /// changes.
    @discardableResult
    public mutating func commit() -> [UInt8] {
        if let pending {
            state = pending.state
            height = pending.height
            self.pending = nil
        }
        return state.root
    }
}
