import CSQLite
import NIOCore
import NIOPosix

/// The audit journal's own SQLite database, beside the store's file: `<store>-audit` (with its `-wal` and `-shm`),
/// written on a thread of its own (SQLiteStore+AuditJournal, docs/store.md).
///
/// Why not a table of the store's file: a file has one write lock and one WAL. With the journal in the store, each
/// audit commit waited for the move transaction holding the lock (a move of 64 AuditEvents took 6.7 ms at the
/// median, 33 ms at the 99th percentile under the gateway benchmark), and its fsync had to write out the pages every
/// move and anchoring update had dirtied since the last one (about 30 KB of WAL per AuditEvent): the audit commit's
/// median was 2.2 ms and its 99th percentile 28 ms. Here an audit commit waits only for other audit commits, and
/// its fsync covers only journal rows.
///
/// Rows are deleted only after their move into the store is durable (``forget(through:)``), so a crash between the
/// two leaves rows that the next move finds already stored and skips. `seq` is `AUTOINCREMENT`: a deleted row's
/// number is never given again, so "moved through `seq`" stays true of every row at or below it.
actor SQLiteJournalFile {
    /// The file: the store's path with `-audit` appended.
    nonisolated let path: String
    private let db: SQLiteConnection
    /// Read connections: moves and the store's checks read the journal without waiting for this actor.
    nonisolated let readers: SQLiteReaders
    private nonisolated let walSync: SQLiteWALSync
    private nonisolated let checkpointer: SQLiteCheckpointer
    private nonisolated let loop: any EventLoop

    /// The threads journals append on (a journal keeps one): not the stores' writer threads, whose moves and
    /// imports an audit commit must not wait behind.
    static let threads = MultiThreadedEventLoopGroup(numberOfThreads: 2)

    nonisolated var unownedExecutor: UnownedSerialExecutor { loop.executor.asUnownedSerialExecutor() }

    /// The journal's format, in `PRAGMA user_version`.
    static let format: Int64 = 1

    static func path(ofStore store: String) -> String { store + "-audit" }

    /// Opens (creating it if needed) the journal of the store at `storePath`.
    init(storePath: String) throws {
        path = Self.path(ofStore: storePath)
        loop = Self.threads.next()
        readers = SQLiteReaders(path: path, keptIdle: 2)
        walSync = SQLiteWALSync(databasePath: path, executor: loop.executor.asUnownedSerialExecutor())
        checkpointer = SQLiteCheckpointer(path: path)
        db = try SQLiteConnection(path: path)
        try db.exec("""
            PRAGMA busy_timeout=10000; PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;
            PRAGMA wal_autocheckpoint=\(SQLiteCheckpointer.backstopPages);
            CREATE TABLE IF NOT EXISTS audit_journal (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                resource_type TEXT NOT NULL,
                id TEXT NOT NULL,
                version_id INTEGER NOT NULL,
                patient_key TEXT NOT NULL,
                last_updated TEXT NOT NULL,
                content_hash BLOB NOT NULL,
                canonical_hash BLOB NOT NULL,
                salt BLOB NOT NULL,
                commitment BLOB NOT NULL,
                canonical TEXT NOT NULL
            );
            """)
        var format: Int64 = 0
        try db.query("PRAGMA user_version") { format = $0.int(0) }
        if format == 0 {
            try db.exec("PRAGMA user_version=\(Self.format)")
        } else if format != Self.format {
            throw StoreError("opening the audit journal \(path)", "its format is \(format); this version reads format \(Self.format)")
        }
        // As the store: commits do not fsync inside the write lock; ``append(_:journal:)`` awaits the group fsync.
        try db.exec("PRAGMA synchronous=NORMAL")
        db.shortBusyWaits()
    }

    /// Appends `rows` in one transaction, hands them to `journal` (this store's memory of its rows) and returns once
    /// they are on disk.
    func append(_ rows: [VersionRow], journal: SQLiteAuditJournal) async throws {
        try db.exec("BEGIN IMMEDIATE")
        var journaled: [(seq: Int64, row: VersionRow)] = []
        do {
            let insert = try db.cachedStatement("""
                INSERT INTO audit_journal (resource_type, id, version_id, patient_key, last_updated, content_hash, canonical_hash, salt, commitment, canonical)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
            for row in rows {
                try insert.run([.text(row.key.type), .text(row.key.id), .int(Int64(row.version)), .text(row.patientKey), .text(row.lastUpdated),
                                .blob(row.contentHash), .blob(row.canonicalHash), .blob(row.salt), .blob(row.commitment),
                                .text(String(decoding: row.canonical, as: UTF8.self))])
                journaled.append((db.lastInsertRowID, row))
            }
            try db.exec("COMMIT")
        } catch {
            try? db.exec("ROLLBACK")
            throw error
        }
        journal.add(journaled)
        try await walSync.durable()
        checkpointer.nudge()
    }

    /// Deletes the rows up to `seq`, which the store has moved and made durable. Not synced: rows that come back
    /// after a crash are found stored by the next move and skipped.
    func forget(through seq: Int64) throws {
        try db.run("DELETE FROM audit_journal WHERE seq <= ?", [.int(seq)])
    }

    /// ``forget(through:)`` from the caller's thread, synced: only for the store's initializer, which moved the rows
    /// before anything else can use the journal.
    nonisolated func forgetBeforeUse(through seq: Int64) throws {
        try db.exec("PRAGMA synchronous=FULL")
        try db.run("DELETE FROM audit_journal WHERE seq <= ?", [.int(seq)])
        try db.exec("PRAGMA synchronous=NORMAL")
    }

    /// Up to `limit` rows after `seq`, oldest first.
    nonisolated func rows(after seq: Int64, limit: Int) throws -> [JournalRow] {
        try readers.read { db in
            var out: [JournalRow] = []
            try db.query("""
                SELECT \(JournalRow.columns) FROM audit_journal WHERE seq > ? ORDER BY seq LIMIT ?
                """, [.int(seq), .int(Int64(limit))]) { out.append(JournalRow($0)) }
            return out
        }
    }

    /// How many rows after `seq` the file holds (this store's and other instances' not moved yet).
    nonisolated func count(after seq: Int64) throws -> Int {
        try readers.read { db in
            var n = 0
            try db.query("SELECT count(*) FROM audit_journal WHERE seq > ?", [.int(seq)]) { n = Int($0.int(0)) }
            return n
        }
    }

    func close() {
        checkpointer.close()
        readers.close()
        db.close()
    }
}

/// One row of an audit journal: an AuditEvent version planned as it will be stored.
struct JournalRow: Sendable {
    var seq: Int64
    var key: RecordKey
    var version: Int
    var patientKey: String
    var lastUpdated: String
    var contentHash: [UInt8]
    var canonicalHash: [UInt8]
    var salt: [UInt8]
    var commitment: [UInt8]
    var canonical: String

    /// The columns ``init(_:)`` reads, in its order.
    static let columns = "seq, resource_type, id, version_id, patient_key, last_updated, content_hash, canonical_hash, salt, commitment, canonical"

    /// A row of `SELECT` ``columns``.
    init(_ row: SQLiteRow) {
        seq = row.int(0)
        key = RecordKey(type: row.text(1), id: row.text(2))
        version = Int(row.int(3))
        patientKey = row.text(4)
        lastUpdated = row.text(5)
        contentHash = row.blob(6)
        canonicalHash = row.blob(7)
        salt = row.blob(8)
        commitment = row.blob(9)
        canonical = row.text(10)
    }

    /// `canonical` and the rest as the values of an insert into `record_versions` (txid first).
    func versionValues(txid: Int64) -> [SQLiteValue] {
        [.int(txid), .text(patientKey), .text(key.type), .text(key.id), .int(Int64(version)), .text(lastUpdated),
         .blob(contentHash), .blob(canonicalHash), .blob(salt), .blob(commitment), .text(canonical)]
    }
}
