import FHIRCore
import Foundation
import RecordStore
import TestSupport
import Testing

/// `careledger store stats` counts deleted resources apart from current ones, on both stores: a resource whose last
/// version is a delete is under `deleted`, not among the resources a read or a search can return.
@Suite("store stats: deleted resources counted apart", .timeLimit(.minutes(3)))
struct StoreStatsCommandTests {
    let cli = CLITests()

    static func resource(_ json: String) throws -> Resource { try FHIRDocument.read(Array(json.utf8)).resource }

    @Test(arguments: StoreKind.allCases)
    func deletedResourcesAreCountedApart(kind: StoreKind) async throws {
        try await kind.withStore { store, url in
            let records = try [
                Self.resource(#"{"resourceType": "Patient", "id": "st-1"}"#),
                Self.resource(#"{"resourceType": "Patient", "id": "st-2"}"#),
                Self.resource(#"{"resourceType": "Patient", "id": "st-3"}"#),
                Self.resource(#"{"resourceType": "Observation", "id": "st-o", "status": "final", "code": {"text": "pulse"}}"#),
            ]
            _ = try await store.commit(try records.map { try PreparedRecord(resource: $0) }, batch: nil)
            // st-1 deleted; st-2 deleted and created again (current); the Observation deleted: its type has none current.
            _ = try await store.commit([try .tombstone(for: RecordKey(type: "Patient", id: "st-1")),
                                        try .tombstone(for: RecordKey(type: "Patient", id: "st-2")),
                                        try .tombstone(for: RecordKey(type: "Observation", id: "st-o"))], batch: nil)
            _ = try await store.commit([try PreparedRecord(resource: Self.resource(#"{"resourceType": "Patient", "id": "st-2", "gender": "other"}"#))],
                                       batch: nil)

            #expect(try await store.recordCounts() == [RecordCount(type: "Observation", current: 0, deleted: 1),
                                                        RecordCount(type: "Patient", current: 2, deleted: 1)])

            let stats = try cli.run(["store", "stats", "--json", "--store", url])
            #expect(stats.status == 0, "\(stats.stderr)")
            let json = try #require(try JSONSerialization.jsonObject(with: Data(stats.stdout.utf8)) as? [String: Any])
            #expect(json["resources"] as? [String: Int] == ["Patient": 2])
            #expect(json["total"] as? Int == 2)
            #expect(json["deleted"] as? [String: Int] == ["Patient": 1, "Observation": 1])
            #expect(json["deletedTotal"] as? Int == 2)
            #expect(json["versions"] as? Int == 8)

            let text = try cli.run(["store", "stats", "--store", url])
            let lines = text.stdout.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ") }
            #expect(lines.contains("Observation 0 (1 deleted)"), "\(text.stdout)")
            #expect(lines.contains("Patient 2 (1 deleted)"), "\(text.stdout)")
            #expect(lines.contains("total 2 (2 deleted)"), "\(text.stdout)")
        }
    }
}
