import FHIRCore
import Foundation
import RecordStore
import TestSupport
import Testing

/// The anchoring queue API (docs/store.md): queue order, batches, their completion and the refusals that write
/// nothing, the same on SQLite and on a real PostgreSQL 15 server.
@Suite("Anchoring queue (SQLite and PostgreSQL)", .timeLimit(.minutes(5)))
struct AnchoringQueueTests {
    static func record(_ json: String) throws -> PreparedRecord {
        try PreparedRecord(resource: JSONReader().read(Array(json.utf8)))
    }

    /// Three units: two patients; a new version of one, an observation and a patient written twice in the same
    /// unit; an organization. The queue order, oldest txid first, ties by type, id and version.
    static let expectedQueue = [
        "Patient/p1/1", "Patient/p2/1",
        "Observation/o1/1", "Patient/p1/2", "Patient/p3/1", "Patient/p3/2",
        "Organization/org1/1",
    ]

    static func seed(_ store: any RecordStore) async throws {
        _ = try await store.commit([
            try record(#"{"resourceType":"Patient","id":"p2","gender":"female"}"#),
            try record(#"{"resourceType":"Patient","id":"p1","gender":"male"}"#),
        ], batch: nil)
        _ = try await store.commit([
            try record(#"{"resourceType":"Patient","id":"p3","gender":"female"}"#),
            try record(#"{"resourceType":"Patient","id":"p1","gender":"other"}"#),
            try record(#"{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"x"}}"#),
            try record(#"{"resourceType":"Patient","id":"p3","gender":"male"}"#),
        ], batch: nil)
        _ = try await store.commit([try record(#"{"resourceType":"Organization","id":"org1","name":"General"}"#)], batch: nil)
    }

    static func name(_ q: QueuedCommitment) -> String { "\(q.key)/\(q.version)" }
    static func leaf(_ q: QueuedCommitment) -> BatchLeaf { BatchLeaf(key: q.key, version: q.version, commitment: q.commitment) }
    static func root(_ n: UInt8) -> [UInt8] { [UInt8](repeating: n, count: 32) }

    /// Makes a batch of `leaves` with root `root(n)` and checkpoint `checkpoint n`.
    static func batch(_ store: any RecordStore, _ n: UInt8, _ leaves: [QueuedCommitment]) async throws -> Int64 {
        try await store.createAnchorBatch(root: root(n), firstTxid: leaves.map(\.txid).min() ?? 0, lastTxid: leaves.map(\.txid).max() ?? 0,
                                          checkpoint: "checkpoint \(n)", leaves: leaves.map { (key: $0.key, version: $0.version) })
    }

    @Test(arguments: StoreKind.allCases)
    func theQueueIsOldestTxidFirstWithTiesByTypeIdAndVersion(kind: StoreKind) async throws {
        try await kind.withStore { store, _ in
            try await Self.seed(store)
            let queue = try await store.anchorQueue(limit: 100)
            #expect(queue.map(Self.name) == Self.expectedQueue)
            #expect(try await store.anchorQueueCount() == 7)
            // The anchoring service's bounded count: stops at the bound, exact below it.
            #expect(try await store.anchorQueueCount(upTo: 3) == 3)
            #expect(try await store.anchorQueueCount(upTo: 7) == 7)
            #expect(try await store.anchorQueueCount(upTo: 100) == 7)
            // One txid per unit, increasing.
            let txids = queue.map(\.txid)
            #expect(txids[0] == txids[1] && Set(txids[2...5]).count == 1)
            #expect(txids[1] < txids[2] && txids[5] < txids[6])
            for q in queue {
                let stored = try #require(try await store.version(q.key, q.version))
                #expect(q.commitment == stored.commitment && q.txid == stored.txid, "\(Self.name(q))")
                #expect(q.commitment.count == 32)
            }
            #expect(try await store.anchorQueue(limit: 3) == Array(queue.prefix(3)))
            #expect(try await store.anchorQueue(limit: 1).map(Self.name) == ["Patient/p1/1"])
            #expect(try await store.anchorQueue(limit: 0).isEmpty)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func aBatchTakesExactlyItsVersionsOutOfTheQueueInLeafOrder(kind: StoreKind) async throws {
        try await kind.withStore { store, _ in
            try await Self.seed(store)
            let queue = try await store.anchorQueue(limit: 100)
            let first = Array(queue.prefix(3))
            let id = try await Self.batch(store, 1, first)
            #expect(try await store.anchorQueueCount() == 4)
            #expect(try await store.anchorQueue(limit: 100) == Array(queue.dropFirst(3)))
            #expect(try await store.batchLeaves(id) == first.map(Self.leaf))
            for (n, q) in first.enumerated() {
                #expect(try await store.anchorLocation(q.key, version: q.version) == AnchorLocation(batch: id, leaf: n, height: nil))
            }
            #expect(try await store.anchorLocation(queue[3].key, version: queue[3].version) == nil)
            #expect(try await store.anchorLocation(RecordKey(type: "Patient", id: "p1"), version: 3) == nil)
            #expect(try await store.anchorLocation(RecordKey(type: "Patient", id: "absent"), version: 1) == nil)
            let row = AnchorBatchRow(id: id, root: Self.root(1), leafCount: 3, firstTxid: queue[0].txid, lastTxid: queue[2].txid,
                                     checkpoint: "checkpoint 1", height: nil, transactionIndex: nil)
            #expect(try await store.anchorBatch(id: id) == row)

            // Leaf positions follow the order the caller gives, not the queue's.
            let rest = Array(queue.dropFirst(3).reversed())
            let second = try await Self.batch(store, 2, rest)
            #expect(second > id)
            #expect(try await store.batchLeaves(second).map { "\($0.key)/\($0.version)" } == ["Organization/org1/1", "Patient/p3/2", "Patient/p3/1", "Patient/p1/2"])
            #expect(try await store.batchLeaves(second) == rest.map(Self.leaf))
            #expect(try await store.anchorLocation(RecordKey(type: "Organization", id: "org1"), version: 1) == AnchorLocation(batch: second, leaf: 0, height: nil))
            #expect(try await store.anchorLocation(RecordKey(type: "Patient", id: "p1"), version: 2) == AnchorLocation(batch: second, leaf: 3, height: nil))
            #expect(try await store.anchorQueueCount() == 0)
            #expect(try await store.anchorQueueCount(upTo: 10) == 0)
            #expect(try await store.anchorQueue(limit: 100).isEmpty)
            #expect(try await store.pendingAnchorBatches().map(\.id) == [id, second])
            #expect(try await store.anchorBatch(id: second)?.leafCount == 4)
            #expect(try await store.anchorBatch(id: second + 1) == nil)
            // The versions themselves are unchanged by batching.
            #expect(try await store.versionCount() == 7)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func completingABatchRecordsWhereItsTransactionWasCommitted(kind: StoreKind) async throws {
        try await kind.withStore { store, url in
            try await Self.seed(store)
            let queue = try await store.anchorQueue(limit: 100)
            let b1 = try await Self.batch(store, 1, Array(queue[0..<3]))
            let b2 = try await Self.batch(store, 2, Array(queue[3..<5]))
            let row1 = AnchorBatchRow(id: b1, root: Self.root(1), leafCount: 3, firstTxid: queue[0].txid, lastTxid: queue[2].txid, checkpoint: "checkpoint 1")
            let row2 = AnchorBatchRow(id: b2, root: Self.root(2), leafCount: 2, firstTxid: queue[3].txid, lastTxid: queue[4].txid, checkpoint: "checkpoint 2")
            #expect(try await store.pendingAnchorBatches() == [row1, row2])

            try await store.completeAnchorBatch(id: b1, height: 7, transactionIndex: 2)
            var done1 = row1
            done1.height = 7
            done1.transactionIndex = 2
            #expect(try await store.pendingAnchorBatches() == [row2])
            #expect(try await store.anchorBatch(id: b1) == done1)
            for (n, q) in queue[0..<3].enumerated() {
                #expect(try await store.anchorLocation(q.key, version: q.version) == AnchorLocation(batch: b1, leaf: n, height: 7))
            }
            for (n, q) in queue[3..<5].enumerated() {
                #expect(try await store.anchorLocation(q.key, version: q.version) == AnchorLocation(batch: b2, leaf: n, height: nil))
            }

            // Idempotent: the same write-back again changes nothing.
            try await store.completeAnchorBatch(id: b1, height: 7, transactionIndex: 2)
            #expect(try await store.anchorBatch(id: b1) == done1)
            #expect(try await store.pendingAnchorBatches() == [row2])
            #expect(try await store.batchLeaves(b1) == queue[0..<3].map(Self.leaf))

            try await store.completeAnchorBatch(id: b2, height: 9, transactionIndex: 0)
            #expect(try await store.pendingAnchorBatches().isEmpty)
            #expect(try await store.anchorBatch(id: b2)?.height == 9)
            #expect(try await store.anchorBatch(id: b2)?.transactionIndex == 0)
            #expect(try await store.anchorLocation(queue[4].key, version: queue[4].version) == AnchorLocation(batch: b2, leaf: 1, height: 9))
            // The versions not in a batch stay queued, without a location.
            #expect(try await store.anchorQueue(limit: 100) == Array(queue[5...]))
            #expect(try await store.anchorLocation(queue[5].key, version: queue[5].version) == nil)

            let error = await #expect(throws: StoreError.self) { try await store.completeAnchorBatch(id: b2 + 100, height: 10, transactionIndex: 0) }
            #expect(error?.operation == "completing anchor batch \(b2 + 100)")
            #expect(error?.reason == "there is no such batch")

            // A second process opening the same store finds the batches (and does not apply migration 3 again).
            let again = try await StoreLocation.open(url)
            #expect(try await again.anchorBatch(id: b1) == done1)
            #expect(try await again.anchorLocation(queue[0].key, version: queue[0].version) == AnchorLocation(batch: b1, leaf: 0, height: 7))
            try await again.close()
        }
    }

    @Test(arguments: StoreKind.allCases)
    func aRefusedBatchWritesNothing(kind: StoreKind) async throws {
        try await kind.withStore { store, _ in
            try await Self.seed(store)
            let queue = try await store.anchorQueue(limit: 100)
            let b1 = try await Self.batch(store, 1, Array(queue[0..<2]))
            let rest = try await store.anchorQueue(limit: 100)
            #expect(rest == Array(queue[2...]))

            /// Tries a batch that must be refused; checks the reason and that the store is as it was.
            func refused(_ leaves: [(key: RecordKey, version: Int)], root: [UInt8] = Self.root(2), because reason: String) async throws {
                let error = await #expect(throws: StoreError.self) {
                    _ = try await store.createAnchorBatch(root: root, firstTxid: 1, lastTxid: 2, checkpoint: "refused", leaves: leaves)
                }
                #expect(error?.operation == "creating an anchor batch")
                #expect(error?.reason.contains(reason) == true, "\(error?.reason ?? "no error")")
                #expect(try await store.anchorQueueCount() == 5)
                #expect(try await store.anchorQueue(limit: 100) == rest)
                #expect(try await store.anchorLocation(queue[2].key, version: queue[2].version) == nil)
                #expect(try await store.pendingAnchorBatches().map(\.id) == [b1])
                #expect(try await store.anchorBatch(id: b1 + 1) == nil)
                #expect(try await store.batchLeaves(b1) == queue[0..<2].map(Self.leaf))
                #expect(try await store.anchorLocation(queue[1].key, version: queue[1].version) == AnchorLocation(batch: b1, leaf: 1, height: nil))
            }
            let queued = (key: queue[2].key, version: queue[2].version)
            // A version that is in a batch already, after one that is queued.
            try await refused([queued, (key: queue[1].key, version: queue[1].version)],
                              because: "\(queue[1].key) version \(queue[1].version) is already in anchor batch \(b1)")
            // A version that does not exist.
            try await refused([queued, (key: RecordKey(type: "Patient", id: "p1"), version: 3)], because: "Patient/p1 version 3 is not in the store")
            try await refused([queued, (key: RecordKey(type: "Patient", id: "absent"), version: 1)], because: "Patient/absent version 1 is not in the store")
            // One version twice.
            try await refused([queued, queued], because: "\(queue[2].key) version \(queue[2].version) is listed twice")
            // The root of an existing batch.
            try await refused([queued], root: Self.root(1), because: "anchor batch \(b1) has the same root")
            try await refused([], because: "at least one leaf")

            // The refusals left nothing behind: the queued version still joins a batch, as its first leaf.
            let b2 = try await Self.batch(store, 2, [queue[2]])
            #expect(try await store.anchorLocation(queue[2].key, version: queue[2].version) == AnchorLocation(batch: b2, leaf: 0, height: nil))
            #expect(try await store.pendingAnchorBatches().map(\.root) == [Self.root(1), Self.root(2)])
            #expect(try await store.anchorQueueCount() == 4)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func versionReadsOneStoredVersionOrNil(kind: StoreKind) async throws {
        try await kind.withStore { store, _ in
            try await Self.seed(store)
            let p1 = RecordKey(type: "Patient", id: "p1")
            let versions = try await store.versions(p1)
            try #require(versions.count == 2)
            #expect(try await store.version(p1, 1) == versions[0])
            #expect(try await store.version(p1, 2) == versions[1])
            let second = try #require(try await store.version(p1, 2))
            #expect(second.key == p1 && second.version == 2)
            #expect(String(decoding: second.canonical, as: UTF8.self).contains(#""gender":"other""#))
            #expect(try RecordCommitment(canonicalHash: second.canonicalHash, salt: second.salt).value == second.commitment)
            #expect(try await store.version(p1, 2) == (try await store.current(p1)))
            #expect(try await store.version(p1, 3) == nil)
            #expect(try await store.version(p1, 0) == nil)
            #expect(try await store.version(RecordKey(type: "Patient", id: "absent"), 1) == nil)
            #expect(try await store.version(RecordKey(type: "Observation", id: "p1"), 1) == nil)
        }
    }

    /// The anchoring service cuts batches of up to 10,000 leaves: one batch that size, written and completed.
    @Test(arguments: StoreKind.allCases)
    func aBatchOfTenThousandLeaves(kind: StoreKind) async throws {
        try await kind.withStore { store, _ in
            let count = 10_000
            for unit in 0..<5 {
                let records = try (0..<2_000).map { n in
                    try Self.record(#"{"resourceType":"Patient","id":"bulk-\#(unit * 2_000 + n)","gender":"unknown"}"#)
                }
                _ = try await store.commit(records, batch: nil)
            }
            let queue = try await store.anchorQueue(limit: count)
            try #require(queue.count == count)
            let clock = ContinuousClock()
            let start = clock.now
            let id = try await Self.batch(store, 1, queue)
            let created = clock.now - start
            #expect(try await store.anchorQueueCount() == 0)
            #expect(try await store.anchorBatch(id: id)?.leafCount == count)
            #expect(try await store.batchLeaves(id) == queue.map(Self.leaf))
            try await store.completeAnchorBatch(id: id, height: 3, transactionIndex: 1)
            #expect(try await store.pendingAnchorBatches().isEmpty)
            for n in [0, 1, 4_999, count - 1] {
                #expect(try await store.anchorLocation(queue[n].key, version: queue[n].version) == AnchorLocation(batch: id, leaf: n, height: 3))
            }
            print("anchoring queue (\(kind)): a batch of \(count) leaves created in \(created)")
        }
    }
}
