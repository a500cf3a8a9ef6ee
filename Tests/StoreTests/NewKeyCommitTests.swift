import FHIRCore
import Foundation
import RecordStore
import TestSupport
import Testing

/// A unit of new keys is written by one statement on PostgreSQL (no transaction, no read of current versions), and
/// a unit with a stored key falls back to reading and planning (PostgresStore+Commit.swift). Whichever way a unit
/// takes, the outcomes, versions, anchoring queue and search index are the same as SQLite's.
@Suite("Commits of new and stored keys (SQLite and PostgreSQL)", .timeLimit(.minutes(3)))
struct NewKeyCommitTests {
    func patient(_ id: String, _ name: String) throws -> PreparedRecord {
        try PreparedRecord(resource: JSONReader().read(Array(#"{"resourceType":"Patient","id":"\#(id)","name":[{"family":"\#(name)"}]}"#.utf8)))
    }

    func key(_ id: String) -> RecordKey { RecordKey(type: "Patient", id: id) }

    func named(_ store: any RecordStore, _ name: String) async throws -> [String] {
        try await store.search(type: "Patient", param: "name", value: name)
    }

    @Test(arguments: StoreKind.allCases)
    func newAndStoredKeysInTurn(kind: StoreKind) async throws {
        try await kind.withStore { store, _ in
            // New keys only.
            let first = try await store.commit([try patient("n1", "alpha"), try patient("n2", "alpha"), try patient("n3", "alpha")], batch: nil)
            #expect(first == [.created(key("n1"), version: 1), .created(key("n2"), version: 1), .created(key("n3"), version: 1)])
            #expect(try await named(store, "alpha") == ["n1", "n2", "n3"])

            // Stored keys beside a new one: an unchanged resource, an updated one (its index rows replaced), a new one.
            let second = try await store.commit([try patient("n1", "alpha"), try patient("n2", "beta"), try patient("n4", "gamma")], batch: nil)
            #expect(second == [.unchanged(key("n1"), version: 1), .updated(key("n2"), version: 2), .created(key("n4"), version: 1)])
            #expect(try await named(store, "alpha") == ["n1", "n3"])
            #expect(try await named(store, "beta") == ["n2"])
            #expect(try await named(store, "gamma") == ["n4"])
            #expect(try await store.versions(key("n2")).map(\.version) == [1, 2])

            // New keys again (after a unit that needed reading), then a new key written twice in one unit: only its
            // last version is indexed.
            let third = try await store.commit([try patient("n5", "delta")], batch: nil)
            #expect(third == [.created(key("n5"), version: 1)])
            let fourth = try await store.commit([try patient("n6", "epsilon"), try patient("n6", "zeta")], batch: nil)
            #expect(fourth == [.created(key("n6"), version: 1), .updated(key("n6"), version: 2)])
            #expect(try await named(store, "epsilon").isEmpty)
            #expect(try await named(store, "zeta") == ["n6"])

            // The same unit of new keys again, as a whole: nothing new.
            let again = try await store.commit([try patient("n5", "delta")], batch: nil)
            #expect(again == [.unchanged(key("n5"), version: 1)])

            // n1 1, n2 1-2, n3 1, n4 1, n5 1, n6 1-2: eight versions, all waiting for anchoring.
            #expect(try await store.versionCount() == 8)
            #expect(try await store.anchorQueueCount() == 8)
            for id in ["n1", "n2", "n3", "n4", "n5", "n6"] {
                let versions = try await store.versions(key(id))
                #expect(versions.map(\.version) == Array(1...versions.count), "\(id): a gapless history")
            }
        }
    }

    /// The same unit of new keys committed by eight tasks at once: each key is created once, every other commit
    /// finds it unchanged (on PostgreSQL the losers' one-statement writes are refused and they read and plan).
    @Test(arguments: StoreKind.allCases)
    func concurrentUnitsOfTheSameNewKeys(kind: StoreKind) async throws {
        try await kind.withStore { store, _ in
            let unit = try (1...5).map { try patient("c\($0)", "same") }
            let outcomes = try await withThrowingTaskGroup(of: [RecordOutcome].self) { group in
                for _ in 0..<8 { group.addTask { try await store.commit(unit, batch: nil) } }
                var all: [RecordOutcome] = []
                for try await o in group { all += o }
                return all
            }
            let created = outcomes.filter { if case .created = $0 { true } else { false } }
            let unchanged = outcomes.filter { if case .unchanged = $0 { true } else { false } }
            #expect(created.count == 5 && Set(created.map(\.key)).count == 5)
            #expect(unchanged.count == 35)
            #expect(try await store.versionCount() == 5)
            #expect(try await named(store, "same") == ["c1", "c2", "c3", "c4", "c5"])
        }
    }
}
