import FHIRCore
import Foundation
import Ingest
import Ledger
import Node
import RecordStore
import Testing
import TestSupport

enum Corpus {
    static let synthea = Repository.shared.appendingPathComponent("corpus/synthea/bundles").path

    /// The first `n` Synthea bundles, by name.
    static func syntheaBundles(_ n: Int) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: synthea).filter { $0.hasSuffix(".json") }.sorted().prefix(n).map { synthea + "/" + $0 }
    }

    static func importFiles(_ paths: [String], into store: any RecordStore) async throws -> ImportSummary {
        try await Importer(store: store).run(try ImportFiles.expand(paths))
    }
}

/// Produces a block every few milliseconds until cancelled (the node's block loop, with a test clock).
func producing(_ chain: Chain, from t0: Int64 = 1_700_000_010_000) -> Task<Void, Never> {
    Task {
        var t = t0
        while !Task.isCancelled {
            if await chain.mempoolCount > 0 {
                t += 10
                _ = try? await chain.produceBlock(now: t)
            }
            try? await Task.sleep(for: .milliseconds(2))
        }
    }
}

@Suite("Anchoring service and receipts from a store", .timeLimit(.minutes(5)))
struct AnchoringTests {
    @Test(arguments: StoreKind.allCases)
    func everyVersionGetsAReceiptThatVerifies(kind: StoreKind) async throws {
        try await kind.withStore { store, _ in
            let t = try TestChain()
            defer { t.remove() }
            _ = try await Corpus.importFiles(try Corpus.syntheaBundles(1), into: store)
            let versions = try await store.versionCount()
            #expect(try await store.anchorQueueCount() == versions)
            #expect(versions > 60)
            let chain = try await t.open()
            let producer = producing(chain)
            defer { producer.cancel() }
            let anchoring = AnchoringService(store: store, chain: chain, key: t.key, chainId: t.genesis.chainId,
                                             settings: .init(maxLeaves: 30, maxDelayMillis: 0))
            try await anchoring.drain()
            #expect(try await store.anchorQueueCount() == 0)
            #expect(try await store.pendingAnchorBatches().isEmpty)
            #expect(await anchoring.batches == (versions + 29) / 30)
            #expect(await chain.state.anchors.count == (versions + 29) / 30)

            var verified = 0
            var leavesSeen = Set<String>()
            // Every version, found through its batch's leaves: each is in exactly one batch and its receipt verifies.
            var batchId: Int64 = 1
            while let batch = try await store.anchorBatch(id: batchId) {
                #expect(batch.height != nil && batch.transactionIndex != nil)
                for leaf in try await store.batchLeaves(batch.id) {
                    let reference = AnchoringService.reference(leaf.key, leaf.version)
                    #expect(leavesSeen.insert(reference).inserted)
                    guard case .receipt(let receipt, let record) = try await ReceiptBuilder.build(leaf.key, version: leaf.version, store: store, chain: chain) else {
                        Issue.record("no receipt for \(reference)")
                        continue
                    }
                    try receipt.verify(chainId: t.genesis.chainId, validators: t.genesis.validatorSet, record: record)
                    // Through JSON too, as `careledger verify` reads it.
                    try ReceiptJSON.decode(try ReceiptJSON.encode(receipt)).verify(chainId: t.genesis.chainId, validators: t.genesis.validatorSet, record: record)
                    var tampered = record
                    tampered[tampered.count / 2] ^= 0x20
                    #expect(throws: Receipt.Failure.self) {
                        try receipt.verify(chainId: t.genesis.chainId, validators: t.genesis.validatorSet, record: tampered)
                    }
                    verified += 1
                }
                batchId += 1
            }
            #expect(verified == versions)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func aNewVersionIsAnchoredInItsOwnBatchAndTheCurrentReceiptFollowsIt(kind: StoreKind) async throws {
        try await kind.withStore { store, _ in
            let t = try TestChain()
            defer { t.remove() }
            let chain = try await t.open()
            let producer = producing(chain)
            defer { producer.cancel() }
            let anchoring = AnchoringService(store: store, chain: chain, key: t.key, chainId: t.genesis.chainId, settings: .init(maxLeaves: 1000, maxDelayMillis: 0))
            func put(_ family: String) async throws {
                let json = #"{"resourceType":"Patient","id":"anchor-1","name":[{"family":"\#(family)"}]}"#
                _ = try await store.commit([try PreparedRecord(resource: try FHIRDocument.read(Array(json.utf8)).resource)], batch: nil)
            }
            try await put("Before")
            try await anchoring.drain()
            try await put("After")
            let key = RecordKey(type: "Patient", id: "anchor-1")
            // Ingest did not wait: version 2 is queued, version 1 has its receipt.
            #expect(try await store.anchorQueueCount() == 1)
            guard case .pending = try await ReceiptBuilder.build(key, version: nil, store: store, chain: chain) else {
                Issue.record("the current version should wait for anchoring")
                return
            }
            try await anchoring.drain()
            for v in [1, 2] {
                guard case .receipt(let r, let record) = try await ReceiptBuilder.build(key, version: v, store: store, chain: chain) else {
                    Issue.record("no receipt for version \(v)")
                    continue
                }
                #expect(r.reference == "Patient/anchor-1/_history/\(v)")
                #expect(r.treeSize == 1)
                #expect(String(decoding: record, as: UTF8.self).contains(v == 1 ? "Before" : "After"))
                try r.verify(chainId: t.genesis.chainId, validators: t.genesis.validatorSet, record: record)
            }
            guard case .receipt(let current, _) = try await ReceiptBuilder.build(key, version: nil, store: store, chain: chain) else {
                Issue.record("no receipt for the current version")
                return
            }
            #expect(current.reference == "Patient/anchor-1/_history/2")
            guard case .notFound = try await ReceiptBuilder.build(RecordKey(type: "Patient", id: "nobody"), version: nil, store: store, chain: chain) else {
                Issue.record("a missing record must be reported as not found")
                return
            }
        }
    }

    @Test func aCrashBetweenBatchAndBlockOrBlockAndWriteBackIsRecovered() async throws {
        try await StoreKind.sqlite.withStore { store, _ in
            let t = try TestChain()
            defer { t.remove() }
            _ = try await Corpus.importFiles(try Corpus.syntheaBundles(1), into: store)
            let versions = try await store.versionCount()
            // 1. The batch is in the store and its transaction in the mempool when the node dies.
            do {
                let chain = try await t.open()
                let anchoring = AnchoringService(store: store, chain: chain, key: t.key, chainId: t.genesis.chainId, settings: .init(maxLeaves: 50, maxDelayMillis: 0))
                #expect(try await anchoring.step(now: 0, force: true) == 50)
                #expect(await chain.mempoolCount == 1)
            }
            #expect(try await store.pendingAnchorBatches().count == 1)
            // 2. After a restart the batch is submitted again; the block is committed but the write-back is lost.
            do {
                let chain = try await t.open()
                #expect(await chain.height == 0)
                let anchoring = AnchoringService(store: store, chain: chain, key: t.key, chainId: t.genesis.chainId, settings: .init(maxLeaves: 50, maxDelayMillis: 0))
                try await anchoring.recover()
                #expect(await chain.mempoolCount == 1)
                try await chain.produceBlock(now: 1_700_000_020_000)
            }
            // 3. The next start completes it from the chain's state, without anchoring it twice, and goes on.
            let chain = try await t.open()
            #expect(await chain.state.anchors.count == 1)
            let producer = producing(chain, from: 1_700_000_030_000)
            defer { producer.cancel() }
            let anchoring = AnchoringService(store: store, chain: chain, key: t.key, chainId: t.genesis.chainId, settings: .init(maxLeaves: 1000, maxDelayMillis: 0))
            try await anchoring.recover()
            #expect(try await store.pendingAnchorBatches().isEmpty)
            #expect(try await store.anchorBatch(id: 1)?.height == 1)
            try await anchoring.drain()
            #expect(try await store.anchorQueueCount() == 0)
            var leaves = 0
            var id: Int64 = 1
            while let batch = try await store.anchorBatch(id: id) {
                #expect(await chain.state.anchors[batch.root]?.height == UInt64(batch.height ?? -1))
                leaves += batch.leafCount
                id += 1
            }
            #expect(leaves == versions)
            #expect(await chain.state.anchors.count == Int(id - 1))
        }
    }
}
