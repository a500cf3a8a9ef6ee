import FHIRCore
import Foundation
import Ingest
import PostgresNIO
import RecordStore
import TestSupport
import Testing

/// The two documented views analysts query with psql, and the columns a distributed PostgreSQL would use.
@Suite("PostgreSQL views for analysts", .timeLimit(.minutes(3)))
struct PostgresViewTests {
    @Test func currentResourcesAndResourceVersionsServeTheStoredRecords() async throws {
        try await PostgresServer.withSharedTestDatabase { database in
            let store = try await StoreLocation.open(database.url)
            let patient = #"{"resourceType":"Patient","id":"v1","gender":"female","birthDate":"1980-05-05"}"#
            let path = try SharedData.tempFile("p.json", Array(patient.utf8))
            _ = try await Importer(store: store).run(try ImportFiles.expand([path]))
            let changed = try SharedData.tempFile("p.json", Array(patient.replacingOccurrences(of: "female", with: "male").utf8))
            _ = try await Importer(store: store).run(try ImportFiles.expand([changed, SharedData.syntheaBulk + "/Encounter.000.ndjson"]))
            let stored = try await store.versions(RecordKey(type: "Patient", id: "v1"))
            try await store.close()

            try await database.withClient { client in
                var current: [(String, String, Int, String, String)] = []
                let rows = try await client.query("""
                    SELECT resource_type, id, version_id, resource->>'gender', resource->'meta'->>'versionId'
                    FROM careledger.current_resources WHERE resource_type = 'Patient' AND id = 'v1'
                    """)
                for try await row in rows.decode((String, String, Int, String, String).self) { current.append(row) }
                #expect(current.count == 1)
                #expect(current.first?.2 == 2 && current.first?.3 == "male" && current.first?.4 == "2")

                var versions: [(Int, String, String)] = []
                let history = try await client.query("""
                    SELECT version_id, canonical_hash, resource->>'gender' FROM careledger.resource_versions
                    WHERE resource_type = 'Patient' AND id = 'v1' ORDER BY version_id
                    """)
                for try await row in history.decode((Int, String, String).self) { versions.append(row) }
                #expect(versions.map(\.0) == [1, 2])
                #expect(versions.map(\.2) == ["female", "male"])
                #expect(versions.map(\.1) == stored.map { Hex.encode($0.canonicalHash) })

                // last_updated is a timestamptz an analyst can compare; the served meta says the same instant.
                var fresh = 0
                for try await n in try await client.query("""
                    SELECT count(*)::int8 FROM careledger.current_resources
                    WHERE last_updated > now() - interval '1 hour' AND (resource->'meta'->>'lastUpdated')::timestamptz = last_updated
                    """).decode(Int64.self) { fresh = Int(n) }
                #expect(fresh > 200)

                // Every row carries its patient compartment: the encounters belong to their patients.
                var keys: [(String, String)] = []
                for try await row in try await client.query("""
                    SELECT DISTINCT r.patient_key, v.resource->'subject'->>'reference'
                    FROM careledger.record_versions r JOIN careledger.current_resources v USING (resource_type, id, version_id)
                    WHERE r.resource_type = 'Encounter'
                    """).decode((String, String).self) { keys.append(row) }
                #expect(!keys.isEmpty && keys.allSatisfy { $0.0 == $0.1 })
            }
        }
    }
}
