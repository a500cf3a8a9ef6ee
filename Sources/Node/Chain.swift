import Foundation
public import Ledger

/// Where a transaction landed: its block, its place in it, and whether it took effect.
public struct Inclusion: Sendable, Hashable {
    public var height: UInt64
    public var index: Int
    public var result: TransactionResult

    public init(height: UInt64, index: Int, result: TransactionResult) {
        self.height = height
        self.index = index
        self.result = result
    }
}

/// A node's view of its chain: status for `node status`, the RPC and the commands.
public struct ChainStatus: Sendable, Hashable {
    public var chainId: String
    public var height: UInt64
    public var blockId: [UInt8]
    public var time: Int64
    /// The state root after the last committed block (what the next header carries).
    public var stateRoot: [UInt8]
    public var validators: ValidatorSet
    public var mempool: Int

    public init(chainId: String, height: UInt64, blockId: [UInt8], time: Int64, stateRoot: [UInt8], validators: ValidatorSet, mempool: Int) {
        self.chainId = chainId
        self.height = height
        self.blockId = blockId
        self.time = time
        self.stateRoot = stateRoot
        self.validators = validators
        self.mempool = mempool
    }
}

/// The chain on one validator: the block store, the application replayed over it, a mempool, and block production
/// with this node's key as the only signer (issue 5 puts the BFT engine behind the same seam).
///
/// Opening replays every stored block from genesis through ``LedgerApplication``, checking each one as a light
/// client would — the previous block id, the validators hashes, the state root in the next header, the commit
/// certificate — so the state on disk is the block store, and no damaged or foreign block is ever served.
public actor Chain {
    public nonisolated let genesis: Genesis
    private let key: SigningKey?
    private let blocks: BlockStore
    public private(set) var app: LedgerApplication
    /// The validators of the next height and of the one after it (a state change takes effect at H+2).
    private var validators: ValidatorSet
    private var nextValidators: ValidatorSet
    private var lastBlockId = [UInt8](repeating: 0, count: 32)
    private var lastTime: Int64
    private var lastCommit: CommitCertificate?
    private var mempool: [Transaction] = []
    /// The last block and the state its header commits to (the state after the block before it).
    private var tip: (state: LedgerState, block: StoredBlock)?
    private var mempoolHashes: Set<[UInt8]> = []
    /// The committed state with the mempool applied: what a new transaction must apply to.
    private var mempoolState: LedgerState
    private var waiters: [[UInt8]: [CheckedContinuation<Inclusion, Never>]] = [:]
    private var tipWaiters: [CheckedContinuation<Void, Never>] = []
    /// Where recent transactions landed, for a waiter that asks after its block was committed.
    private var recent: [[UInt8]: Inclusion] = [:]
    private var recentOrder: [[UInt8]] = []
    private static let recentLimit = 200_000
    public let maxTransactionsPerBlock: Int
    public let maxMempool: Int

    /// The state a chain starts from: each genesis validator is a participant with its power as stake.
    public static func genesisState(_ genesis: Genesis) -> LedgerState {
        LedgerState(chainId: genesis.chainId, participants: genesis.validators.map { ($0.publicKey, Participant(name: $0.name, nodeKey: $0.publicKey, stake: $0.power)) })
    }

    /// Opens the chain in `blocks`, replaying and checking every block. With `key`, this node produces blocks.
    public init(genesis: Genesis, blocks: BlockStore, key: SigningKey?, maxTransactionsPerBlock: Int = 10_000, maxMempool: Int = 100_000) async throws {
        self.genesis = genesis
        self.key = key
        self.blocks = blocks
        self.maxTransactionsPerBlock = maxTransactionsPerBlock
        self.maxMempool = maxMempool
        let state = Self.genesisState(genesis)
        app = LedgerApplication(genesis: state)
        mempoolState = state
        validators = genesis.validatorSet
        nextValidators = genesis.validatorSet
        lastTime = genesis.genesisMillis
        if let key {
            let power = validators.power(of: key.publicKey) ?? 0
            guard power > 0, power.multipliedFullWidth(by: 3) > validators.totalPower.multipliedFullWidth(by: 2) else {
                throw NodeError("this node's key holds \(power) of \(validators.totalPower) voting power in the genesis; one validator alone must hold more than 2/3 to produce blocks (several validators run consensus, issue 5)")
            }
        }
        let tip = blocks.height
        var h: UInt64 = 1
        while h <= tip {
            guard let stored = try blocks.block(at: h) else { throw NodeError("the block store lost height \(h) while the chain opened") }
            try replay(stored)
            h += 1
        }
        mempoolState = app.state
    }

    /// Picks up blocks a running node appended since this (read-only) view opened.
    public func refresh() throws {
        try blocks.refresh()
        while app.height < blocks.height {
            guard let stored = try blocks.block(at: app.height + 1) else { break }
            try replay(stored)
        }
        mempoolState = app.state
    }

    private func replay(_ stored: StoredBlock) throws {
        let header = stored.block.header
        if let problem = problem(with: stored) {
            throw NodeError("block \(header.height) in \(blocks.path) does not follow the chain: \(problem)")
        }
        if let problem = app.processProposal(stored.block) {
            throw NodeError("block \(header.height) in \(blocks.path) does not apply: \(problem)")
        }
        accept(stored, app.finalizeBlock(stored.block))
    }

    /// Why a block cannot follow the committed tip, or nil: chain links, validator hashes, and the certificates.
    private func problem(with stored: StoredBlock) -> String? {
        let header = stored.block.header
        guard header.previousBlockId == lastBlockId else { return "its previous block id is not the tip's" }
        guard header.time > lastTime || header.height == 1 && header.time >= lastTime else { return "its time \(header.time) does not follow \(lastTime)" }
        guard header.validatorsHash == validators.hash, header.nextValidatorsHash == nextValidators.hash else { return "its validators hashes are not the chain's" }
        guard stored.block.lastCommit == lastCommit else { return "its last commit is not the tip's certificate" }
        guard stored.commit.height == header.height, stored.commit.blockId == header.id else { return "its commit certifies another block" }
        if let problem = stored.commit.problem(chainId: genesis.chainId, validators: validators) { return "its commit: \(problem)" }
        return nil
    }

    private func accept(_ stored: StoredBlock, _ finalized: FinalizedBlock) {
        tip = (app.state, stored)
        app.commit()
        lastBlockId = stored.block.header.id
        lastTime = stored.block.header.time
        lastCommit = stored.commit
        validators = nextValidators
        nextValidators = finalized.validators
        for (i, tx) in stored.block.transactions.enumerated() {
            let hash = tx.hash
            mempoolHashes.remove(hash)
            let inclusion = Inclusion(height: stored.block.header.height, index: i, result: finalized.results[i])
            remember(hash, inclusion)
            for w in waiters.removeValue(forKey: hash) ?? [] { w.resume(returning: inclusion) }
        }
        for w in tipWaiters { w.resume() }
        tipWaiters = []
    }

    // MARK: Reading

    public var height: UInt64 { app.height }
    public var state: LedgerState { app.state }

    public var status: ChainStatus {
        ChainStatus(chainId: genesis.chainId, height: app.height, blockId: lastBlockId, time: lastTime, stateRoot: app.committedRoot,
                    validators: validators, mempool: mempool.count)
    }

    /// The last committed block with the state its header's state root commits to: what a consent answer is
    /// evaluated on, so that it can be proven against that header. Nil before the first block.
    public var provableTip: (state: LedgerState, block: StoredBlock)? { tip }

    /// The stored block at `height` with its commit.
    public func block(at height: UInt64) throws -> StoredBlock? { try blocks.block(at: height) }

    // MARK: Transactions

    /// Admits a signed transaction to the mempool if it applies after those already there.
    public func broadcast(_ tx: Transaction) -> TransactionResult {
        let hash = tx.hash
        guard !mempoolHashes.contains(hash) else { return TransactionResult(code: .badNonce, message: "the transaction is already in the mempool") }
        guard mempool.count < maxMempool else { return TransactionResult(code: .malformed, message: "the mempool is full (\(maxMempool) transactions); retry later") }
        var scratch = mempoolState
        do throws(TransactionError) {
            try scratch.apply(tx, height: app.height + 1, time: lastTime, index: UInt32(mempool.count))
        } catch {
            return TransactionResult(code: error.code, message: error.message)
        }
        mempoolState = scratch
        mempool.append(tx)
        mempoolHashes.insert(hash)
        return .ok
    }

    /// Signs `body` with this node's key and its next nonce, and admits it.
    public func submit(_ body: TransactionBody) throws -> Transaction {
        guard let key else { throw NodeError("this view of the chain is read-only; submit through the running node") }
        let nonce = mempoolState.nonces[key.publicKey] ?? 0
        let tx = try Transaction(signing: body, nonce: nonce, chainId: genesis.chainId, with: key)
        let result = broadcast(tx)
        if let code = result.code { throw NodeError("the ledger refused the transaction: \(code.rawValue): \(result.message)") }
        return tx
    }

    private func remember(_ hash: [UInt8], _ inclusion: Inclusion) {
        if recent.updateValue(inclusion, forKey: hash) == nil { recentOrder.append(hash) }
        if recentOrder.count > Self.recentLimit {
            let old = recentOrder.prefix(Self.recentLimit / 2)
            for h in old { recent.removeValue(forKey: h) }
            recentOrder.removeFirst(old.count)
        }
    }

    /// Waits until the transaction with `hash` is in a committed block (returns at once if it recently was).
    public func inclusion(of hash: [UInt8]) async -> Inclusion {
        if let done = recent[hash] { return done }
        return await withCheckedContinuation { waiters[hash, default: []].append($0) }
    }

    /// Waits until the chain reaches `height`.
    public func waitFor(height target: UInt64) async {
        while app.height < target { await nextBlock() }
    }

    /// Waits for the next committed block.
    public func nextBlock() async {
        await withCheckedContinuation { tipWaiters.append($0) }
    }

    public var mempoolCount: Int { mempool.count }
    public var lastBlockTime: Int64 { lastTime }

    // MARK: Producing blocks

    /// Proposes, finalizes, signs, stores and commits the next block with the mempool's transactions, at `now`
    /// (milliseconds; the block time is kept strictly increasing). The block is on disk before the state moves.
    @discardableResult
    public func produceBlock(now: Int64) throws -> StoredBlock {
        guard let key else { throw NodeError("this view of the chain has no validator key") }
        let height = app.height + 1
        let transactions = app.prepareProposal(Array(mempool.prefix(maxTransactionsPerBlock)), limit: maxTransactionsPerBlock)
        let time = height == 1 ? max(now, lastTime) : max(now, lastTime + 1)
        let header = BlockHeader(chainId: genesis.chainId, height: height, time: time, previousBlockId: lastBlockId,
                                 transactionsRoot: Block.transactionsRoot(transactions), stateRoot: app.committedRoot,
                                 validatorsHash: validators.hash, nextValidatorsHash: nextValidators.hash, proposer: key.publicKey)
        let block = Block(header: header, transactions: transactions, lastCommit: lastCommit)
        if let problem = app.processProposal(block) { throw NodeError("this node's own block \(height) does not apply: \(problem)") }
        let finalized = app.finalizeBlock(block)
        let vote = voteSignBytes(chainId: genesis.chainId, kind: .precommit, height: height, round: 0, blockId: header.id)
        let commit = CommitCertificate(height: height, round: 0, blockId: header.id, signatures: [CommitSignature(validator: key.publicKey, signature: try key.sign(vote))])
        let stored = StoredBlock(block: block, commit: commit)
        try blocks.append(stored)
        // Transactions that were chosen leave the mempool; the rest are re-checked against the new state.
        let chosen = Set(transactions.map(\.hash))
        let remaining = mempool.filter { !chosen.contains($0.hash) }
        accept(stored, finalized)
        mempool = []
        mempoolHashes = []
        mempoolState = app.state
        for tx in remaining {
            let result = broadcast(tx)
            if let code = result.code {
                let dropped = Inclusion(height: 0, index: -1, result: TransactionResult(code: code, message: "dropped from the mempool: \(result.message)"))
                remember(tx.hash, dropped)
                for w in waiters.removeValue(forKey: tx.hash) ?? [] { w.resume(returning: dropped) }
            }
        }
        return stored
    }
}

extension Chain {
    /// Milliseconds since the epoch from the wall clock: block production's only clock, in the shell.
    public static func nowMillis() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)) }
}
