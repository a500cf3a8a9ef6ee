import FHIRCore
import Foundation
@testable import RecordStore
import TestSupport
import Testing

/// AuditEvents stored by `commitIndexingLater` (the audit trail's commits): on SQLite journaled, then moved into the
/// records in bulk. No read misses a journaled AuditEvent, none is lost when the store stops before moving it, and
/// none is moved twice.
@Suite("Audit journal: AuditEvents stored at once, moved into the records in bulk", .timeLimit(.minutes(3)))
struct AuditJournalTests {
    /// Journal rows, versions and index rows of AuditEvent `id`, read on a connection of their own.
    struct Rows: Equatable {
        var journaled = 0, versions = 0, records = 0, index = 0
    }

    static func rows(_ path: String, _ id: String) throws -> Rows {
        let db = try SQLiteConnection(path: path)
        defer { db.close() }
        let journal = try SQLiteConnection(path: SQLiteJournalFile.path(ofStore: path))
        defer { journal.close() }
        var r = Rows()
        let key: [SQLiteValue] = [.text(id)]
        try journal.query("SELECT count(*) FROM audit_journal WHERE resource_type = 'AuditEvent' AND id = ?", key) { r.journaled = Int($0.int(0)) }
        try db.query("SELECT count(*) FROM record_versions WHERE resource_type = 'AuditEvent' AND id = ?", key) { r.versions = Int($0.int(0)) }
        try db.query("SELECT count(*) FROM records WHERE resource_type = 'AuditEvent' AND id = ?", key) { r.records = Int($0.int(0)) }
        try db.query("SELECT count(*) FROM search_index WHERE resource_type = 'AuditEvent' AND id = ?", key) { r.index = Int($0.int(0)) }
        return r
    }

    static func withPath<T>(_ body: (String) async throws -> T) async throws -> T {
        let dir = try Repository.temporaryDirectory("careledger-audit-journal")
        defer { try? FileManager.default.removeItem(at: dir) }
        return try await body(dir.appendingPathComponent("store.sqlite").path)
    }

    static let ae1 = RecordKey(type: "AuditEvent", id: "ae1")

    @Test func aJournaledAuditEventIsReadAtOnce() async throws {
        try await Self.withPath { path in
            let store = try SQLiteStore(path: path)
            store.holdJournal()
            let outcomes = try await store.commitIndexingLater([try AuditEventFixture.event("ae1")])
            #expect(outcomes == [.created(Self.ae1, version: 1)])
            #expect(try Self.rows(path, "ae1") == Rows(journaled: 1), "journaled, not yet a record")

            let read = try #require(try await store.current(Self.ae1))
            #expect(read.version == 1)
            #expect(String(decoding: read.canonical, as: UTF8.self).contains(#""versionId":"1""#))
            let moved = try Self.rows(path, "ae1")
            #expect(moved.journaled == 0 && moved.versions == 1 && moved.records == 1 && moved.index > 0)
            try await store.close()
        }
    }

    @Test func searchesHistoryAndTheAnchoringQueueSeeJournaledAuditEvents() async throws {
        try await Self.withPath { path in
            let store = try SQLiteStore(path: path)
            // Only the reads move the journal here: a background move running beside the count could have moved a row
            // and not yet deleted it from the journal (counted twice, as anchorQueueCount allows), or have the delete
            // still to do when the queue read returns.
            store.holdJournal()
            _ = try await store.commitIndexingLater([try AuditEventFixture.event("ae1")])
            #expect(try await store.search(AuditEventFixture.outcome("0")).matches.map(\.key.id) == ["ae1"])
            _ = try await store.commitIndexingLater([try AuditEventFixture.event("ae2")])
            #expect(try await store.search(type: "AuditEvent", param: "entity", value: "Patient/p1") == ["ae1", "ae2"])
            _ = try await store.commitIndexingLater([try AuditEventFixture.event("ae3")])
            #expect(try await store.history(HistoryQuery(scope: .type("AuditEvent"), count: 10)).versions.count == 3)
            _ = try await store.commitIndexingLater([try AuditEventFixture.event("ae4")])
            // Counted without moving it (the anchoring service counts every 20 ms); the queue itself moves it.
            #expect(try await store.anchorQueueCount() == 4)
            #expect(try await store.anchorQueue(limit: 10).map(\.key.id) == ["ae1", "ae2", "ae3", "ae4"])
            #expect(try Self.rows(path, "ae4").journaled == 0)
            try await store.close()
        }
    }

    @Test func readsOfOtherTypesLeaveThemJournaledUntilTheStoreCloses() async throws {
        try await Self.withPath { path in
            let store = try SQLiteStore(path: path)
            store.holdJournal()
            _ = try await store.commitIndexingLater([try AuditEventFixture.event("ae1")])
            #expect(try await store.current(RecordKey(type: "Patient", id: "p1")) == nil)
            _ = try await store.search(SearchQuery(type: "Patient", clauses: [SearchClause(code: "name", type: .string, values: [SearchValue(text: "x")])]))
            #expect(try Self.rows(path, "ae1").journaled == 1)
            try await store.close()
            let closed = try Self.rows(path, "ae1")
            #expect(closed.journaled == 0 && closed.versions == 1 && closed.index > 0, "closing moved the journal")
        }
    }

    @Test func theJournalIsMovedSoonAfterWithoutARead() async throws {
        try await Self.withPath { path in
            let store = try SQLiteStore(path: path)
            _ = try await store.commitIndexingLater([try AuditEventFixture.event("ae1")])
            // Moved within DeferredIndex.flushDelay (250 ms); bounded generously for a busy machine.
            for _ in 0..<400 where try Self.rows(path, "ae1").journaled > 0 {
                try await Task.sleep(for: .milliseconds(50))
            }
            let moved = try Self.rows(path, "ae1")
            #expect(moved.journaled == 0 && moved.versions == 1 && moved.index > 0)
            try await store.close()
        }
    }

    /// A store that stops before moving its journal (or another process on the same file) leaves the rows: the
    /// next store opened on the file moves them, indexing them from their JSON, and the first store's own move
    /// then finds nothing to do twice.
    @Test func theNextStoreMovesWhatAStoppedOneLeftAndNothingTwice() async throws {
        try await Self.withPath { path in
            let first = try SQLiteStore(path: path)
            first.holdJournal()
            _ = try await first.commitIndexingLater([try AuditEventFixture.event("ae1")])
            #expect(try Self.rows(path, "ae1") == Rows(journaled: 1))

            let second = try SQLiteStore(path: path)
            let moved = try Self.rows(path, "ae1")
            #expect(moved.journaled == 0 && moved.versions == 1 && moved.records == 1 && moved.index > 0, "opening the store moved the journal")
            #expect(try await second.search(AuditEventFixture.outcome("0")).matches.map(\.key.id) == ["ae1"])

            try await first.flushDeferredIndex()
            #expect(try Self.rows(path, "ae1") == moved, "nothing moved or indexed a second time")
            #expect(try await first.current(Self.ae1)?.version == 1)
            try await first.close()
            try await second.close()
        }
    }

    /// A store of an earlier version journaled into an `audit_journal` table of its own file (migration 40), before
    /// the journal had a file of its own: opening the store moves those rows into the records and empties the table.
    @Test func rowsOfTheEarlierJournalTableAreMovedWhenTheStoreOpens() async throws {
        try await Self.withPath { path in
            try await SQLiteStore(path: path).close()
            let (_, planned) = try VersionPlanner.plan([try AuditEventFixture.event("ae1")], current: [:], lastUpdated: "2026-12-07T10:00:00Z")
            let row = try #require(planned.first)
            let db = try SQLiteConnection(path: path)
            try db.run("""
                INSERT INTO audit_journal (resource_type, id, version_id, patient_key, last_updated, content_hash, canonical_hash, salt, commitment, canonical)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, [.text(row.key.type), .text(row.key.id), .int(1), .text(row.patientKey), .text(row.lastUpdated), .blob(row.contentHash),
                      .blob(row.canonicalHash), .blob(row.salt), .blob(row.commitment), .text(String(decoding: row.canonical, as: UTF8.self))])
            db.close()

            let store = try SQLiteStore(path: path)
            let check = try SQLiteConnection(path: path)
            var left = -1
            try check.query("SELECT count(*) FROM audit_journal") { left = Int($0.int(0)) }
            check.close()
            #expect(left == 0)
            let moved = try Self.rows(path, "ae1")
            #expect(moved.versions == 1 && moved.records == 1 && moved.index > 0)
            #expect(try await store.current(Self.ae1)?.commitment == row.commitment)
            #expect(try await store.search(AuditEventFixture.outcome("0")).matches.map(\.key.id) == ["ae1"])
            try await store.close()
        }
    }

    /// What another store instance journaled is seen by a read of this one, without a restart.
    @Test func aReadMovesAnotherInstancesJournal() async throws {
        try await Self.withPath { path in
            let reader = try SQLiteStore(path: path)
            let writer = try SQLiteStore(path: path)
            writer.holdJournal()
            _ = try await writer.commitIndexingLater([try AuditEventFixture.event("ae1")])
            #expect(try await reader.current(Self.ae1)?.version == 1)
            #expect(try await reader.search(AuditEventFixture.outcome("0")).matches.map(\.key.id) == ["ae1"])
            // The writer lets go of the rows the reader moved and deleted (it would otherwise keep them in memory and
            // look at the journal before every read of AuditEvents).
            let moved = try Self.rows(path, "ae1")
            #expect(moved.journaled == 0 && moved.versions == 1)
            #expect(writer.auditJournal.count == 1)
            try await writer.flushDeferredIndex()
            #expect(writer.auditJournal.count == 0)
            #expect(try Self.rows(path, "ae1") == moved, "nothing moved or indexed twice")
            try await writer.close()
            try await reader.close()
        }
    }

    /// An AuditEvent that exists is versioned by an ordinary commit, after the journaled version: the versions stay
    /// in order and the index holds only the current one.
    @Test func anAuditEventWrittenAgainGetsItsNextVersion() async throws {
        try await Self.withPath { path in
            let store = try SQLiteStore(path: path)
            _ = try await store.commitIndexingLater([try AuditEventFixture.event("ae1", outcome: "0")])
            #expect(try await store.commitIndexingLater([try AuditEventFixture.event("ae1", outcome: "4")]) == [.updated(Self.ae1, version: 2)])
            _ = try await store.commitIndexingLater([try AuditEventFixture.event("ae2", outcome: "0")])
            #expect(try await store.commit([try AuditEventFixture.event("ae2", outcome: "8")], batch: nil) == [.updated(RecordKey(type: "AuditEvent", id: "ae2"), version: 2)])
            #expect(try await store.search(AuditEventFixture.outcome("0")).matches.isEmpty)
            #expect(try await store.search(AuditEventFixture.outcome("4")).matches.map(\.key.id) == ["ae1"])
            #expect(try await store.search(AuditEventFixture.outcome("8")).matches.map(\.key.id) == ["ae2"])
            #expect(try await store.versions(Self.ae1).map(\.version) == [1, 2])
            try await store.close()
        }
    }

    /// Both stores: whatever a store does with the rows, a search right after the commit finds the AuditEvent by
    /// each of several parameters (PostgreSQL writes them at once unless it defers too).
    @Test(arguments: StoreKind.allCases)
    func aSearchRightAfterTheCommitFindsTheAuditEvent(kind: StoreKind) async throws {
        try await kind.withStore { store, _ in
            _ = try await store.commitIndexingLater((1...40).map { try AuditEventFixture.event("ae\($0)", outcome: $0 % 2 == 0 ? "0" : "4") })
            #expect(try await store.search(AuditEventFixture.outcome("4")).matches.count == 20)
            let byPatient = try await store.search(SearchQuery(type: "AuditEvent", clauses: [
                SearchClause(code: "entity", type: .reference, values: [SearchValue(text: "Patient/p1")])], count: 100))
            #expect(byPatient.matches.count == 40)
            // A _revinclude of AuditEvents on the Patient search reaches their rows as well.
            _ = try await store.commit([try PreparedRecord(resource: JSONReader().read(Array(#"{"resourceType":"Patient","id":"p1"}"#.utf8)))],
                                       batch: nil)
            _ = try await store.commitIndexingLater([try AuditEventFixture.event("ae41")])
            let patient = try await store.search(SearchQuery(type: "Patient", clauses: [
                SearchClause(code: "_id", type: .token, values: [SearchValue(text: "p1")])],
                revIncludes: [SearchInclude(sourceType: "AuditEvent", code: "entity", targetType: nil)]))
            #expect(patient.matches.map(\.key.id) == ["p1"])
            #expect(patient.included.count == 41)
        }
    }
}
