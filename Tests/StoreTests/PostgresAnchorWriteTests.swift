import FHIRCore
import Foundation
import PostgresNIO
import RecordStore
import TestSupport
import Testing

/// What anchoring writes on PostgreSQL (docs/store.md, "The anchoring queue"): completing a batch records its height
/// on the batch row alone, so a version's row (its canonical JSON and its index entries) is written once by its
/// commit and once when it joins a batch, never a third time; receipts still find the height.
@Suite("PostgreSQL anchoring writes", .timeLimit(.minutes(3)))
struct PostgresAnchorWriteTests {
    static func record(_ json: String) throws -> PreparedRecord {
        try PreparedRecord(resource: JSONReader().read(Array(json.utf8)))
    }

    /// The physical row (`ctid`) of every version: an UPDATE moves a row to a new tuple.
    static func rowLocations(_ database: PostgresTestDatabase) async throws -> [String: String] {
        try await database.withClient { client in
            var out: [String: String] = [:]
            let rows = try await client.query("SELECT resource_type || '/' || id || '/' || version_id, ctid::text FROM careledger.record_versions")
            for try await (name, ctid) in rows.decode((String, String).self) { out[name] = ctid }
            return out
        }
    }

    @Test func completingABatchLeavesTheVersionRowsAlone() async throws {
        try await PostgresServer.withSharedTestDatabase { database in
            let store = try await StoreLocation.open(database.url)
            do {
                _ = try await store.commit([
                    try Self.record(#"{"resourceType":"Patient","id":"a1","gender":"female"}"#),
                    try Self.record(#"{"resourceType":"Patient","id":"a2","gender":"male"}"#),
                ], batch: nil)
                _ = try await store.commit([try Self.record(#"{"resourceType":"Patient","id":"a1","gender":"other"}"#)], batch: nil)
                let queue = try await store.anchorQueue(limit: 10)
                #expect(queue.count == 3)
                let id = try await store.createAnchorBatch(root: [UInt8](repeating: 7, count: 32), firstTxid: queue.map(\.txid).min() ?? 0,
                                                           lastTxid: queue.map(\.txid).max() ?? 0, checkpoint: "c",
                                                           leaves: queue.map { (key: $0.key, version: $0.version) })
                let batched = try await Self.rowLocations(database)
                #expect(batched.count == 3)

                try await store.completeAnchorBatch(id: id, height: 42, transactionIndex: 1)
                #expect(try await Self.rowLocations(database) == batched, "completing the batch rewrote version rows")
                for (n, q) in queue.enumerated() {
                    #expect(try await store.anchorLocation(q.key, version: q.version) == AnchorLocation(batch: id, leaf: n, height: 42))
                }
                #expect(try await store.anchorBatch(id: id)?.height == 42)
                #expect(try await store.pendingAnchorBatches().isEmpty)

                // Again with the same values: nothing changes; a batch that does not exist is refused.
                try await store.completeAnchorBatch(id: id, height: 42, transactionIndex: 1)
                #expect(try await Self.rowLocations(database) == batched)
                await #expect(throws: StoreError.self) { try await store.completeAnchorBatch(id: id + 1, height: 43, transactionIndex: 0) }
                try await store.close()
            } catch {
                try? await store.close()
                throw error
            }
        }
    }
}
