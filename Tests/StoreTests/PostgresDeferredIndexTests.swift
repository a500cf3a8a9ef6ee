import FHIRCore
import Foundation
import PostgresNIO
import Synchronization
@testable import RecordStore
import TestSupport
import Testing

/// AuditEvents' search-index rows written after their versions on a real PostgreSQL 15 server
/// (PostgresStore+DeferredIndex): a search never misses a committed AuditEvent, no row is lost when a store stops
/// before writing them, none is written twice, and an ordinary rewrite is indexed at once.
@Suite("PostgreSQL: search index written later for AuditEvents", .timeLimit(.minutes(3)))
struct PostgresDeferredIndexTests {
    /// Marks and index rows of AuditEvent `id`, read on a connection of their own.
    static func state(_ database: PostgresTestDatabase, _ id: String) async throws -> (marked: Int, rows: Int) {
        try await database.withClient { client in
            var marked = 0, rows = 0
            for try await n in try await client.query("""
                SELECT count(*)::int8 FROM careledger.search_reindex WHERE resource_type = 'AuditEvent' AND id = \(id)
                """).decode(Int64.self) { marked = Int(n) }
            for try await n in try await client.query("""
                SELECT count(*)::int8 FROM careledger.search_index WHERE resource_type = 'AuditEvent' AND id = \(id)
                """).decode(Int64.self) { rows = Int(n) }
            return (marked, rows)
        }
    }

    /// A store whose pending rows wait for a search, `flushDeferredIndex()` or `close()` (not for the scheduled
    /// write, unless `scheduled`), so a test can look at the marked state on a busy machine.
    static func open(_ database: PostgresTestDatabase, scheduled: Bool = false) async throws -> PostgresStore {
        let store = try await PostgresStore.open(url: database.url)
        if !scheduled { store.deferredFlushDelay.withLock { $0 = .seconds(3600) } }
        return store
    }

    @Test func aSearchWritesThePendingRowsFirst() async throws {
        try await PostgresServer.withSharedTestDatabase { database in
            let store = try await Self.open(database)
            let outcomes = try await store.commitIndexingLater([try AuditEventFixture.event("ae1")])
            #expect(outcomes == [.created(RecordKey(type: "AuditEvent", id: "ae1"), version: 1)])
            // Stored (readable, queued for anchoring) but not indexed yet: marked instead.
            #expect(try await store.current(RecordKey(type: "AuditEvent", id: "ae1")) != nil)
            #expect(try await store.anchorQueueCount() == 1)
            #expect(try await Self.state(database, "ae1") == (marked: 1, rows: 0))
            #expect(store.deferredIndex.count == 1)

            #expect(try await store.search(AuditEventFixture.outcome("0")).matches.map(\.key.id) == ["ae1"])
            let after = try await Self.state(database, "ae1")
            #expect(after.marked == 0 && after.rows > 0)
            #expect(store.deferredIndex.count == 0)
            #expect(try await store.search(type: "AuditEvent", param: "entity", value: "Patient/p1") == ["ae1"])
            try await store.close()
        }
    }

    @Test func theRowsAreWrittenSoonAfterAndOnClose() async throws {
        try await PostgresServer.withSharedTestDatabase { database in
            let store = try await Self.open(database, scheduled: true)
            _ = try await store.commitIndexingLater([try AuditEventFixture.event("ae1")])
            // A search of another type does not write them.
            _ = try await store.search(SearchQuery(type: "Patient", clauses: [SearchClause(code: "name", type: .string, values: [SearchValue(text: "x")])]))
            // Written within DeferredIndex.flushDelay (250 ms); bounded generously for a busy machine.
            for _ in 0..<400 where try await Self.state(database, "ae1").rows == 0 {
                try await Task.sleep(for: .milliseconds(50))
            }
            let written = try await Self.state(database, "ae1")
            #expect(written.marked == 0 && written.rows > 0)

            // Closing writes what is still pending.
            store.deferredFlushDelay.withLock { $0 = .seconds(3600) }
            _ = try await store.commitIndexingLater([try AuditEventFixture.event("ae2")])
            try await store.close()
            let closed = try await Self.state(database, "ae2")
            #expect(closed.marked == 0 && closed.rows == written.rows)
        }
    }

    /// A store that stops before writing the rows (or another gateway process) leaves the records marked: the
    /// next store opened on the database indexes them from their canonical JSON, and the first store's own write
    /// then finds them indexed and adds nothing. A search in a third instance sees a fourth's marked record.
    @Test func markedRecordsAreIndexedByAnotherInstanceAndNotTwice() async throws {
        try await PostgresServer.withSharedTestDatabase { database in
            let first = try await Self.open(database)
            _ = try await first.commitIndexingLater([try AuditEventFixture.event("ae1")])
            #expect(try await Self.state(database, "ae1") == (marked: 1, rows: 0))

            let second = try await Self.open(database)
            let indexed = try await Self.state(database, "ae1")
            #expect(indexed.marked == 0 && indexed.rows > 0, "opening the store indexed the marked record")
            try await first.flushDeferredIndex()
            #expect(try await Self.state(database, "ae1").rows == indexed.rows, "the rows were not written a second time")

            _ = try await first.commitIndexingLater([try AuditEventFixture.event("ae2", outcome: "4")])
            #expect(try await second.search(AuditEventFixture.outcome("4")).matches.map(\.key.id) == ["ae2"])
            try await first.close()
            try await second.close()
            #expect(try await Self.state(database, "ae2").rows == indexed.rows)
        }
    }

    /// An ordinary commit that rewrites a pending AuditEvent indexes its new version at once and removes its
    /// mark; the rows of the old version, still pending, are never written.
    @Test func anOrdinaryRewriteIsIndexedAtOnce() async throws {
        try await PostgresServer.withSharedTestDatabase { database in
            let store = try await Self.open(database)
            _ = try await store.commitIndexingLater([try AuditEventFixture.event("ae1", outcome: "0")])
            let rewritten = try await store.commit([try AuditEventFixture.event("ae1", outcome: "8")], batch: nil)
            #expect(rewritten == [.updated(RecordKey(type: "AuditEvent", id: "ae1"), version: 2)])
            let now = try await Self.state(database, "ae1")
            #expect(now.marked == 0 && now.rows > 0)
            #expect(store.deferredIndex.count == 0)
            try await store.flushDeferredIndex()
            #expect(try await Self.state(database, "ae1") == now)
            #expect(try await store.search(AuditEventFixture.outcome("0")).matches.isEmpty)
            #expect(try await store.search(AuditEventFixture.outcome("8")).matches.map(\.key.id) == ["ae1"])
            try await store.close()
        }
    }

    /// Audit commits from many tasks at once, and searches among them: each search sees every AuditEvent whose
    /// commit returned before it started, and in the end every one is indexed exactly once.
    @Test func concurrentCommitsAndSearchesSeeEveryCommittedEvent() async throws {
        try await PostgresServer.withSharedTestDatabase { database in
            let store = try await Self.open(database, scheduled: true)
            let committed = CommitCounter()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for t in 0..<8 {
                    group.addTask {
                        for n in 0..<40 {
                            _ = try await store.commitIndexingLater([try AuditEventFixture.event("ae-\(t)-\(n)")])
                            committed.add()
                        }
                    }
                }
                group.addTask {
                    for _ in 0..<10 {
                        let before = committed.value
                        let seen = try await store.search(SearchQuery(type: "AuditEvent", clauses: [], count: 1, total: true)).total ?? 0
                        #expect(seen >= before, "a search missed a committed AuditEvent")
                        try await Task.sleep(for: .milliseconds(20))
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await store.search(SearchQuery(type: "AuditEvent", clauses: [], count: 1, total: true)).total == 320)
            try await store.close()
            try await database.withClient { client in
                var perRecord: [Int64] = []
                for try await n in try await client.query("""
                    SELECT count(*)::int8 FROM careledger.search_index WHERE resource_type = 'AuditEvent' AND param = 'outcome' GROUP BY id
                    """).decode(Int64.self) { perRecord.append(n) }
                #expect(perRecord.count == 320 && perRecord.allSatisfy { $0 == 1 }, "every AuditEvent indexed exactly once")
                var marked: Int64 = -1
                for try await n in try await client.query("SELECT count(*)::int8 FROM careledger.search_reindex").decode(Int64.self) { marked = n }
                #expect(marked == 0)
            }
        }
    }
}

/// AuditEvent commits that have returned, counted across tasks.
final class CommitCounter: Sendable {
    private let count = Mutex(0)
    var value: Int { count.withLock { $0 } }
    func add() { count.withLock { $0 += 1 } }
}
