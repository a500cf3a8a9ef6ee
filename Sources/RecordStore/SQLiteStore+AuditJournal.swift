import FHIRCore
import Foundation

/// The audit journal (docs/store.md, "AuditEvents: journaled, then moved in bulk").
///
/// An audited partner read must not answer before its AuditEvent is durably stored. Stored as a record (a version
/// row with five indexes, a current-record row, about twenty search-index rows) in each group commit of a few
/// AuditEvents, it was most of the SQLite writer's time per read: every commit rewrote dozens of pages of those
/// B-trees. Journaled, an AuditEvent is one row appended to `audit_journal`, already planned as it will be stored
/// (version 1, served canonical JSON, salt, commitment), and the commit is as durable as any. The journal is moved
/// into the records in bulk, up to ``moveChunk`` rows per transaction: shortly after (``DeferredIndex/flushCount``
/// rows waiting, or ``DeferredIndex/flushDelay``), and before anything reads what it holds.
///
/// Reads see every journaled AuditEvent: each read that can return AuditEvents (by type or key, by search
/// (``DeferredIndex/reaches(_:)``), history, counts, the anchoring queue) first moves the journal, also rows another
/// store instance on the same file journaled; a store opened after a crash moves what its predecessor left.
extension SQLiteStore {
    /// The most journal rows one moving transaction takes; commits that queued meanwhile go between two, so a move
    /// delays an audited read by one chunk at most.
    static let moveChunk = 64

    public func commitIndexingLater(_ unit: [PreparedRecord]) async throws -> [RecordOutcome] {
        guard !unit.isEmpty else { return [] }
        if let outcomes = try journal(unit) {
            scheduleJournalMove()
            try await durable()
            return outcomes
        }
        // Not journaled (a record that exists already, or not an AuditEvent): stored as any unit, after what the
        // journal holds, so versions stay in order.
        return try await commit(unit, batch: nil)
    }

    /// Appends the unit to the journal in one transaction; nil (nothing written) when a record of it is not a new
    /// AuditEvent, which only an ordinary commit can version.
    private func journal(_ unit: [PreparedRecord]) throws -> [RecordOutcome]? {
        let keys = Set(unit.map(\.key))
        guard keys.count == unit.count,
              unit.allSatisfy({ DeferredIndex.types.contains($0.key.type) && ($0.expectedVersion ?? 0) == 0 }),
              !keys.contains(where: auditJournal.contains) else { return nil }
        try db.exec("BEGIN IMMEDIATE")
        do {
            let exists = try db.cachedStatement("SELECT 1 FROM records WHERE resource_type = ? AND id = ?")
            for key in keys {
                try exists.reset([.text(key.type), .text(key.id)])
                if try exists.step() {
                    exists.finish()
                    try db.exec("ROLLBACK")
                    return nil
                }
            }
            exists.finish()
            let (outcomes, rows) = try VersionPlanner.plan(unit, current: [:], lastUpdated: Instant.format(Date()))
            let insert = try db.cachedStatement("""
                INSERT INTO audit_journal (resource_type, id, version_id, patient_key, last_updated, content_hash, canonical_hash, salt, commitment, canonical)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
            var journaled: [(seq: Int64, row: VersionRow)] = []
            for row in rows {
                try insert.run([.text(row.key.type), .text(row.key.id), .int(Int64(row.version)), .text(row.patientKey), .text(row.lastUpdated),
                                .blob(row.contentHash), .blob(row.canonicalHash), .blob(row.salt), .blob(row.commitment),
                                .text(String(decoding: row.canonical, as: UTF8.self))])
                journaled.append((db.lastInsertRowID, row))
            }
            try db.exec("COMMIT")
            auditJournal.add(journaled)
            return outcomes
        } catch {
            try? db.exec("ROLLBACK")
            throw error
        }
    }

    /// After a journal commit: the journal is moved at once when ``DeferredIndex/flushCount`` rows wait, else
    /// within ``DeferredIndex/flushDelay``, as a job of its own on this actor after the commit's callers were let go.
    func scheduleJournalMove() {
        guard movesJournalInBackground, let delay = journalMoves.claim(waiting: auditJournal.count, delay: DeferredIndex.flushDelay) else { return }
        Task {
            if delay > .zero { try? await Task.sleep(for: delay) }
            await self.scheduledMove(after: delay)
        }
    }

    private func scheduledMove(after delay: Duration) async {
        journalMoves.started(after: delay)
        // A failed move leaves the rows in the journal; the next move (or a read) retries.
        try? await flushDeferredIndex()
        scheduleJournalMove()
    }

    /// Tests: the journal is moved only by reads, ``flushDeferredIndex()`` and closing, as a store that stops
    /// before its background move leaves it.
    func holdJournal() {
        movesJournalInBackground = false
    }

    /// Moves the whole journal into the records (the rows of other store instances on the file as well).
    public func flushDeferredIndex() async throws {
        while try Self.moveJournalChunk(db, auditJournal) {
            // Commits that queued behind this chunk go first.
            await Task.yield()
        }
    }

    /// Before a read that can return what `type`'s records (nil: any type's) hold: moves the journal if it holds
    /// anything. A read of another type goes on at once.
    nonisolated func settleJournal(_ type: String?) async throws {
        if let type, !DeferredIndex.types.contains(type) { return }
        if auditJournal.count == 0 {
            // Rows another store instance on this file journaled.
            let foreign = try readers.read { db in
                var found = false
                try db.query("SELECT 1 FROM audit_journal LIMIT 1") { _ in found = true }
                return found
            }
            guard foreign else { return }
        }
        try await flushDeferredIndex()
    }

    /// One moving transaction: up to ``moveChunk`` journal rows, oldest first, become versions and current records
    /// under one new txid, with their search-index rows in the index's key order, and leave the journal. False when
    /// the journal was empty.
    static func moveJournalChunk(_ db: SQLiteConnection, _ journal: SQLiteAuditJournal) throws -> Bool {
        try db.exec("BEGIN IMMEDIATE")
        do {
            var chunk: [(seq: Int64, key: RecordKey, patientKey: String)] = []
            try db.query("SELECT seq, resource_type, id, patient_key FROM audit_journal ORDER BY seq LIMIT ?", [.int(Int64(moveChunk))]) { row in
                chunk.append((row.int(0), RecordKey(type: row.text(1), id: row.text(2)), row.text(3)))
            }
            guard let first = chunk.first?.seq, let last = chunk.last?.seq else {
                try db.exec("COMMIT")
                return false
            }
            try db.run("UPDATE txid_counter SET value = value + 1")
            var txid: Int64 = 0
            try db.query("SELECT value FROM txid_counter") { txid = $0.int(0) }
            let range: [SQLiteValue] = [.int(txid), .int(first), .int(last)]
            // A version already stored (another instance moved the row first) is kept, and its index is not doubled.
            try db.cachedStatement("""
                INSERT OR IGNORE INTO record_versions (txid, patient_key, resource_type, id, version_id, last_updated, content_hash, canonical_hash, salt, commitment, canonical)
                SELECT ?1, patient_key, resource_type, id, version_id, last_updated, content_hash, canonical_hash, salt, commitment, canonical
                FROM audit_journal WHERE seq BETWEEN ?2 AND ?3 ORDER BY seq
                """).run(range)
            try db.cachedStatement("""
                INSERT INTO records (patient_key, resource_type, id, version_id, txid, last_updated, content_hash)
                SELECT patient_key, resource_type, id, version_id, ?1, last_updated, content_hash FROM audit_journal WHERE seq BETWEEN ?2 AND ?3
                ON CONFLICT (resource_type, id) DO NOTHING
                """).run(range)
            var pending: [DeferredIndex.Pending] = []
            pending.reserveCapacity(chunk.count)
            let canonical = try db.cachedStatement("SELECT canonical FROM audit_journal WHERE seq = ?")
            let moved = try db.cachedStatement("SELECT txid FROM record_versions WHERE resource_type = ? AND id = ? AND version_id = 1")
            for entry in chunk {
                try moved.reset([.text(entry.key.type), .text(entry.key.id)])
                guard try moved.step(), moved.int(0) == txid else { continue }
                if let row = journal.row(entry.seq) {
                    pending.append(DeferredIndex.Pending(key: entry.key, patientKey: entry.patientKey, index: row.index))
                } else {
                    // Journaled by another store instance (or one that stopped): indexed from the stored JSON.
                    try canonical.reset([.int(entry.seq)])
                    guard try canonical.step() else { continue }
                    let index = SearchIndexRows.entries(canonical: Array(SQLiteRow(stmt: canonical.stmt).text(0).utf8))
                    pending.append(DeferredIndex.Pending(key: entry.key, patientKey: entry.patientKey, index: index))
                }
            }
            moved.finish()
            canonical.finish()
            let insert = try db.cachedStatement(SearchIndexRows.sqliteInsert)
            for row in DeferredIndex.sortedRows(pending) {
                try insert.run(SearchIndexRows.sqliteValues(.text(row.patientKey), .text(row.key.type), .text(row.key.id), row.entry))
            }
            try db.cachedStatement("DELETE FROM audit_journal WHERE seq BETWEEN ?1 AND ?2").run([.int(first), .int(last)])
            try db.exec("COMMIT")
            journal.moved(chunk.map(\.seq))
            return true
        } catch {
            try? db.exec("ROLLBACK")
            throw error
        }
    }
}
