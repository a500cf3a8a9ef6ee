import FHIRCore
import Foundation
import Ledger
import RecordStore
import Services
import Testing
import TestSupport

/// The trail's overlapping, adaptive group commit, against a real store whose commits a test holds and releases:
/// an idle trail commits at once, a second commit starts while the first is held, later events wait for a free slot
/// and go together, each caller resumes only once its own batch committed, and a failed commit answers 503.
@Suite("Audit trail: overlapping batches", .timeLimit(.minutes(5)))
struct AuditTrailOverlapTests {
    /// Commits to a real store, each held until the test releases it (by the order the commits started).
    actor HeldCommits {
        let store: any RecordStore
        private var held: [(records: [PreparedRecord], release: CheckedContinuation<Void, Never>)] = []
        private var started: [[RecordKey]] = []
        /// Keys whose commit finished.
        private(set) var committed: Set<RecordKey> = []

        init(store: any RecordStore) { self.store = store }

        func commit(_ records: [PreparedRecord]) async throws {
            started.append(records.map(\.key))
            await withCheckedContinuation { held.append((records, $0)) }
            _ = try await store.commit(records, batch: nil)
            for record in records { committed.insert(record.key) }
        }

        /// The batches started so far (sizes, in start order).
        var startedSizes: [Int] { started.map(\.count) }

        /// Releases the held commit that was the `n`-th to start (0-based); false if it is not held.
        func release(started n: Int) -> Bool {
            guard n < started.count, let i = held.firstIndex(where: { $0.records.map(\.key) == started[n] }) else { return false }
            held.remove(at: i).release.resume()
            return true
        }
    }

    /// Callers in the order they resumed, each with whether its key was committed when it resumed.
    actor Resumed {
        private(set) var callers: [Int] = []
        private(set) var early: [Int] = []
        func add(_ caller: Int, committedBefore: Bool) {
            callers.append(caller)
            if !committedBefore { early.append(caller) }
        }
    }

    /// Polls `condition` every 10 ms for up to a generous 60 s (the host is shared and busy); false if it never held.
    static func eventually(_ condition: () async -> Bool) async -> Bool {
        for _ in 0..<6000 {
            if await condition() { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return false
    }

    static func access(_ n: Int) -> AuditedAccess {
        AuditedAccess(interaction: .read, clientId: "partner-b-client", identifiers: ["http://example.org/ids|partner-hospital-b"],
                      patients: ["Patient/p\(n)"], resources: ["Patient/p\(n)/_history/1"],
                      purpose: "http://terminology.hl7.org/CodeSystem/v3-ActReason|TREAT", outcome: .success, height: 9, decision: .permit,
                      basis: [String(repeating: "ab", count: 32)])
    }

    @Test(arguments: StoreKind.allCases)
    func batchesOverlapAndEachCallerResumesAfterItsOwnCommit(kind: StoreKind) async throws {
        try await kind.withStore { store, _ in
            let commits = HeldCommits(store: store)
            let trail = AuditTrail(observer: "gateway A", maxInFlight: 2) { try await commits.commit($0) }
            let resumed = Resumed()
            try await withThrowingTaskGroup(of: RecordKey.self) { group in
                let call: @Sendable (Int) async throws -> RecordKey = { n in
                    let key = try await trail.record(Self.access(n))
                    await resumed.add(n, committedBefore: await commits.committed.contains(key))
                    return key
                }
                // An idle trail commits the first event at once; the second starts a commit beside the held first.
                group.addTask { try await call(1) }
                #expect(await Self.eventually { await commits.startedSizes == [1] })
                group.addTask { try await call(2) }
                #expect(await Self.eventually { await commits.startedSizes == [1, 1] })
                // Both slots busy: the next four wait together.
                for n in 3...6 { group.addTask { try await call(n) } }
                #expect(await Self.eventually { await trail.queued == 4 })
                #expect(await commits.startedSizes == [1, 1])
                #expect(await resumed.callers.isEmpty, "no caller resumes before its batch committed")

                // The second batch commits first: only its caller resumes; the freed slot takes the four at once.
                #expect(await commits.release(started: 1))
                #expect(await Self.eventually { await resumed.callers == [2] })
                #expect(await Self.eventually { await commits.startedSizes == [1, 1, 4] })
                #expect(await trail.queued == 0)
                #expect(await resumed.callers == [2], "caller 1's batch is still held")

                #expect(await commits.release(started: 2))
                #expect(await Self.eventually { await resumed.callers.count == 5 })
                #expect(!(await resumed.callers.contains(1)))
                #expect(await commits.release(started: 0))
                var keys: [RecordKey] = []
                for try await key in group { keys.append(key) }
                #expect(Set(keys).count == 6)
                for key in keys {
                    let stored = try #require(try await store.current(key))
                    #expect(stored.key.type == "AuditEvent" && stored.version == 1)
                }
            }
            let early = await resumed.early
            #expect(early.isEmpty, "callers resumed before their commit: \(early)")
            #expect(await trail.transactions == 3)
            #expect(await trail.stored == 6)
            #expect(await trail.mostInFlight == 2)
            #expect(await trail.largestBatch == 4)
            #expect(try await store.anchorQueueCount() == 6, "every AuditEvent is queued for anchoring like any record")
        }
    }

    @Test func aFailedCommitAnswersUnavailableToEveryCallerOfItsBatch() async throws {
        struct Refused: Error {}
        let trail = AuditTrail(observer: "gateway A", maxInFlight: 1) { _ in throw Refused() }
        for n in 1...3 {
            do {
                try await trail.record(Self.access(n))
                Issue.record("an AuditEvent whose commit failed was reported stored")
            } catch let error as ServiceError {
                #expect(error.code == .unavailable && error.httpStatus == 503)
            }
        }
        #expect(await trail.stored == 0)
        #expect(await trail.transactions == 0)
        // The slot is free again after a failure.
        #expect(await trail.queued == 0)
    }

    @Test func aStoreGetsTheCommitSlotsItCanUse() async throws {
        try await StoreKind.sqlite.withStore { store, _ in
            #expect(AuditTrail.commitSlots(for: store) == 2, "one SQLite writer: the next batch is journaled while the last one syncs")
        }
        try await StoreKind.postgres.withStore { store, _ in
            #expect(AuditTrail.commitSlots(for: store) == 3, "PostgreSQL commits on several connections")
        }
    }
}
