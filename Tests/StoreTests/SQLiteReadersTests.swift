import FHIRCore
import Foundation
@testable import RecordStore
import Synchronization
import TestSupport
import Testing

/// The SQLite store's reads run on their own connections: a read is answered from the last commit while the
/// store's writer is stuck in a commit, and sees that commit as soon as it is done.
@Suite("SQLite reads beside the writer", .timeLimit(.minutes(3)))
struct SQLiteReadersTests {
    static func patient(_ family: String) throws -> PreparedRecord {
        try PreparedRecord(resource: JSONReader().read(Array(#"{"resourceType":"Patient","id":"p1","name":[{"family":"\#(family)"}]}"#.utf8)))
    }

    @Test func readIsAnsweredWhileTheWriterWaitsForTheLock() async throws {
        let dir = try Repository.temporaryDirectory("careledger-sqlite-readers")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("store.sqlite").path
        let store = try SQLiteStore(path: path)
        _ = try await store.commit([Self.patient("Before")], batch: nil)
        let key = RecordKey(type: "Patient", id: "p1")

        // Another process's writer holds SQLite's write lock, so the store's commit waits inside its actor.
        let other = try SQLiteConnection(path: path)
        try other.exec("BEGIN IMMEDIATE")
        let committed = Atomic<Bool>(false)
        let commit = Task {
            _ = try await store.commit([Self.patient("After")], batch: nil)
            committed.store(true, ordering: .sequentiallyConsistent)
        }
        // However long the commit waits, the lock is released within 20 s, so a read that wrongly queues behind the
        // writer fails the expectation below instead of hanging the suite.
        let release = Task {
            guard (try? await Task.sleep(for: .seconds(20))) != nil else { return }
            try? other.exec("COMMIT")
        }
        // The commit is queued behind the lock once the store's writer has taken it up; give it the chance first.
        try await Task.sleep(for: .milliseconds(200))
        let during = try #require(try await store.current(key))
        let duringWasBeforeCommit = !committed.load(ordering: .sequentiallyConsistent)
        release.cancel()
        await release.value
        try? other.exec("COMMIT")
        try await commit.value

        #expect(duringWasBeforeCommit, "the read waited for the commit that was stuck behind the write lock")
        #expect(String(decoding: during.canonical, as: UTF8.self).contains("Before"))
        let after = try #require(try await store.current(key))
        #expect(after.version == 2)
        #expect(String(decoding: after.canonical, as: UTF8.self).contains("After"))
        other.close()
        try await store.close()
    }

    @Test func readConnectionsRefuseWrites() async throws {
        let dir = try Repository.temporaryDirectory("careledger-sqlite-readers")
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try SQLiteStore(path: dir.appendingPathComponent("store.sqlite").path)
        #expect(throws: StoreError.self) {
            try store.readers.read { db in try db.exec("DELETE FROM records") }
        }
        try await store.close()
        await #expect(throws: StoreError.self) { _ = try await store.current(RecordKey(type: "Patient", id: "p1")) }
    }
}
