import FHIRCore
import Foundation
import Synchronization

/// The audit journal (docs/store.md, "AuditEvents: journaled, then moved in bulk").
///
/// An audited partner read must not answer before its AuditEvent is durably stored. Stored as a record (a version
/// row with five indexes, a current-record row, about twenty search-index rows) in each group commit of a few
/// AuditEvents, it was most of the SQLite writer's time per read: every commit rewrote dozens of pages of those
/// B-trees. Journaled, an AuditEvent is one row appended to the journal, already planned as it will be stored
/// (version 1, served canonical JSON, salt, commitment), and the commit is as durable as any. The journal is a
/// database file of its own (``SQLiteJournalFile``), appended to on a thread of its own, so an audit commit never
/// waits for the store's writer. The journal is moved into the records in bulk, up to ``moveChunk`` rows per
/// transaction: shortly after (``DeferredIndex/flushCount`` rows waiting, or ``DeferredIndex/flushDelay``), and
/// before anything reads what it holds.
///
/// Reads see every journaled AuditEvent: each read that can return AuditEvents (by type or key, by search
/// (``DeferredIndex/reaches(_:)``), history, the anchoring queue) first moves the journal, also rows another store
/// instance on the same file journaled; a store opened after a crash moves what its predecessor left.
extension SQLiteStore {
    /// The most journal rows one moving transaction takes; reads waiting for the writer go between two.
    static let moveChunk = 64

    /// Journals a unit of new AuditEvents on the journal's thread (not the writer's); any other unit is committed
    /// as usual. AuditEvent ids are fresh (``RecordStore/commitIndexingLater(_:)``): one already stored, or journaled
    /// by this store, is versioned by an ordinary commit after the journal is moved.
    public nonisolated func commitIndexingLater(_ unit: [PreparedRecord]) async throws -> [RecordOutcome] {
        guard !unit.isEmpty else { return [] }
        if let (outcomes, rows) = try journalable(unit) {
            try await journalFile.append(rows, journal: auditJournal)
            scheduleJournalMove()
            return outcomes
        }
        return try await commit(unit, batch: nil)
    }

    /// The unit planned as version 1 of each of its records; nil when a record of it is not a new AuditEvent.
    private nonisolated func journalable(_ unit: [PreparedRecord]) throws -> ([RecordOutcome], [VersionRow])? {
        let keys = Set(unit.map(\.key))
        guard keys.count == unit.count,
              unit.allSatisfy({ DeferredIndex.types.contains($0.key.type) && ($0.expectedVersion ?? 0) == 0 }),
              !keys.contains(where: auditJournal.contains) else { return nil }
        let stored = try readers.read { db -> Bool in
            var found = false
            for key in keys where !found {
                try db.query("SELECT 1 FROM records WHERE resource_type = ? AND id = ?", [.text(key.type), .text(key.id)]) { _ in found = true }
            }
            return found
        }
        if stored { return nil }
        return try VersionPlanner.plan(unit, current: [:], lastUpdated: Instant.format(Date()))
    }

    /// After a journal commit: the journal is moved at once when ``DeferredIndex/flushCount`` rows wait, else
    /// within ``DeferredIndex/flushDelay``, in a task of its own after the commit's callers were let go.
    nonisolated func scheduleJournalMove() {
        guard movesJournalInBackground.load(ordering: .relaxed),
              let delay = journalMoves.claim(waiting: auditJournal.count, delay: DeferredIndex.flushDelay) else { return }
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
    nonisolated func holdJournal() {
        movesJournalInBackground.store(false, ordering: .relaxed)
    }

    /// Moves the whole journal file into the records (the rows of other store instances as well), then, once the
    /// moves are on disk, deletes the moved rows from the journal.
    public func flushDeferredIndex() async throws {
        while true {
            let known = auditJournal.lastJournaled
            let rows = try journalFile.rows(after: auditJournal.movedThrough, limit: Self.moveChunk)
            // Rows this store journaled that another instance (the node's process) moved and deleted meanwhile.
            auditJournal.forgetGone(before: rows.first?.seq ?? .max, upTo: known)
            if rows.isEmpty { break }
            try Self.moveJournalChunk(db, auditJournal, rows)
            // Reads and commits that queued behind this chunk go first.
            await Task.yield()
        }
        let moved = auditJournal.movedThrough
        guard moved > journalForgottenThrough else { return }
        // Everything committed so far, these moves included, on disk before the journal lets the rows go.
        try await durable()
        if moved > journalForgottenThrough {
            try await journalFile.forget(through: moved)
            journalForgottenThrough = max(journalForgottenThrough, moved)
        }
    }

    /// Before a read that can return what `type`'s records (nil: any type's) hold: moves the journal if it holds
    /// anything not moved. A read of another type goes on at once.
    nonisolated func settleJournal(_ type: String?) async throws {
        if let type, !DeferredIndex.types.contains(type) { return }
        // Rows another store instance on this file journaled are only in the file.
        if auditJournal.count == 0, try journalFile.count(after: auditJournal.movedThrough) == 0 { return }
        try await flushDeferredIndex()
    }

    /// One moving transaction: the journal rows `rows` (consecutive, oldest first) become versions and current
    /// records under one new txid, with their search-index rows in the index's key order. A version already stored
    /// (another store instance moved the row first, or a crash came between a move and the journal's delete) is
    /// kept as it is and not indexed again.
    ///
    /// - Parameter legacy: rows of the `audit_journal` table that stores before the journal file kept in the
    ///   store's own file (migration 40); deleted in the same transaction.
    static func moveJournalChunk(_ db: SQLiteConnection, _ journal: SQLiteAuditJournal, _ rows: [JournalRow], legacy: Bool = false) throws {
        guard let first = rows.first?.seq, let last = rows.last?.seq else { return }
        try db.exec("BEGIN IMMEDIATE")
        do {
            try db.run("UPDATE txid_counter SET value = value + 1")
            var txid: Int64 = 0
            try db.query("SELECT value FROM txid_counter") { txid = $0.int(0) }
            let version = try db.cachedStatement("""
                INSERT OR IGNORE INTO record_versions (txid, patient_key, resource_type, id, version_id, last_updated, content_hash, canonical_hash, salt, commitment, canonical)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
            let record = try db.cachedStatement("""
                INSERT INTO records (patient_key, resource_type, id, version_id, txid, last_updated, content_hash) VALUES (?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (resource_type, id) DO NOTHING
                """)
            var pending: [DeferredIndex.Pending] = []
            pending.reserveCapacity(rows.count)
            for row in rows {
                try version.run(row.versionValues(txid: txid))
                guard db.changes == 1 else { continue }
                try record.run([.text(row.patientKey), .text(row.key.type), .text(row.key.id), .int(Int64(row.version)), .int(txid),
                                .text(row.lastUpdated), .blob(row.contentHash)])
                // Journaled by another store instance (or one that stopped): indexed from the stored JSON.
                let index = (legacy ? nil : journal.row(row.seq)?.index) ?? SearchIndexRows.entries(canonical: Array(row.canonical.utf8))
                pending.append(DeferredIndex.Pending(key: row.key, patientKey: row.patientKey, index: index))
            }
            let insert = try db.cachedStatement(SearchIndexRows.sqliteInsert)
            for entry in DeferredIndex.sortedRows(pending) {
                try insert.run(SearchIndexRows.sqliteValues(.text(entry.patientKey), .text(entry.key.type), .text(entry.key.id), entry.entry))
            }
            if legacy { try db.run("DELETE FROM audit_journal WHERE seq BETWEEN ? AND ?", [.int(first), .int(last)]) }
            try db.exec("COMMIT")
        } catch {
            try? db.exec("ROLLBACK")
            throw error
        }
        if !legacy { journal.moved(rows.map(\.seq), through: last) }
    }

    /// Moves what the store's own `audit_journal` table still holds (journaled before the journal had a file of
    /// its own), when the store is opened.
    static func moveLegacyJournal(_ db: SQLiteConnection, _ journal: SQLiteAuditJournal) throws {
        while true {
            var rows: [JournalRow] = []
            try db.query("""
                SELECT \(JournalRow.columns) FROM audit_journal ORDER BY seq LIMIT ?
                """, [.int(Int64(moveChunk))]) { rows.append(JournalRow($0)) }
            if rows.isEmpty { return }
            try moveJournalChunk(db, journal, rows, legacy: true)
        }
    }
}
