import CSQLite
import FHIRCore
import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// The embedded record store: one SQLite file (and its audit journal's, ``SQLiteJournalFile``), WAL journal; a
/// committed unit survives `kill -9` and power loss
/// (every writing method returns only after an fsync of the WAL that covers its commit, ``SQLiteWALSync``). Same
/// behaviour as ``PostgresStore``.
///
/// One writer, many readers: the actor owns the write connection and runs on a thread of its own
/// (``writerThreads``), so a commit's fsync blocks that thread, never one of the few cooperative threads that
/// serve requests; reads are `nonisolated` and run on ``SQLiteReaders``' connections, so they never queue behind
/// a commit.
public actor SQLiteStore: RecordStore {
    let db: SQLiteConnection
    nonisolated let readers: SQLiteReaders
    nonisolated let walSync: SQLiteWALSync
    nonisolated let checkpointer: SQLiteCheckpointer
    /// The AuditEvents journaled and not yet moved into the records (SQLiteStore+AuditJournal).
    nonisolated let auditJournal = SQLiteAuditJournal()
    /// Which moves of the journal are scheduled.
    nonisolated let journalMoves = DeferredWriteSchedule()
    /// False only in tests that need the journal left as a store that stops leaves it (``holdJournal()``).
    nonisolated let movesJournalInBackground = Atomic<Bool>(true)
    /// The audit journal's own file (``SQLiteJournalFile``), and how far its moved rows were deleted from it.
    nonisolated let journalFile: SQLiteJournalFile
    var journalForgottenThrough: Int64 = 0
    public nonisolated let path: String
    private nonisolated let writerLoop: any EventLoop

    /// The threads SQLite stores write on (a store keeps one of them): blocking file I/O stays off Swift's
    /// cooperative pool (the fsyncs themselves run on NIO's blocking pool, ``SQLiteWALSync``). Two, so that stores
    /// of different files (tests run many) do not wait for each other's transactions.
    static let writerThreads = MultiThreadedEventLoopGroup(numberOfThreads: 2)

    public nonisolated var unownedExecutor: UnownedSerialExecutor {
        writerLoop.executor.asUnownedSerialExecutor()
    }

    /// The audit journal's thread: the audit trail's commits (``commitIndexingLater(_:)``) run there, never behind
    /// the writer's moves and imports.
    public nonisolated var commitExecutor: UnownedSerialExecutor { journalFile.unownedExecutor }

    public init(path: String) throws {
        self.path = path
        writerLoop = Self.writerThreads.next()
        readers = SQLiteReaders(path: path)
        walSync = SQLiteWALSync(databasePath: path, executor: writerLoop.executor.asUnownedSerialExecutor())
        checkpointer = SQLiteCheckpointer(path: path)
        db = try SQLiteConnection(path: path)
        // wal_autocheckpoint: checkpoints run beside the writer (``SQLiteCheckpointer``); the writer's own is only a
        // backstop. cache_size: 64 MB of pages for the writer (the default 2 MB rereads index pages on every commit).
        try db.exec("""
            PRAGMA busy_timeout=10000; PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;
            PRAGMA wal_autocheckpoint=\(SQLiteCheckpointer.backstopPages); PRAGMA cache_size=-65536;
            """)
        try Self.migrate(db)
        try Self.reindexPending(db)
        // AuditEvents a store that stopped had journaled and not moved (each move synced at its commit: synchronous
        // is FULL until the end of this initializer), then deleted from the journal.
        journalFile = try SQLiteJournalFile(storePath: path)
        try Self.moveLegacyJournal(db, auditJournal)
        while true {
            let rows = try journalFile.rows(after: auditJournal.movedThrough, limit: Self.moveChunk)
            if rows.isEmpty { break }
            try Self.moveJournalChunk(db, auditJournal, rows)
        }
        if auditJournal.movedThrough > 0 { try journalFile.forgetBeforeUse(through: auditJournal.movedThrough) }
        journalForgottenThrough = auditJournal.movedThrough
        // From here on commits do not fsync inside the write lock; each writing method awaits the group fsync
        // (``SQLiteWALSync``) before it returns.
        try db.exec("PRAGMA synchronous=NORMAL")
    }

    /// Returns once what this store committed so far is on disk (see ``SQLiteWALSync``). Every writing method calls
    /// it after its transaction, outside it: the actor is free meanwhile, so the next transaction writes while this
    /// one's fsync runs.
    func durable() async throws {
        try await walSync.durable()
        checkpointer.nudge()
    }

    static func migrate(_ db: SQLiteConnection) throws {
        try db.exec("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL)")
        var applied = Set<Int>()
        try db.query("SELECT version FROM schema_migrations") { row in applied.insert(Int(row.int(0))) }
        for migration in StoreSchema.sqlite where !applied.contains(migration.version) {
            try db.exec("BEGIN IMMEDIATE")
            do {
                try db.exec(migration.sql)
                try db.run("INSERT INTO schema_migrations (version, description, applied_at) VALUES (?, ?, ?)",
                           [.int(Int64(migration.version)), .text(migration.description), .text(Instant.format(Date()))])
                try db.exec("COMMIT")
            } catch {
                try? db.exec("ROLLBACK")
                throw error
            }
        }
    }

    public func commit(_ unit: [PreparedRecord], batch: Int64?) async throws -> [RecordOutcome] {
        guard !unit.isEmpty else { return [] }
        try await settleJournal(before: unit)
        let outcomes = try write(unit, batch: batch, message: nil) ?? []
        try await durable()
        return outcomes
    }

    public func commit(_ unit: [PreparedRecord], batch: Int64?, message: MessageKey) async throws -> [RecordOutcome]? {
        try await settleJournal(before: unit)
        let outcomes = try write(unit, batch: batch, message: message)
        try await durable()
        return outcomes
    }

    public nonisolated func received(_ message: MessageKey) async throws -> Bool {
        try readers.read { db in
            var found = false
            try db.query("SELECT 1 FROM received_messages WHERE sender = ? AND control_id = ? AND payload_hash = ?",
                         [.text(message.sender), .text(message.controlId), .blob(message.payloadHash)]) { _ in found = true }
            return found
        }
    }

    /// A unit holding AuditEvents is versioned after the journaled ones (SQLiteStore+AuditJournal).
    private func settleJournal(before unit: [PreparedRecord]) async throws {
        if unit.contains(where: { DeferredIndex.types.contains($0.key.type) }) { try await flushDeferredIndex() }
    }

    /// One transaction: the message's row (nil, and nothing written, if it exists), then the unit's versions.
    private func write(_ unit: [PreparedRecord], batch: Int64?, message: MessageKey?) throws -> [RecordOutcome]? {
        try db.exec("BEGIN IMMEDIATE")
        do {
            if let message {
                // The write lock is held from BEGIN IMMEDIATE: no other writer can insert between the check and
                // the insert.
                var seen = false
                try db.query("SELECT 1 FROM received_messages WHERE sender = ? AND control_id = ? AND payload_hash = ?",
                             [.text(message.sender), .text(message.controlId), .blob(message.payloadHash)]) { _ in seen = true }
                if seen {
                    try db.exec("ROLLBACK")
                    return nil
                }
                try db.run("INSERT INTO received_messages (sender, control_id, payload_hash, import_batch, received_at) VALUES (?, ?, ?, ?, ?)",
                           [.text(message.sender), .text(message.controlId), .blob(message.payloadHash), batch.map(SQLiteValue.int) ?? .null,
                            .text(Instant.format(Date()))])
            }
            var current: [RecordKey: (version: Int, contentHash: [UInt8])] = [:]
            let select = try db.cachedStatement("SELECT version_id, content_hash FROM records WHERE resource_type = ? AND id = ?")
            for key in Set(unit.map(\.key)) {
                try select.reset([.text(key.type), .text(key.id)])
                if try select.step() { current[key] = (Int(select.int(0)), select.blob(1)) }
            }
            select.finish()
            let (outcomes, rows) = try VersionPlanner.plan(unit, current: current, lastUpdated: Instant.format(Date()))
            if !rows.isEmpty {
                try db.run("UPDATE txid_counter SET value = value + 1")
                var txid: Int64 = 0
                try db.query("SELECT value FROM txid_counter") { txid = $0.int(0) }
                let insertVersion = try db.cachedStatement("""
                    INSERT INTO record_versions (txid, patient_key, resource_type, id, version_id, last_updated, content_hash, canonical_hash, salt, commitment, canonical, import_batch)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """)
                let upsert = try db.cachedStatement("""
                    INSERT INTO records (patient_key, resource_type, id, version_id, txid, last_updated, content_hash) VALUES (?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (resource_type, id) DO UPDATE SET patient_key = excluded.patient_key, version_id = excluded.version_id, txid = excluded.txid,
                    last_updated = excluded.last_updated, content_hash = excluded.content_hash
                    """)
                let clearIndex = try db.cachedStatement("DELETE FROM search_index WHERE resource_type = ? AND id = ?")
                let insertIndex = try db.cachedStatement(SearchIndexRows.sqliteInsert)
                for row in rows {
                    let type = SQLiteValue.text(row.key.type), id = SQLiteValue.text(row.key.id), version = SQLiteValue.int(Int64(row.version))
                    let patient = SQLiteValue.text(row.patientKey)
                    try insertVersion.run([.int(txid), patient, type, id, version, .text(row.lastUpdated), .blob(row.contentHash), .blob(row.canonicalHash),
                                           .blob(row.salt), .blob(row.commitment), .text(String(decoding: row.canonical, as: UTF8.self)),
                                           batch.map(SQLiteValue.int) ?? .null])
                    try upsert.run([patient, type, id, version, .int(txid), .text(row.lastUpdated), .blob(row.contentHash)])
                    if row.isUpdate { try clearIndex.run([type, id]) }
                    for e in row.index {
                        try insertIndex.run(SearchIndexRows.sqliteValues(patient, type, id, e))
                    }
                }
            }
            try db.exec("COMMIT")
            return outcomes
        } catch {
            try? db.exec("ROLLBACK")
            throw error
        }
    }

    public func beginBatch(source: String, format: String) async throws -> Int64 {
        try db.run("INSERT INTO import_batches (source, format, started_at) VALUES (?, ?, ?)", [.text(source), .text(format), .text(Instant.format(Date()))])
        let id = db.lastInsertRowID
        try await durable()
        return id
    }

    public func finishBatch(_ id: Int64, counts: BatchCounts) async throws {
        try db.run("UPDATE import_batches SET finished_at = ?, created = ?, updated = ?, unchanged = ?, rejected = ? WHERE id = ?",
                   [.text(Instant.format(Date())), .int(Int64(counts.created)), .int(Int64(counts.updated)), .int(Int64(counts.unchanged)),
                    .int(Int64(counts.rejected)), .int(id)])
        try await durable()
    }

    public func addDeadLetter(_ letter: DeadLetter) async throws -> Int64 {
        // The same unit rejected again (a re-run after a crash) keeps its one open dead letter.
        var existing: Int64?
        try db.query("SELECT id FROM dead_letters WHERE resolved_at IS NULL AND source = ? AND location = ? AND raw = ? ORDER BY id LIMIT 1",
                     [.text(letter.source), .text(letter.location), .blob(letter.raw)]) { existing = $0.int(0) }
        if let existing {
            try await durable()
            return existing
        }
        try db.run("INSERT INTO dead_letters (import_batch, source, location, format, raw, outcome, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                   [letter.batch.map(SQLiteValue.int) ?? .null, .text(letter.source), .text(letter.location), .text(letter.format),
                    .blob(letter.raw), .text(letter.outcome), .text(letter.createdAt)])
        let id = db.lastInsertRowID
        try await durable()
        return id
    }

    private static let deadLetterColumns = "id, import_batch, source, location, format, raw, outcome, created_at, resolved_at"

    private static func deadLetter(_ row: SQLiteRow) -> DeadLetter {
        DeadLetter(id: row.int(0), batch: row.isNull(1) ? nil : row.int(1), source: row.text(2), location: row.text(3), format: row.text(4),
                   raw: row.blob(5), outcome: row.text(6), createdAt: row.text(7), resolvedAt: row.isNull(8) ? nil : row.text(8))
    }

    public nonisolated func deadLetters(includeResolved: Bool) async throws -> [DeadLetter] {
        try readers.read { db in
            var out: [DeadLetter] = []
            try db.query("SELECT \(Self.deadLetterColumns) FROM dead_letters \(includeResolved ? "" : "WHERE resolved_at IS NULL ")ORDER BY id") { out.append(Self.deadLetter($0)) }
            return out
        }
    }

    public nonisolated func deadLetter(id: Int64) async throws -> DeadLetter? {
        try readers.read { db in
            var out: DeadLetter?
            try db.query("SELECT \(Self.deadLetterColumns) FROM dead_letters WHERE id = ?", [.int(id)]) { out = Self.deadLetter($0) }
            return out
        }
    }

    public func resolveDeadLetter(id: Int64) async throws {
        try db.run("UPDATE dead_letters SET resolved_at = ? WHERE id = ?", [.text(Instant.format(Date())), .int(id)])
        try await durable()
    }

    public nonisolated func countsByType() async throws -> [(type: String, count: Int)] {
        try await settleJournal(nil)
        return try readers.read { db in
            var out: [(type: String, count: Int)] = []
            try db.query("SELECT resource_type, count(*) FROM records GROUP BY resource_type ORDER BY resource_type") { out.append(($0.text(0), Int($0.int(1)))) }
            return out
        }
    }

    public nonisolated func versionCount() async throws -> Int {
        try await settleJournal(nil)
        return try readers.read { db in
            var n = 0
            try db.query("SELECT count(*) FROM record_versions") { n = Int($0.int(0)) }
            return n
        }
    }

    static let versionColumns = "v.resource_type, v.id, v.version_id, v.txid, v.last_updated, v.content_hash, v.canonical_hash, v.salt, v.commitment, v.canonical"

    static func version(_ row: SQLiteRow) -> StoredVersion {
        StoredVersion(key: RecordKey(type: row.text(0), id: row.text(1)), version: Int(row.int(2)), txid: row.int(3), lastUpdated: row.text(4),
                      contentHash: row.blob(5), canonicalHash: row.blob(6), salt: row.blob(7), commitment: row.blob(8), canonical: Array(row.text(9).utf8))
    }

    public nonisolated func current(_ key: RecordKey) async throws -> StoredVersion? {
        try await settleJournal(key.type)
        return try readers.read { db in
            var out: StoredVersion?
            try db.query("""
                SELECT \(Self.versionColumns)
                FROM records r JOIN record_versions v ON v.resource_type = r.resource_type AND v.id = r.id AND v.version_id = r.version_id
                WHERE r.resource_type = ? AND r.id = ?
                """, [.text(key.type), .text(key.id)]) { out = Self.version($0) }
            return out
        }
    }

    public nonisolated func versions(_ key: RecordKey) async throws -> [StoredVersion] {
        try await settleJournal(key.type)
        return try readers.read { db in
            var out: [StoredVersion] = []
            try db.query("SELECT \(Self.versionColumns) FROM record_versions v WHERE v.resource_type = ? AND v.id = ? ORDER BY v.version_id",
                         [.text(key.type), .text(key.id)]) { out.append(Self.version($0)) }
            return out
        }
    }

    public nonisolated func resolveIdentifier(type: String, system: String?, value: String) async throws -> [String] {
        try await settleJournal(type)
        return try readers.read { db in
            var out: [String] = []
            if let system {
                try db.query("SELECT DISTINCT id FROM search_index WHERE resource_type = ? AND param = 'identifier' AND value = ? AND system = ? ORDER BY id",
                             [.text(type), .text(value), .text(system)]) { out.append($0.text(0)) }
            } else {
                try db.query("SELECT DISTINCT id FROM search_index WHERE resource_type = ? AND param = 'identifier' AND value = ? ORDER BY id",
                             [.text(type), .text(value)]) { out.append($0.text(0)) }
            }
            return out
        }
    }

    public nonisolated func search(type: String, param: String, value: String) async throws -> [String] {
        try await settleJournal(type)
        return try readers.read { db in
            var out: [String] = []
            try db.query("SELECT DISTINCT id FROM search_index WHERE resource_type = ? AND param = ? AND value = ? ORDER BY id",
                         [.text(type), .text(param), .text(value)]) { out.append($0.text(0)) }
            return out
        }
    }

    public nonisolated func anchorQueueCount() async throws -> Int {
        try await settleJournal(nil)
        return try readers.read { db in
            var n = 0
            try db.query("SELECT count(*) FROM anchor_queue") { n = Int($0.int(0)) }
            return n
        }
    }

    /// Counts journaled AuditEvents (each will be one queued version) without moving them: a move per check (from
    /// the node's process, fifty times a second) took the write lock from the gateway's journal moves and imports.
    /// Rows another store instance moved a moment ago may be counted twice until it deletes them from the journal.
    public nonisolated func anchorQueueCount(upTo limit: Int) async throws -> Int {
        let queued = try readers.read { db in
            var n = 0
            try db.query("SELECT count(*) FROM (SELECT 1 FROM anchor_queue LIMIT ?)", [.int(Int64(limit))]) { n = Int($0.int(0)) }
            return n
        }
        return try min(limit, queued + journalFile.count(after: auditJournal.movedThrough))
    }

    public nonisolated func version(_ key: RecordKey, _ version: Int) async throws -> StoredVersion? {
        try await settleJournal(key.type)
        return try readers.read { db in
            var out: StoredVersion?
            try db.query("SELECT \(Self.versionColumns) FROM record_versions v WHERE v.resource_type = ? AND v.id = ? AND v.version_id = ?",
                         [.text(key.type), .text(key.id), .int(Int64(version))]) { out = Self.version($0) }
            return out
        }
    }

    public nonisolated func anchorQueue(limit: Int) async throws -> [QueuedCommitment] {
        try await settleJournal(nil)
        return try readers.read { db in
            guard limit > 0 else { return [] }
            var out: [QueuedCommitment] = []
            out.reserveCapacity(min(limit, 10_000))
            try db.query("SELECT txid, resource_type, id, version_id, commitment FROM anchor_queue ORDER BY txid, resource_type, id, version_id LIMIT ?",
                         [.int(Int64(limit))]) { row in
                out.append(QueuedCommitment(txid: row.int(0), key: RecordKey(type: row.text(1), id: row.text(2)), version: Int(row.int(3)), commitment: row.blob(4)))
            }
            return out
        }
    }

    public func createAnchorBatch(root: [UInt8], firstTxid: Int64, lastTxid: Int64, checkpoint: String,
                                  leaves: [(key: RecordKey, version: Int)]) async throws -> Int64 {
        guard !leaves.isEmpty else { throw AnchorBatchFailure.empty }
        let id: Int64
        try db.exec("BEGIN IMMEDIATE")
        do {
            try db.run("INSERT INTO anchor_batches (root, leaf_count, first_txid, last_txid, checkpoint) VALUES (?, ?, ?, ?, ?) ON CONFLICT (root) DO NOTHING",
                       [.blob(root), .int(Int64(leaves.count)), .int(firstTxid), .int(lastTxid), .text(checkpoint)])
            guard db.changes == 1 else {
                var existing: Int64 = 0
                try db.query("SELECT id FROM anchor_batches WHERE root = ?", [.blob(root)]) { existing = $0.int(0) }
                throw AnchorBatchFailure.sameRoot(as: existing)
            }
            id = db.lastInsertRowID
            // One prepared statement for every leaf: a version already in a batch (or listed twice) is not matched.
            let update = try db.prepare("""
                UPDATE record_versions SET anchor_batch = ?, anchor_leaf = ?
                WHERE resource_type = ? AND id = ? AND version_id = ? AND anchor_batch IS NULL
                """)
            for (leaf, (key, version)) in leaves.enumerated() {
                try update.run([.int(id), .int(Int64(leaf)), .text(key.type), .text(key.id), .int(Int64(version))])
                if db.changes != 1 { throw try unbatchable(key, version, batch: id) }
            }
            try db.exec("COMMIT")
        } catch {
            try? db.exec("ROLLBACK")
            throw error
        }
        try await durable()
        return id
    }

    /// Why a leaf's version could not join batch `id`.
    private func unbatchable(_ key: RecordKey, _ version: Int, batch id: Int64) throws -> StoreError {
        var batch: Int64?
        try db.query("SELECT anchor_batch FROM record_versions WHERE resource_type = ? AND id = ? AND version_id = ? AND anchor_batch IS NOT NULL",
                     [.text(key.type), .text(key.id), .int(Int64(version))]) { batch = $0.int(0) }
        // The statement matches a queued version, so the version is either missing or in a batch already.
        guard let batch else { return AnchorBatchFailure.missing(key, version) }
        return batch == id ? AnchorBatchFailure.listedTwice(key, version) : AnchorBatchFailure.alreadyBatched(key, version, batch: batch)
    }

    public func completeAnchorBatch(id: Int64, height: Int64, transactionIndex: Int) async throws {
        try db.exec("BEGIN IMMEDIATE")
        do {
            try db.run("UPDATE anchor_batches SET height = ?, tx_index = ? WHERE id = ?", [.int(height), .int(Int64(transactionIndex)), .int(id)])
            guard db.changes == 1 else { throw StoreError("completing anchor batch \(id)", "there is no such batch") }
            try db.exec("COMMIT")
        } catch {
            try? db.exec("ROLLBACK")
            throw error
        }
        try await durable()
    }

    private static let batchColumns = "id, root, leaf_count, first_txid, last_txid, checkpoint, height, tx_index"

    private static func batch(_ row: SQLiteRow) -> AnchorBatchRow {
        AnchorBatchRow(id: row.int(0), root: row.blob(1), leafCount: Int(row.int(2)), firstTxid: row.int(3), lastTxid: row.int(4),
                       checkpoint: row.text(5), height: row.isNull(6) ? nil : row.int(6), transactionIndex: row.isNull(7) ? nil : Int(row.int(7)))
    }

    public nonisolated func pendingAnchorBatches() async throws -> [AnchorBatchRow] {
        try readers.read { db in
            var out: [AnchorBatchRow] = []
            try db.query("SELECT \(Self.batchColumns) FROM anchor_batches WHERE height IS NULL ORDER BY id") { out.append(Self.batch($0)) }
            return out
        }
    }

    public nonisolated func anchorBatch(id: Int64) async throws -> AnchorBatchRow? {
        try readers.read { db in
            var out: AnchorBatchRow?
            try db.query("SELECT \(Self.batchColumns) FROM anchor_batches WHERE id = ?", [.int(id)]) { out = Self.batch($0) }
            return out
        }
    }

    public nonisolated func batchLeaves(_ batch: Int64) async throws -> [BatchLeaf] {
        try readers.read { db in
            var out: [BatchLeaf] = []
            try db.query("SELECT resource_type, id, version_id, commitment FROM record_versions WHERE anchor_batch = ? ORDER BY anchor_leaf", [.int(batch)]) { row in
                out.append(BatchLeaf(key: RecordKey(type: row.text(0), id: row.text(1)), version: Int(row.int(2)), commitment: row.blob(3)))
            }
            return out
        }
    }

    public nonisolated func anchorLocation(_ key: RecordKey, version: Int) async throws -> AnchorLocation? {
        try await settleJournal(key.type)
        return try readers.read { db in
            var out: AnchorLocation?
            try db.query("""
                SELECT v.anchor_batch, v.anchor_leaf, b.height FROM record_versions v JOIN anchor_batches b ON b.id = v.anchor_batch
                WHERE v.resource_type = ? AND v.id = ? AND v.version_id = ?
                """, [.text(key.type), .text(key.id), .int(Int64(version))]) { row in
                out = AnchorLocation(batch: row.int(0), leaf: Int(row.int(1)), height: row.isNull(2) ? nil : row.int(2))
            }
            return out
        }
    }

    public func close() async throws {
        try? await flushDeferredIndex()
        await journalFile.close()
        checkpointer.close()
        readers.close()
        db.close()
    }
}

