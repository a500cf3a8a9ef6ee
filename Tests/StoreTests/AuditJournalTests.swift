import FHIRCore
import Foundation
@testable import RecordStore
import TestSupport
import Testing

/// AuditEvents' search-index rows are written after their versions (``DeferredIndex``): a search never misses a
/// committed AuditEvent, no row is lost when the store stops before writing them, and none is written twice.
@Suite("Search index written later for AuditEvents", .timeLimit(.minutes(3)))
struct DeferredIndexTests {
    static func auditEvent(_ id: String, outcome: String = "0", patient: String = "Patient/p1") throws -> PreparedRecord {
        try PreparedRecord(resource: JSONReader().read(Array("""
            {"resourceType":"AuditEvent","id":"\(id)","type":{"system":"http://terminology.hl7.org/CodeSystem/audit-event-type","code":"rest"},\
            "subtype":[{"system":"http://hl7.org/fhir/restful-interaction","code":"read"}],"action":"R","recorded":"2026-12-07T21:00:00Z",\
            "outcome":"\(outcome)","agent":[{"who":{"identifier":{"system":"urn:ietf:rfc:3986","value":"urn:uuid:client-b"}},"requestor":true}],\
            "source":{"observer":{"display":"careledger gateway"}},"entity":[{"what":{"reference":"\(patient)"}}]}
            """.utf8)))
    }

    static func outcome(_ code: String) -> SearchQuery {
        SearchQuery(type: "AuditEvent", clauses: [SearchClause(code: "outcome", type: .token, values: [SearchValue(text: code)])])
    }

    /// Marked records and index rows of `id`, read on a connection of their own.
    static func state(_ path: String, _ id: String) throws -> (marked: Int, rows: Int) {
        let db = try SQLiteConnection(path: path)
        defer { db.close() }
        var marked = 0, rows = 0
        try db.query("SELECT count(*) FROM search_reindex WHERE resource_type = 'AuditEvent' AND id = ?", [.text(id)]) { marked = Int($0.int(0)) }
        try db.query("SELECT count(*) FROM search_index WHERE resource_type = 'AuditEvent' AND id = ?", [.text(id)]) { rows = Int($0.int(0)) }
        return (marked, rows)
    }

    static func withPath<T>(_ body: (String) async throws -> T) async throws -> T {
        let dir = try Repository.temporaryDirectory("careledger-deferred-index")
        defer { try? FileManager.default.removeItem(at: dir) }
        return try await body(dir.appendingPathComponent("store.sqlite").path)
    }

    @Test func aSearchWritesThePendingRowsFirst() async throws {
        try await Self.withPath { path in
            let store = try SQLiteStore(path: path)
            let outcomes = try await store.commitIndexingLater([try Self.auditEvent("ae1")])
            #expect(outcomes == [.created(RecordKey(type: "AuditEvent", id: "ae1"), version: 1)])
            // Stored (readable, queued for anchoring) but not indexed yet: marked instead.
            #expect(try await store.current(RecordKey(type: "AuditEvent", id: "ae1")) != nil)
            #expect(try await store.anchorQueueCount() == 1)
            #expect(try Self.state(path, "ae1") == (marked: 1, rows: 0))
            #expect(store.deferredIndex.count == 1)

            let page = try await store.search(Self.outcome("0"))
            #expect(page.matches.map(\.key.id) == ["ae1"])
            let after = try Self.state(path, "ae1")
            #expect(after.marked == 0 && after.rows > 0)
            #expect(store.deferredIndex.count == 0)
            // A chain into AuditEvents and the store's own parameter lookup see it as well.
            #expect(try await store.search(type: "AuditEvent", param: "entity", value: "Patient/p1") == ["ae1"])
            try await store.close()
        }
    }

    @Test func aSearchOfAnotherTypeLeavesThemPending() async throws {
        try await Self.withPath { path in
            let store = try SQLiteStore(path: path)
            _ = try await store.commitIndexingLater([try Self.auditEvent("ae1")])
            _ = try await store.search(SearchQuery(type: "Patient", clauses: [SearchClause(code: "name", type: .string, values: [SearchValue(text: "x")])]))
            #expect(store.deferredIndex.count == 1)
            #expect(try Self.state(path, "ae1").rows == 0)
            try await store.close()
            // Closing writes them.
            #expect(try Self.state(path, "ae1").marked == 0)
            #expect(try Self.state(path, "ae1").rows > 0)
        }
    }

    @Test func theRowsAreWrittenWithoutASearchSoonAfter() async throws {
        try await Self.withPath { path in
            let store = try SQLiteStore(path: path)
            _ = try await store.commitIndexingLater([try Self.auditEvent("ae1")])
            // Written within DeferredIndex.flushDelay (250 ms); bounded generously for a busy machine.
            for _ in 0..<400 where try Self.state(path, "ae1").rows == 0 {
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(try Self.state(path, "ae1") == (marked: 0, rows: Self.state(path, "ae1").rows))
            #expect(try Self.state(path, "ae1").rows > 0)
            try await store.close()
        }
    }

    /// A store that stops before writing the rows (or another process on the same file) leaves the records
    /// marked: the next store opened on the file indexes them from their canonical JSON, and the first store's
    /// own write of the rows then finds them indexed and does not add them twice.
    @Test func markedRecordsAreIndexedByTheNextStoreAndNotTwice() async throws {
        try await Self.withPath { path in
            let first = try SQLiteStore(path: path)
            _ = try await first.commitIndexingLater([try Self.auditEvent("ae1")])
            #expect(try Self.state(path, "ae1") == (marked: 1, rows: 0))

            let second = try SQLiteStore(path: path)
            let indexed = try Self.state(path, "ae1")
            #expect(indexed.marked == 0 && indexed.rows > 0, "opening the store indexed the marked record")
            #expect(try await second.search(Self.outcome("0")).matches.map(\.key.id) == ["ae1"])

            try await first.flushDeferredIndex()
            #expect(try Self.state(path, "ae1").rows == indexed.rows, "the rows were not written a second time")
            #expect(try await second.search(Self.outcome("0")).matches.map(\.key.id) == ["ae1"])
            try await first.close()
            try await second.close()
        }
    }

    /// A marked record another store instance committed is indexed by a search that can see it, without a restart.
    @Test func aSearchIndexesAnotherInstancesMarkedRecords() async throws {
        try await Self.withPath { path in
            let reader = try SQLiteStore(path: path)
            let writer = try SQLiteStore(path: path)
            _ = try await writer.commitIndexingLater([try Self.auditEvent("ae1")])
            #expect(try await reader.search(Self.outcome("0")).matches.map(\.key.id) == ["ae1"])
            try await writer.close()
            try await reader.close()
        }
    }

    /// A record rewritten by an ordinary commit before its deferred rows were written keeps only the new
    /// version's rows.
    @Test func aRewriteBeforeTheWriteKeepsOnlyTheNewRows() async throws {
        try await Self.withPath { path in
            let store = try SQLiteStore(path: path)
            _ = try await store.commitIndexingLater([try Self.auditEvent("ae1", outcome: "0")])
            _ = try await store.commit([try Self.auditEvent("ae1", outcome: "4")], batch: nil)
            #expect(try Self.state(path, "ae1").marked == 0)
            try await store.flushDeferredIndex()
            #expect(try await store.search(Self.outcome("0")).matches.isEmpty)
            #expect(try await store.search(Self.outcome("4")).matches.map(\.key.id) == ["ae1"])
            try await store.close()
        }
    }

    /// Both stores: whatever a store does with the rows, a search right after the commit finds the AuditEvent by
    /// each of several parameters (PostgreSQL writes them at once unless it defers too).
    @Test(arguments: StoreKind.allCases)
    func aSearchRightAfterTheCommitFindsTheAuditEvent(kind: StoreKind) async throws {
        try await kind.withStore { store, _ in
            _ = try await store.commitIndexingLater((1...40).map { try Self.auditEvent("ae\($0)", outcome: $0 % 2 == 0 ? "0" : "4") })
            #expect(try await store.search(Self.outcome("4")).matches.count == 20)
            let byPatient = try await store.search(SearchQuery(type: "AuditEvent", clauses: [
                SearchClause(code: "entity", type: .reference, values: [SearchValue(text: "Patient/p1")])], count: 100))
            #expect(byPatient.matches.count == 40)
            // A _revinclude of AuditEvents on the Patient search reaches their rows as well.
            _ = try await store.commit([try PreparedRecord(resource: JSONReader().read(Array(#"{"resourceType":"Patient","id":"p1"}"#.utf8)))],
                                       batch: nil)
            _ = try await store.commitIndexingLater([try Self.auditEvent("ae41")])
            let patient = try await store.search(SearchQuery(type: "Patient", clauses: [
                SearchClause(code: "_id", type: .token, values: [SearchValue(text: "p1")])],
                revIncludes: [SearchInclude(sourceType: "AuditEvent", code: "entity", targetType: nil)]))
            #expect(patient.matches.map(\.key.id) == ["p1"])
            #expect(patient.included.count == 41)
        }
    }
}
