import Crypto
import Dispatch
import FHIRCore
public import Ledger
public import RecordStore

/// The anchoring service: it takes record commitments from the store's anchoring queue, batches them (N versions,
/// or whatever waited T milliseconds, whichever comes first), signs the batch as a C2SP checkpoint, submits an
/// `AnchorBatch`, and writes each version's receipt data (height, batch, leaf) back once the block is committed.
///
/// Ingest never waits on it: the store's commit puts a version in the queue, and that is all ingest does.
///
/// Crash safety: a batch is written to the store (its leaves taken out of the queue) before its transaction is
/// submitted; a batch whose transaction is not committed yet stays pending, and on start the service completes
/// the pending batches the chain already anchored and submits the others again. A version is never in two
/// batches, and never left out of one.
public actor AnchoringService {
    public struct Settings: Sendable {
        /// N: a batch is cut as soon as this many versions wait.
        public var maxLeaves: Int
        /// T: a smaller batch is cut once its oldest version waited this long.
        public var maxDelayMillis: Int
        /// How often the queue is looked at.
        public var pollMillis: Int

        public init(maxLeaves: Int = 10_000, maxDelayMillis: Int = 200, pollMillis: Int = 20) {
            self.maxLeaves = maxLeaves
            self.maxDelayMillis = maxDelayMillis
            self.pollMillis = pollMillis
        }
    }

    public let store: any RecordStore
    public let chain: Chain
    private let key: SigningKey
    public let settings: Settings
    /// The name checkpoints are signed under.
    public nonisolated let keyName: String
    /// When the queue was first seen non-empty (monotonic milliseconds), for T.
    private var waitingSince: UInt64?
    public private(set) var batches = 0
    public private(set) var anchored = 0

    public init(store: any RecordStore, chain: Chain, key: SigningKey, chainId: String, settings: Settings = Settings()) {
        self.store = store
        self.chain = chain
        self.key = key
        self.settings = settings
        keyName = Self.keyName(chainId: chainId, key: key.publicKey)
    }

    /// The checkpoint origin of a submitter's batches: `careledger/<chain id>/<first 16 hex digits of its key>`.
    public static func keyName(chainId: String, key: PublicKey) -> String {
        "careledger/\(chainId)/\(key.description.prefix(16))"
    }

    /// Completes pending batches the chain already anchored, and submits the others again.
    public func recover() async throws {
        for batch in try await store.pendingAnchorBatches() {
            if let record = await chain.state.anchors[batch.root] {
                try await store.completeAnchorBatch(id: batch.id, height: Int64(record.height), transactionIndex: Int(record.index))
            } else {
                watch(try await submit(batch), batch: batch.id)
            }
        }
    }

    /// Writes the batch's receipt data back once its transaction is committed, off the queue's path (the next
    /// batch can be cut meanwhile). A refused or lost write-back leaves the batch pending for completeAnchored().
    private func watch(_ tx: Transaction, batch id: Int64) {
        let store = self.store
        let chain = self.chain
        Task {
            let inclusion = await chain.inclusion(of: tx.hash)
            guard inclusion.result.code == nil else { return }
            try? await store.completeAnchorBatch(id: id, height: Int64(inclusion.height), transactionIndex: inclusion.index)
        }
    }

    /// Completes the pending batches the chain has anchored (a write-back the store missed), leaving the others.
    public func completeAnchored() async throws {
        for batch in try await store.pendingAnchorBatches() {
            if let record = await chain.state.anchors[batch.root] {
                try await store.completeAnchorBatch(id: batch.id, height: Int64(record.height), transactionIndex: Int(record.index))
            }
        }
    }

    /// Runs until cancelled: recovers, then cuts batches from the queue. A store that goes away is retried.
    public func run(onError: @Sendable (any Error) -> Void = { _ in }) async {
        var recovered = false
        var steps = 0
        while !Task.isCancelled {
            do {
                if !recovered {
                    try await recover()
                    recovered = true
                }
                let cut = try await step(now: Self.monotonicMillis())
                steps += 1
                if steps % 100 == 0 { try await completeAnchored() }
                if cut == 0 { try? await Task.sleep(for: .milliseconds(settings.pollMillis)) }
            } catch {
                onError(error)
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }

    /// One look at the queue: cuts a batch if N versions wait or the oldest waited T. Returns the batch's size.
    public func step(now: UInt64, force: Bool = false) async throws -> Int {
        // While a batch is not due, the queue is only counted, up to N: reading up to N commitments on every poll
        // (every 20 ms) cost the store more than the writes it anchors when thousands of versions were waiting, and
        // so did counting the whole queue on PostgreSQL.
        let waiting = try await store.anchorQueueCount(upTo: settings.maxLeaves)
        guard waiting > 0 else {
            waitingSince = nil
            return 0
        }
        let since = waitingSince ?? now
        waitingSince = since
        guard force || waiting >= settings.maxLeaves || now - since >= UInt64(settings.maxDelayMillis) else { return 0 }
        let queued = try await store.anchorQueue(limit: settings.maxLeaves)
        guard !queued.isEmpty else { return 0 }
        try await cut(queued)
        waitingSince = nil
        return queued.count
    }

    /// Anchors everything in the queue now, in batches of at most N, and waits until all of it is committed.
    public func drain() async throws {
        var submitted: [(Transaction, Int64)] = []
        while true {
            let queued = try await store.anchorQueue(limit: settings.maxLeaves)
            if queued.isEmpty { break }
            submitted.append(try await cut(queued))
        }
        for (tx, id) in submitted {
            let inclusion = await chain.inclusion(of: tx.hash)
            guard inclusion.result.code == nil else {
                throw NodeError("the ledger refused anchor batch \(id): \(inclusion.result.message)")
            }
            try await store.completeAnchorBatch(id: id, height: Int64(inclusion.height), transactionIndex: inclusion.index)
        }
    }

    @discardableResult
    private func cut(_ queued: [QueuedCommitment]) async throws -> (Transaction, Int64) {
        let leafHashes = queued.map { Merkle.leafHash($0.commitment) }
        let root = Merkle.root(leafHashes: leafHashes)
        let manifest = queued.map { Merkle.leafHash(Receipt.manifestLeaf(reference: Self.reference($0.key, $0.version), commitment: $0.commitment)) }
        let checkpoint = try SignedNote.sign(text: Checkpoint(origin: keyName, size: UInt64(queued.count), root: root,
                                                              extensions: [Receipt.manifestExtension(root: Merkle.root(leafHashes: manifest))]).text,
                                             keyName: keyName, key: key)
        let first = queued.map(\.txid).min() ?? 0
        let last = queued.map(\.txid).max() ?? 0
        let id = try await store.createAnchorBatch(root: root, firstTxid: first, lastTxid: last, checkpoint: checkpoint,
                                                   leaves: queued.map { (key: $0.key, version: $0.version) })
        let batch = AnchorBatchRow(id: id, root: root, leafCount: queued.count, firstTxid: first, lastTxid: last, checkpoint: checkpoint,
                                   height: nil, transactionIndex: nil)
        let tx = try await submit(batch)
        watch(tx, batch: id)
        batches += 1
        anchored += queued.count
        return (tx, id)
    }

    private func submit(_ batch: AnchorBatchRow) async throws -> Transaction {
        let body = TransactionBody.anchorBatch(AnchorBatch(root: batch.root, leafCount: UInt64(batch.leafCount), firstTxid: UInt64(max(0, batch.firstTxid)),
                                                           lastTxid: UInt64(max(0, batch.lastTxid)), canonicalForm: CanonicalForm.version,
                                                           submitter: key.publicKey))
        return try await chain.submit(body)
    }

    /// `Type/id/_history/version`.
    public static func reference(_ key: RecordKey, _ version: Int) -> String { "\(key.type)/\(key.id)/_history/\(version)" }

    static func monotonicMillis() -> UInt64 {
        DispatchTime.now().uptimeNanoseconds / 1_000_000
    }
}
