import FHIRCore
import Foundation
import NIOCore
import NIOPosix

/// Where records live: every resource version, its commitment, the search index, import batches, dead
/// letters and the anchoring queue (docs/store.md).
///
/// Two implementations behave the same and pass one conformance suite: ``SQLiteStore`` (embedded, the
/// zero-setup default) and ``PostgresStore`` (production). Open either with ``StoreLocation``.
public protocol RecordStore: RecordSearching, RecordHistory, RecordCounting, Sendable {
    /// Stores one input unit atomically (one database transaction): new content becomes a new version,
    /// identical content is a no-op. Returns one outcome per record, in order.
    func commit(_ unit: [PreparedRecord], batch: Int64?) async throws -> [RecordOutcome]
    /// Stores the unit made from a received message and records the message, in one transaction. If the
    /// message was received before (same sender, control id and bytes), stores nothing and returns nil: a
    /// message resent after a lost ACK, or a file imported twice, is not applied twice.
    func commit(_ unit: [PreparedRecord], batch: Int64?, message: MessageKey) async throws -> [RecordOutcome]?
    /// Whether the message was received (and its unit stored) before.
    func received(_ message: MessageKey) async throws -> Bool
    /// Stores a unit like ``commit(_:batch:)`` (durably, before it returns) but leaves part of the work on its
    /// records of ``DeferredIndex/types`` to a later bulk write: PostgreSQL their search-index rows, SQLite all but
    /// the journal row (SQLiteStore+AuditJournal). Every read or search that can return them waits for that write
    /// first. The audit trail's commits.
    func commitIndexingLater(_ unit: [PreparedRecord]) async throws -> [RecordOutcome]
    /// Does every write ``commitIndexingLater(_:)`` left, also what another store instance on the same database
    /// left; returns once those records are visible to reads and searches.
    func flushDeferredIndex() async throws
    /// The serial executor to issue commits from: code running on it starts a commit without a thread hop. The
    /// audit trail runs its group commit there, off Swift's cooperative threads, whose queue is full of request work
    /// under load (each turn of the group commit waited behind it, and more connections made reads slower).
    var commitExecutor: UnownedSerialExecutor { get }

    func beginBatch(source: String, format: String) async throws -> Int64
    func finishBatch(_ id: Int64, counts: BatchCounts) async throws

    func addDeadLetter(_ letter: DeadLetter) async throws -> Int64
    /// Dead letters, oldest first; resolved ones only with `includeResolved`.
    func deadLetters(includeResolved: Bool) async throws -> [DeadLetter]
    func deadLetter(id: Int64) async throws -> DeadLetter?
    func resolveDeadLetter(id: Int64) async throws

    /// Resources by type, sorted by type, deleted ones included (``RecordCounting/recordCounts()`` counts them
    /// apart).
    func countsByType() async throws -> [(type: String, count: Int)]
    /// The number of stored versions (all types, all versions).
    func versionCount() async throws -> Int
    func current(_ key: RecordKey) async throws -> StoredVersion?
    /// Every version of a resource, oldest first.
    func versions(_ key: RecordKey) async throws -> [StoredVersion]
    /// Ids of current resources of `type` with an identifier `value` (in `system`, when given).
    func resolveIdentifier(type: String, system: String?, value: String) async throws -> [String]
    /// ``resolveIdentifier(type:system:value:)`` for many identifiers, answered in order (in one round trip where
    /// the store has round trips).
    func resolveIdentifiers(_ queries: [IdentifierQuery]) async throws -> [[String]]
    /// Ids of current resources of `type` whose index has `param` = `value`.
    func search(type: String, param: String, value: String) async throws -> [String]
    /// Record versions waiting to be anchored.
    func anchorQueueCount() async throws -> Int
    /// Record versions waiting to be anchored, counted up to `limit`: the anchoring service's check every 20 ms,
    /// which must not cost more the longer the queue grows (counting the whole queue took PostgreSQL 7.5 ms per
    /// check under the gateway benchmark, a quarter of the server's time). A store may count, without moving them,
    /// AuditEvents it has not moved into the records yet (SQLite's journal); such a count may briefly be too high.
    func anchorQueueCount(upTo limit: Int) async throws -> Int
    /// One stored version, or nil.
    func version(_ key: RecordKey, _ version: Int) async throws -> StoredVersion?

    // The anchoring queue (docs/store.md): versions leave it when the anchoring service puts them in a batch;
    // the batch gets its height once its AnchorBatch transaction is committed.

    /// Up to `limit` queued versions, oldest txid first (ties: type, id, version).
    func anchorQueue(limit: Int) async throws -> [QueuedCommitment]
    /// In one database transaction: inserts the batch (height NULL) and makes each version of `leaves` its leaf at
    /// its position (0-based). Throws ``StoreError`` if any of them is already in a batch, is listed twice or does
    /// not exist, or if another batch has this root, and then writes nothing. Returns the new batch's id.
    func createAnchorBatch(root: [UInt8], firstTxid: Int64, lastTxid: Int64, checkpoint: String,
                           leaves: [(key: RecordKey, version: Int)]) async throws -> Int64
    /// The batch's AnchorBatch transaction was committed at `height` as the block's `transactionIndex`-th
    /// transaction: records both on the batch and the height on all its versions, in one transaction. Idempotent.
    func completeAnchorBatch(id: Int64, height: Int64, transactionIndex: Int) async throws
    /// Batches whose transaction is not committed yet (height nil), by id.
    func pendingAnchorBatches() async throws -> [AnchorBatchRow]
    func anchorBatch(id: Int64) async throws -> AnchorBatchRow?
    /// The batch's leaves in leaf order.
    func batchLeaves(_ batch: Int64) async throws -> [BatchLeaf]
    /// Where a version was put in a batch, or nil if it is still queued (or does not exist).
    func anchorLocation(_ key: RecordKey, version: Int) async throws -> AnchorLocation?

    func close() async throws
}

/// The identity of a received message (HL7 v2): its sender (MSH-4 as written), its control id (MSH-10) and the
/// SHA-256 of its bytes. The same control id with other bytes is another message (senders reuse control ids).
public struct MessageKey: Sendable, Hashable {
    public var sender: String
    public var controlId: String
    public var payloadHash: [UInt8]

    public init(sender: String, controlId: String, payloadHash: [UInt8]) {
        self.sender = sender
        self.controlId = controlId
        self.payloadHash = payloadHash
    }
}

/// A store failure, with what was being done.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public var operation: String
    public var reason: String

    public init(_ operation: String, _ reason: String) {
        self.operation = operation
        self.reason = reason
    }

    public var description: String { "\(operation): \(reason)" }
}

/// Turns a unit of prepared records into version rows: the part of a commit both stores share.
public enum VersionPlanner {
    /// `current` holds the stored version and content hash of the unit's keys that exist.
    public static func plan(_ unit: [PreparedRecord], current: [RecordKey: (version: Int, contentHash: [UInt8])],
                     lastUpdated: String) throws -> (outcomes: [RecordOutcome], rows: [VersionRow]) {
        var state = current
        var outcomes: [RecordOutcome] = []
        var rows: [VersionRow] = []
        outcomes.reserveCapacity(unit.count)
        var rng = SaltGenerator()
        for record in unit {
            let existing = state[record.key]
            if let expected = record.expectedVersion, expected != (existing?.version ?? 0) {
                throw VersionConflict(key: record.key, expected: expected, current: existing?.version)
            }
            if let existing, existing.contentHash == record.contentHash {
                outcomes.append(.unchanged(record.key, version: existing.version))
                continue
            }
            let version = (existing?.version ?? 0) + 1
            // The served form: the content with the two server fields added to `meta`.
            let canonical = try record.servedCanonical(version: version, lastUpdated: lastUpdated)
            let canonicalHash = CanonicalForm.sha256(canonical)
            let salt = RecordCommitment.freshSalt(using: &rng)
            let commitment = try RecordCommitment(canonicalHash: canonicalHash, salt: salt)
            rows.append(VersionRow(key: record.key, version: version, lastUpdated: lastUpdated, contentHash: record.contentHash,
                                   canonicalHash: canonicalHash, salt: salt, commitment: commitment.value, canonical: canonical,
                                   index: record.index, patientKey: record.patientKey, isUpdate: existing != nil))
            outcomes.append(existing == nil ? .created(record.key, version: version) : .updated(record.key, version: version))
            state[record.key] = (version, record.contentHash)
        }
        return (outcomes, rows)
    }
}

/// One identifier search: resources of `type` with an identifier `value`, in `system` when it is given.
public struct IdentifierQuery: Sendable, Hashable {
    public var type: String
    public var system: String?
    public var value: String

    public init(type: String, system: String?, value: String) {
        self.type = type
        self.system = system
        self.value = value
    }
}

extension RecordStore {
    /// Stores that index at once.
    public func commitIndexingLater(_ unit: [PreparedRecord]) async throws -> [RecordOutcome] {
        try await commit(unit, batch: nil)
    }

    public func flushDeferredIndex() async throws {}

    /// The whole count, capped.
    public func anchorQueueCount(upTo limit: Int) async throws -> Int {
        min(limit, try await anchorQueueCount())
    }

    /// A thread of its own (``CommitThread``).
    public var commitExecutor: UnownedSerialExecutor { CommitThread.executor }

    /// One query at a time: for stores without round trips to save.
    public func resolveIdentifiers(_ queries: [IdentifierQuery]) async throws -> [[String]] {
        var out: [[String]] = []
        for q in queries { out.append(try await resolveIdentifier(type: q.type, system: q.system, value: q.value)) }
        return out
    }
}

/// A thread to issue commits from for stores without a writer thread of their own (PostgreSQL's commits run on its
/// connections' event loops): off Swift's cooperative threads.
public enum CommitThread {
    static let loop = MultiThreadedEventLoopGroup(numberOfThreads: 1).next()

    public static var executor: UnownedSerialExecutor { loop.executor.asUnownedSerialExecutor() }
}
