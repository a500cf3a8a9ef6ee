import FHIRCore
import Foundation
@testable import RecordStore
import Synchronization
import TestSupport
import Testing

/// The SQLite store's group fsync: a caller returns only after a sync that started after its call has finished;
/// callers arriving while a sync runs share the next one; a failed sync fails its callers and every later one.
@Suite("SQLite group fsync", .timeLimit(.minutes(2)))
struct SQLiteWALSyncTests {
    /// A sync the test releases one at a time, recording what it was asked to sync.
    final class GatedSync: Sendable {
        private let pending = Mutex<[CheckedContinuation<Void, any Error>]>([])
        let paths = Mutex<[String]>([])
        var sync: SQLiteWALSync.Sync {
            { path in
                self.paths.withLock { $0.append(path) }
                try await withCheckedThrowingContinuation { continuation in self.pending.withLock { $0.append(continuation) } }
            }
        }

        /// Waits until a sync is running, then lets it finish (or fail).
        func release(failing: Bool = false) async {
            while true {
                let next = pending.withLock { $0.isEmpty ? nil : $0.removeFirst() }
                if let next {
                    if failing { next.resume(throwing: StoreError("syncing", "the disk refused")) } else { next.resume() }
                    return
                }
                await Task.yield()
            }
        }
    }

    final class Flag: Sendable {
        private let value = Atomic<Int>(0)
        func set() { value.add(1, ordering: .sequentiallyConsistent) }
        var count: Int { value.load(ordering: .sequentiallyConsistent) }
    }

    @Test func callersDuringASyncShareTheNextOne() async throws {
        let gate = GatedSync()
        let walSync = SQLiteWALSync(databasePath: "/store.sqlite", sync: gate.sync)
        let first = Flag()
        let a = Task { try await walSync.durable(); first.set() }
        // A's sync runs (gated) before B and C ask.
        while await walSync.syncs == 0 { await Task.yield() }
        let later = Flag()
        let b = Task { try await walSync.durable(); later.set() }
        let c = Task { try await walSync.durable(); later.set() }
        while await walSync.waiting < 3 { await Task.yield() }
        await gate.release()
        try await a.value
        // The first sync may have started before B's and C's commits: they wait for the second.
        #expect(later.count == 0)
        await gate.release()
        try await b.value
        try await c.value
        #expect(first.count == 1 && later.count == 2)
        #expect(await walSync.syncs == 2, "B and C shared one sync")
        #expect(gate.paths.withLock { $0 } == ["/store.sqlite-wal", "/store.sqlite-wal"])
    }

    @Test func aFailedSyncFailsItsCallersAndEveryLaterOne() async throws {
        let gate = GatedSync()
        let walSync = SQLiteWALSync(databasePath: "/store.sqlite", sync: gate.sync)
        let a = Task { try await walSync.durable() }
        while await walSync.syncs == 0 { await Task.yield() }
        await gate.release(failing: true)
        await #expect(throws: StoreError.self) { try await a.value }
        await #expect(throws: StoreError.self) { try await walSync.durable() }
        #expect(await walSync.syncs == 1, "no sync is tried after a failure")
    }

    @Test func theStoreSyncsTheWALItWrote() async throws {
        let dir = try Repository.temporaryDirectory("careledger-walsync")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("store.sqlite").path
        let store = try SQLiteStore(path: path)
        let records = try (1...20).map { n in
            try PreparedRecord(resource: JSONReader().read(Array(#"{"resourceType":"Patient","id":"p\#(n)"}"#.utf8)))
        }
        // Twenty commits at once: each returns only after a sync that covers it.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for record in records { group.addTask { _ = try await store.commit([record], batch: nil) } }
            try await group.waitForAll()
        }
        let syncs = await store.walSync.syncs
        #expect(syncs >= 1 && syncs <= 20)
        #expect(FileManager.default.fileExists(atPath: path + "-wal"))
        #expect(try await store.versionCount() == 20)
        try await store.close()
    }

    @Test func checkpointsRunBesideTheWriter() async throws {
        let dir = try Repository.temporaryDirectory("careledger-checkpoint")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("store.sqlite").path
        let store = try SQLiteStore(path: path)
        for n in 1...5 {
            _ = try await store.commit([try PreparedRecord(resource: JSONReader().read(Array(#"{"resourceType":"Patient","id":"c\#(n)"}"#.utf8)))],
                                       batch: nil)
        }
        // The first commit's nudge starts a checkpoint on the blocking pool; waits are bounded (shared cores).
        for _ in 0..<400 where store.checkpointer.checkpoints == 0 && store.checkpointer.lastFailure == nil {
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(store.checkpointer.lastFailure == nil)
        #expect(store.checkpointer.checkpoints >= 1)
        // What the checkpoint copied is in the database file: a fresh connection reads it, and the WAL has no
        // frames left to copy for the first commits.
        #expect(try await store.versionCount() == 5)
        try await store.close()
        let reopened = try SQLiteStore(path: path)
        #expect(try await reopened.versionCount() == 5)
        try await reopened.close()
    }
}
