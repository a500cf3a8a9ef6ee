import FHIRCore
import Foundation
import PostgresNIO
@testable import RecordStore
import TestSupport
import Testing

/// A store written before the search migration (no display/low/high columns, no reindex queue, only the old
/// index rows) gets every resource indexed for every parameter when it is opened again.
@Suite("Search reindex migration", .timeLimit(.minutes(3)))
struct SearchReindexTests {
    static let resources = [
        #"{"resourceType":"Patient","id":"r1","name":[{"family":"Chalmers","given":["Peter"]}],"birthDate":"1974-12-25","gender":"male"}"#,
        #"{"resourceType":"Observation","id":"r2","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},"subject":{"reference":"Patient/r1"},"valueQuantity":{"value":72,"code":"/min","system":"http://unitsofmeasure.org"},"effectiveDateTime":"2020-01-15"}"#,
    ]

    static func commitResources(_ store: any RecordStore) async throws {
        let unit = try resources.map { try PreparedRecord(resource: JSONReader().read(Array($0.utf8))) }
        _ = try await store.commit(unit, batch: nil)
    }

    /// What the new index answers and the old one could not: a date range, a quantity, a status token.
    static func expectReindexed(_ store: any RecordStore) async throws {
        let birth = try #require(SearchRange.date("1970"))
        let page = try await store.search(SearchQuery(type: "Patient", clauses: [
            SearchClause(code: "birthdate", type: .date, values: [SearchValue(prefix: .gt, text: "1970", range: birth)])]))
        #expect(page.matches.map(\.key.id) == ["r1"])
        let quantity = try await store.search(SearchQuery(type: "Observation", clauses: [
            SearchClause(code: "value-quantity", type: .quantity, values: [SearchValue(prefix: .gt, text: "70", range: SearchRange.number("70"))]),
            SearchClause(code: "status", type: .token, values: [SearchValue(text: "final")])]))
        #expect(quantity.matches.map(\.key.id) == ["r2"])
        // The old rows are replaced, not doubled.
        #expect(try await store.search(type: "Patient", param: "name", value: "peter") == ["r1"])
    }

    @Test func sqliteStoreFromBeforeTheMigration() async throws {
        let dir = try Repository.temporaryDirectory("careledger-reindex")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("store.sqlite").path
        let store = try SQLiteStore(path: path)
        try await Self.commitResources(store)
        try await store.close()
        // Back to the schema before migration 10, keeping only the rows the old index had.
        let db = try SQLiteConnection(path: path)
        try db.exec("""
            DELETE FROM search_index WHERE param NOT IN ('identifier', 'name', 'birthdate', 'gender', 'code', 'subject', 'patient', 'date');
            ALTER TABLE search_index DROP COLUMN display;
            ALTER TABLE search_index DROP COLUMN low;
            ALTER TABLE search_index DROP COLUMN high;
            DROP TABLE search_reindex;
            DELETE FROM schema_migrations WHERE version = 10;
            """)
        db.close()
        let reopened = try SQLiteStore(path: path)
        try await Self.expectReindexed(reopened)
        try await reopened.close()
    }

    @Test func postgresStoreFromBeforeTheMigration() async throws {
        try await PostgresServer.withSharedTestDatabase { database in
            let store = try await StoreLocation.open(database.url)
            try await Self.commitResources(store)
            try await store.close()
            try await database.withClient { client in
                for statement in [
                    "DELETE FROM careledger.search_index WHERE param NOT IN ('identifier', 'name', 'birthdate', 'gender', 'code', 'subject', 'patient', 'date')",
                    "ALTER TABLE careledger.search_index DROP COLUMN display, DROP COLUMN low, DROP COLUMN high",
                    "DROP TABLE careledger.search_reindex",
                    "DELETE FROM careledger.schema_migrations WHERE version = 10",
                ] {
                    try await client.query(PostgresQuery(unsafeSQL: statement))
                }
            }
            let reopened = try await StoreLocation.open(database.url)
            try await Self.expectReindexed(reopened)
            try await reopened.close()
        }
    }
}
