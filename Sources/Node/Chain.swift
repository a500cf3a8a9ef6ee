public import Consensus
import Foundation
import Synchronization
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
    /// The state root after the last committed block (what the next header carries): the app hash.
    public var stateRoot: [UInt8]
    /// The validators of the last committed block (those whose precommits certify it; the genesis set at 0).
    public var validators: ValidatorSet
    /// The validators of the next height.
    public var nextValidators: ValidatorSet
    public var mempool: Int

    public init(chainId: String, height: UInt64, blockId: [UInt8], time: Int64, stateRoot: [UInt8], validators: ValidatorSet,
                nextValidators: ValidatorSet, mempool: Int) {
        self.chainId = chainId
        self.height = height
        self.blockId = blockId
        self.time = time
        self.stateRoot = stateRoot
        self.validators = validators
        self.nextValidators = nextValidators
        self.mempool = mempool
    }
}

/// The chain on one validator: the block store, the application replayed over it, a mempool, and either block
/// production with this node's key as the only signer (``produceBlock(now:)``, a one-validator chain) or the seam
/// the consensus engine uses on a network of validators (``proposal(now:)``, ``proposalValidator()``,
/// ``commit(_:)``).
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
    /// The validators of the last committed block: its commit and the next block's last commit are checked
    /// against them.
    private var lastValidators: ValidatorSet
    /// Each distinct validator set with the first height it signs, for light-client proofs across changes.
    private var validatorHistory: [(from: UInt64, set: ValidatorSet)] = []
    /// CometBFT's proposer schedule for the next height, derived from the chain's history.
    public private(set) var proposerSchedule: ProposerSchedule
    private var lastBlockId = [UInt8](repeating: 0, count: 32)
    private var lastTime: Int64
    private var lastCommit: CommitCertificate?
    private var mempool: [Transaction] = []
    /// The last block and the state its header commits to (the state after the block before it).
    private var tip: (state: LedgerState, block: StoredBlock)?
    private var mempoolHashes: Set<[UInt8]> = []
    private var fresh: [Transaction] = []
    private let executed = ExecutedStates()
    private var gossiping = false
    /// The committed state with the mempool applied: what a new transaction must apply to.
    private var mempoolState: LedgerState
    /// Where client transactions are made durable before they are acknowledged (``openJournal(at:)``).
    private var journal: MempoolJournal?
    /// The journaled transactions not yet committed or dropped, by hash, and their order.
    private var journalPending: [[UInt8]: Transaction] = [:]
    private var journalOrder: [[UInt8]] = []
    private var waiters: [[UInt8]: [CheckedContinuation<Inclusion, Never>]] = [:]
    private var tipWaiters: [CheckedContinuation<Void, Never>] = []
    /// Where recent transactions landed, for a waiter that asks after its block was committed.
    private var recent: [[UInt8]: Inclusion] = [:]
    private var recentOrder: [[UInt8]] = []
    private static let recentLimit = 200_000
    public let maxTransactionsPerBlock: Int
    /// The most transaction bytes in a proposed block, so that the proposal fits one P2P frame (4 MiB) with room
    /// to spare; the rest waits for the next height.
    public static let maxProposalTransactionBytes = 2 << 20
    public let maxMempool: Int

    /// The state a chain starts from: each genesis validator is a participant with its power as stake and its
    /// organization identifiers. Refused when two validators claim one identifier.
    public static func genesisState(_ genesis: Genesis) throws -> LedgerState {
        do throws(TransactionError) {
            return try LedgerState(chainId: genesis.chainId,
                                   participants: genesis.validators.map { ($0.publicKey, Participant(name: $0.name, nodeKey: $0.publicKey, stake: $0.power)) },
                                   identifiers: genesis.validators.map { ($0.publicKey, $0.identifiers) })
        } catch {
            throw NodeError("the genesis of \(genesis.chainId) does not apply: \(error)")
        }
    }

    /// Opens the chain in `blocks`, replaying and checking every block (through `upTo` only, when given: a view of
    /// the chain as it was at that height). With `key`, this node signs: alone (`solo`, where the key must hold
    /// more than 2/3 of the power) or as one validator of a network that runs consensus.
    public init(genesis: Genesis, blocks: BlockStore, key: SigningKey?, solo: Bool = true, upTo: UInt64? = nil,
                maxTransactionsPerBlock: Int = 10_000, maxMempool: Int = 100_000) async throws {
        self.genesis = genesis
        self.key = key
        self.blocks = blocks
        self.maxTransactionsPerBlock = maxTransactionsPerBlock
        self.maxMempool = maxMempool
        let state = try Self.genesisState(genesis)
        app = LedgerApplication(genesis: state)
        // Each signature is checked once: admitting a transaction, checking the proposal that carries it and
        // finalizing its block all ask, and a cache of verified (key, signature, message) answers the repeats.
        // Transactions by hash (no sign bytes to build for a repeat); the lock is not held while verifying, so the
        // consensus actor's proposal check and the chain's admissions verify in parallel.
        let cache = Mutex(SignatureCache())
        let transactions = Mutex(TransactionSignatureCache())
        app.verifier = SignatureVerifier({ key, signature, message in cache.withLock { $0.verify(key, signature, over: message) } },
                                         transactions: { tx, chainId in
            if transactions.withLock({ $0.contains(tx.hash) }) { return true }
            guard tx.verifySignature(chainId: chainId) else { return false }
            transactions.withLock { $0.insert(tx.hash) }
            return true
        })
        mempoolState = state
        mempoolState.maintainsTree = false
        validators = genesis.validatorSet
        nextValidators = genesis.validatorSet
        lastValidators = genesis.validatorSet
        validatorHistory = [(1, genesis.validatorSet)]
        proposerSchedule = ProposerSchedule(genesis.validatorSet)
        lastTime = genesis.genesisMillis
        if let key, solo {
            let power = validators.power(of: key.publicKey) ?? 0
            guard power > 0, power.multipliedFullWidth(by: 3) > validators.totalPower.multipliedFullWidth(by: 2) else {
                throw NodeError("this node's key holds \(power) of \(validators.totalPower) voting power in the genesis; one validator alone must hold more than 2/3 to produce blocks (several validators run consensus, issue 5)")
            }
        }
        let tip = min(blocks.height, upTo ?? .max)
        var h: UInt64 = 1
        while h <= tip {
            guard let stored = try blocks.block(at: h) else { throw NodeError("the block store lost height \(h) while the chain opened") }
            try replay(stored)
            h += 1
        }
        resetMempoolState()
    }

    /// Picks up blocks a running node appended since this (read-only) view opened.
    public func refresh() throws {
        try blocks.refresh()
        while app.height < blocks.height {
            guard let stored = try blocks.block(at: app.height + 1) else { break }
            try replay(stored)
        }
        resetMempoolState()
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
        if let problem = lastCommitProblem(stored.block) { return problem }
        guard stored.commit.height == header.height, stored.commit.blockId == header.id else { return "its commit certifies another block" }
        if let problem = stored.commit.problem(chainId: genesis.chainId, validators: validators) { return "its commit: \(problem)" }
        return nil
    }

    /// Why a block's last commit does not certify the tip, or nil. On a network another validator's block may
    /// carry a different set of precommits for the tip than this node stored: any valid certificate will do.
    private func lastCommitProblem(_ block: Block) -> String? {
        guard let tipCommit = lastCommit else {
            return block.lastCommit == nil ? nil : "the first block carries a last commit"
        }
        guard let last = block.lastCommit else { return "it carries no last commit" }
        if last == tipCommit { return nil }
        guard last.height == tipCommit.height, last.blockId == lastBlockId else { return "its last commit certifies another block" }
        if let problem = last.problem(chainId: genesis.chainId, validators: lastValidators) { return "its last commit: \(problem)" }
        return nil
    }

    private func accept(_ stored: StoredBlock, _ finalized: FinalizedBlock) {
        tip = (app.state, stored)
        app.commit()
        lastBlockId = stored.block.header.id
        lastTime = stored.block.header.time
        lastCommit = stored.commit
        lastValidators = validators
        validators = nextValidators
        nextValidators = finalized.validators
        proposerSchedule = proposerSchedule.advanced(to: validators)
        if let last = validatorHistory.last, last.set != nextValidators {
            validatorHistory.append((stored.block.header.height + 2, nextValidators))
        }
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
                    validators: lastValidators, nextValidators: validators, mempool: mempool.count)
    }

    /// The validators whose precommits certify block `height` (known up to the height after the next), or nil.
    public func validatorSet(at height: UInt64) -> ValidatorSet? {
        guard height >= 1, height <= app.height + 2 else { return nil }
        return validatorHistory.last { $0.from <= height }?.set
    }

    /// The heights at which the validator set changed, with each new set (the first entry is genesis at 1).
    public var validatorChanges: [(from: UInt64, set: ValidatorSet)] { validatorHistory }

    /// The last committed block with the state its header's state root commits to: what a consent answer is
    /// evaluated on, so that it can be proven against that header. Nil before the first block.
    public var provableTip: (state: LedgerState, block: StoredBlock)? { tip }

    /// The stored block at `height` with its commit.
    public func block(at height: UInt64) throws -> StoredBlock? { try blocks.block(at: height) }

    // MARK: Transactions

    /// Admits a signed transaction to the mempool if it applies after those already there. A transaction from
    /// this node's clients (`fromPeer` false) is also queued for gossip to the other validators.
    public func broadcast(_ tx: Transaction, fromPeer: Bool = false) -> TransactionResult {
        let hash = tx.hash
        guard !mempoolHashes.contains(hash) else { return TransactionResult(code: .badNonce, message: "the transaction is already in the mempool") }
        guard mempool.count < maxMempool else { return TransactionResult(code: .malformed, message: "the mempool is full (\(maxMempool) transactions); retry later") }
        // In place: apply changes nothing when it throws, and a scratch copy would copy the whole state (its
        // dictionaries) for every transaction admitted.
        do throws(TransactionError) {
            try mempoolState.apply(tx, height: app.height + 1, time: lastTime, index: UInt32(mempool.count), verifier: app.verifier)
        } catch {
            return TransactionResult(code: error.code, message: error.message)
        }
        mempool.append(tx)
        mempoolHashes.insert(hash)
        if !fromPeer, gossiping { fresh.append(tx) }
        return .ok
    }

    /// Admits transactions from this node's clients and makes the accepted ones durable in the mempool journal
    /// (one fsync for all of them) before returning, so that an acknowledged transaction survives `kill -9`.
    /// Without a journal this is ``broadcast(_:fromPeer:)`` for each.
    public func broadcastDurably(_ txs: [Transaction]) throws -> [TransactionResult] {
        var results: [TransactionResult] = []
        results.reserveCapacity(txs.count)
        var accepted: [Transaction] = []
        for tx in txs {
            let result = broadcast(tx)
            if result.code == nil, journal != nil {
                accepted.append(tx)
                let hash = tx.hash
                journalPending[hash] = tx
                journalOrder.append(hash)
            }
            results.append(result)
        }
        if let journal, !accepted.isEmpty {
            try journal.append(accepted)
            try journal.sync()
        }
        return results
    }

    /// Opens the mempool journal at `path` and admits again the transactions it holds that are still pending (the
    /// rest were committed before the node stopped, or no longer apply); the journal is rewritten with those.
    /// Returns how many were admitted again and how many dropped.
    @discardableResult
    public func openJournal(at path: String) throws -> (readmitted: Int, dropped: Int) {
        let journal = try MempoolJournal(path: path)
        var readmitted: [Transaction] = []
        var dropped = 0
        for tx in try journal.readAll() {
            let hash = tx.hash
            if mempoolHashes.contains(hash) || broadcast(tx).code == nil {
                readmitted.append(tx)
                if journalPending.updateValue(tx, forKey: hash) == nil { journalOrder.append(hash) }
            } else {
                dropped += 1
            }
        }
        try journal.rewrite(readmitted)
        self.journal = journal
        return (readmitted.count, dropped)
    }

    /// Forgets journaled transactions that were committed or dropped, and rewrites the journal once most of its
    /// records are such (the work stays proportional to what is pending).
    private func settleJournal(committed: [[UInt8]], dropped: [[UInt8]]) throws {
        guard let journal else { return }
        for hash in committed { journalPending.removeValue(forKey: hash) }
        for hash in dropped { journalPending.removeValue(forKey: hash) }
        if journalOrder.count > 2 * journalPending.count + 1_024 {
            journalOrder.removeAll { journalPending[$0] == nil }
        }
        if journal.records >= 4_096, journal.records > 2 * journalPending.count {
            try journal.rewrite(journalOrder.compactMap { journalPending[$0] })
        }
    }

    /// The mempool's view: the committed state, to which admitted transactions apply without tree work.
    private func resetMempoolState() {
        mempoolState = app.state
        mempoolState.maintainsTree = false
    }

    /// Transactions admitted from this node's clients since the last call, for gossip (in admission order, so a
    /// signer's nonces arrive in order).
    public func takeFresh() -> [Transaction] {
        defer { fresh = [] }
        return fresh
    }

    /// Whether admitted transactions are queued for gossip (a network node sets it).
    public func setGossiping(_ on: Bool) { gossiping = on }

    /// Signs `body` with this node's key and its next nonce, and admits it.
    public func submit(_ body: TransactionBody) throws -> Transaction {
        guard let key else { throw NodeError("this view of the chain is read-only; submit through the running node") }
        let nonce = mempoolState.nonces[key.publicKey] ?? 0
        let tx = try Transaction(signing: body, nonce: nonce, chainId: genesis.chainId, with: key)
        let result = broadcast(tx)
        if let code = result.code { throw NodeError("the ledger refused the transaction: \(code.rawValue): \(result.message)") }
        return tx
    }

    /// Why a consent directive signed by this node would be refused if submitted now (after the mempool), or nil:
    /// checked before the Consent is stored, so a refused Consent never is.
    public func consentProblem(_ directive: ConsentDirective) -> TransactionError? {
        guard let key else { return TransactionError(.unknownParticipant, "this view of the chain is read-only; submit through the running node") }
        return mempoolState.consentProblem(directive, signer: key.publicKey)
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

    /// The nonce `signer`'s next transaction needs, after the committed state and the mempool.
    public func nextNonce(of signer: PublicKey) -> UInt64 { mempoolState.nonces[signer] ?? 0 }
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
        try store(stored, finalized)
        return stored
    }

    // MARK: Consensus on a network of validators

    /// The block this node proposes for the next height at `now` (milliseconds; kept strictly after the tip's
    /// time), with the mempool's transactions that apply, signed over by `proposer` in the engine's proposal.
    public func proposal(now: Int64, proposer: PublicKey) -> Block {
        let height = app.height + 1
        // The mempool holds transactions that apply one after another to the committed state (each was applied to
        // the mempool state when admitted, and the rest re-checked after every commit): a prefix is a valid block.
        var transactions: [Transaction] = []
        var bytes = 0
        for tx in mempool.prefix(maxTransactionsPerBlock) {
            bytes += tx.encoded.count
            if bytes > Self.maxProposalTransactionBytes { break }
            transactions.append(tx)
        }
        let time = height == 1 ? max(now, lastTime) : max(now, lastTime + 1)
        let header = BlockHeader(chainId: genesis.chainId, height: height, time: time, previousBlockId: lastBlockId,
                                 transactionsRoot: Block.transactionsRoot(transactions), stateRoot: app.committedRoot,
                                 validatorsHash: validators.hash, nextValidatorsHash: nextValidators.hash, proposer: proposer)
        return Block(header: header, transactions: transactions, lastCommit: lastCommit)
    }

    /// The check a validator runs on a proposed block for the next height: it links to the tip, its time follows,
    /// its validators hashes and last commit are the chain's, and its transactions apply. A value snapshot of the
    /// chain, so the (synchronous) engine can call it.
    public func proposalValidator() -> @Sendable (Block) -> Bool {
        let snapshot = proposalCheck
        return { snapshot.problem($0) == nil }
    }

    /// Why `block` cannot be the next block, or nil (the proposal check, with its reason).
    public func proposalProblem(_ block: Block) -> String? { proposalCheck.problem(block) }

    private var proposalCheck: ProposalCheck {
        ProposalCheck(chainId: genesis.chainId, height: app.height + 1, app: app, lastBlockId: lastBlockId, lastTime: lastTime,
                      validatorsHash: validators.hash, nextValidatorsHash: nextValidators.hash, lastCommit: lastCommit,
                      lastValidators: lastValidators, executed: executed)
    }

    /// Commits a block the validators decided (or one fetched by block sync, with its certificate): it is checked
    /// like a replayed block, stored and fsync'ed, and then the state moves.
    @discardableResult
    public func commit(_ stored: StoredBlock) throws -> FinalizedBlock {
        let header = stored.block.header
        guard header.height == app.height + 1 else { throw NodeError("block \(header.height) does not follow height \(app.height)") }
        if let problem = problem(with: stored) { throw NodeError("block \(header.height) does not follow the chain: \(problem)") }
        let finalized: FinalizedBlock
        if let state = executed.take(header.id) {
            // This validator accepted the proposal: its execution is the block's.
            finalized = app.finalizeBlock(stored.block, executed: state)
        } else {
            switch app.executeProposal(stored.block) {
            case .refused(let problem): throw NodeError("block \(header.height) does not apply: \(problem)")
            case .accepted(let state): finalized = app.finalizeBlock(stored.block, executed: state)
            }
        }
        try store(stored, finalized)
        return finalized
    }

    /// Appends a finalized block to the block store (fsync'ed), moves the state, and re-checks the mempool.
    private func store(_ stored: StoredBlock, _ finalized: FinalizedBlock) throws {
        try blocks.append(stored)
        executed.clear()
        let included = stored.block.transactions
        if included.count <= mempool.count, finalized.results.allSatisfy({ $0.code == nil }),
           zip(included, mempool).allSatisfy({ $0.hash == $1.hash }) {
            // The block is the mempool's first transactions in order (this validator proposed it, or its mempool
            // saw them in the proposer's order). The mempool's view is then already the new committed state
            // followed by the rest: what applies after it is decided by the same entries (a transaction's validity
            // reads no height or time), so nothing is checked again, where a backlog would otherwise be
            // re-applied at every block.
            accept(stored, finalized)
            mempool.removeFirst(included.count)
            if journal != nil { try? settleJournal(committed: included.map(\.hash), dropped: []) }
            return
        }
        // Transactions that were chosen leave the mempool; the rest are re-checked against the new state.
        let chosen = Set(included.map(\.hash))
        let remaining = mempool.filter { !chosen.contains($0.hash) }
        accept(stored, finalized)
        mempool = []
        mempoolHashes = []
        resetMempoolState()
        var droppedHashes: [[UInt8]] = []
        for tx in remaining {
            let result = broadcast(tx, fromPeer: true)
            if let code = result.code {
                let dropped = Inclusion(height: 0, index: -1, result: TransactionResult(code: code, message: "dropped from the mempool: \(result.message)"))
                remember(tx.hash, dropped)
                droppedHashes.append(tx.hash)
                for w in waiters.removeValue(forKey: tx.hash) ?? [] { w.resume(returning: dropped) }
            }
        }
        // Compaction failing leaves a longer journal, not a wrong one: the block is stored either way.
        if journal != nil { try? settleJournal(committed: Array(chosen), dropped: droppedHashes) }
    }
}

/// A value snapshot of what a proposal for the next height must match (``Chain/proposalValidator()``).
struct ProposalCheck: Sendable {
    let chainId: String
    let height: UInt64
    let app: LedgerApplication
    let lastBlockId: [UInt8]
    let lastTime: Int64
    let validatorsHash: [UInt8]
    let nextValidatorsHash: [UInt8]
    let lastCommit: CommitCertificate?
    let lastValidators: ValidatorSet
    let executed: ExecutedStates

    func problem(_ block: Block) -> String? {
        let header = block.header
        guard header.chainId == chainId, header.height == height else { return "not block \(height) of \(chainId)" }
        guard header.previousBlockId == lastBlockId else { return "its previous block id is not the tip's" }
        guard header.time > lastTime || height == 1 && header.time >= lastTime else { return "its time does not follow the tip's" }
        guard header.validatorsHash == validatorsHash, header.nextValidatorsHash == nextValidatorsHash else { return "its validators hashes are not the chain's" }
        if let tip = lastCommit {
            guard let last = block.lastCommit else { return "it carries no last commit" }
            if last != tip {
                guard last.height == tip.height, last.blockId == lastBlockId else { return "its last commit certifies another block" }
                if let problem = last.problem(chainId: chainId, validators: lastValidators) { return "its last commit: \(problem)" }
            }
        } else if block.lastCommit != nil {
            return "the first block carries a last commit"
        }
        switch app.executeProposal(block) {
        case .refused(let problem):
            return problem
        case .accepted(let state):
            executed.keep(state, for: header.id)
            return nil
        }
    }
}

/// The states that accepted proposals of the next height lead to, by block id, so that committing the decided one
/// does not execute its transactions again. A block id fixes the state it applies to (its header carries the
/// parent's id and state root); the table is emptied at every commit.
final class ExecutedStates: Sendable {
    private let states = Mutex([[UInt8]: LedgerState]())

    func keep(_ state: LedgerState, for id: [UInt8]) {
        states.withLock { table in
            if table.count >= 8 { table.removeAll() }
            table[id] = state
        }
    }

    func take(_ id: [UInt8]) -> LedgerState? { states.withLock { $0.removeValue(forKey: id) } }

    func clear() { states.withLock { $0.removeAll() } }
}

extension Chain {
    /// Milliseconds since the epoch from the wall clock: block production's only clock, in the shell.
    public static func nowMillis() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)) }
}
