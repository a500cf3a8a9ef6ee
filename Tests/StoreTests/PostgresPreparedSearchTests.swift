import FHIRCore
import Foundation
import PostgresNIO
import Synchronization
@testable import RecordStore
import TestSupport
import Testing

/// Search statements run as prepared statements on PostgreSQL (``PreparedSearch``): the answers are the same run
/// after run (past the five custom plans after which PostgreSQL may switch to a generic one), and no more than
/// ``PreparedSearch/limit`` distinct statements are prepared; further shapes still run, unnamed.
@Suite("PostgreSQL prepared search statements", .timeLimit(.minutes(3)))
struct PostgresPreparedSearchTests {
    static func observation(_ id: String, patient: String, value: String) throws -> PreparedRecord {
        try PreparedRecord(resource: JSONReader().read(Array("""
            {"resourceType":"Observation","id":"\(id)","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},\
            "subject":{"reference":"Patient/\(patient)"},"valueQuantity":{"value":\(value),"unit":"/min"}}
            """.utf8)))
    }

    static func byPatient(_ patient: String, count: Int) -> SearchQuery {
        SearchQuery(type: "Observation", clauses: [SearchClause(code: "patient", type: .reference, targets: ["Patient", "Group"],
                                                                values: [SearchValue(text: patient)])], count: count)
    }

    @Test func repeatedAndManyShapesAnswerTheSameAsTheFirstTime() async throws {
        try await PostgresServer.withSharedTestDatabase { database in
            let store = try await PostgresStore.open(url: database.url)
            do {
                var unit: [PreparedRecord] = []
                for n in 0..<12 { unit.append(try Self.observation("o\(n)", patient: n % 3 == 0 ? "p1" : "p2", value: "\(60 + n)")) }
                _ = try await store.commit(unit, batch: nil)
                let expected = ["o0", "o3", "o6", "o9"]

                for run in 0..<10 {
                    let page = try await store.search(Self.byPatient("p1", count: 10))
                    #expect(page.matches.map(\.key.id) == expected, "run \(run)")
                }
                let prepared = store.preparedSearches.withLock { $0.count }
                #expect(prepared >= 1)

                // Past the limit: every page size is another statement text (LIMIT is part of it).
                for count in 1...(PreparedSearch.limit + 20) {
                    let page = try await store.search(Self.byPatient("p1", count: count))
                    #expect(page.matches.map(\.key.id) == Array(expected.prefix(count)), "_count=\(count)")
                    #expect((page.next != nil) == (count < expected.count), "_count=\(count)")
                }
                #expect(store.preparedSearches.withLock { $0.count } == PreparedSearch.limit)
                try await store.close()
            } catch {
                try? await store.close()
                throw error
            }
        }
    }
}
