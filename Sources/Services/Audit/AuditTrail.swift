public import FHIRCore
public import Foundation
public import RecordStore

/// The audit trail of partner accesses (issue 17, Deliver 7): each access's AuditEvent is stored before the
/// response leaves, as a record like any other (versioned, in the anchoring queue, so only its commitment reaches
/// the chain, and searchable). Its search-index rows are written shortly after, in bulk with other AuditEvents'
/// (``RecordStore/commitIndexingLater(_:)``); a search that can find AuditEvents has them written first.
///
/// Group commit, adaptive: an AuditEvent that finds a commit slot free is committed at once (an idle gateway adds
/// one store transaction to a read, no window); while ``maxInFlight`` commits are running, arriving AuditEvents
/// queue, and the next free slot commits all of them (up to ``maxBatch``) in one store transaction, so batches
/// grow with the load. Each caller resumes only when the transaction holding its own event committed, or with a
/// ``ServiceError`` (`.unavailable`, 503) when it failed.
public actor AuditTrail {
    /// Stores one batch of AuditEvents in one store transaction; returns once it is durably committed.
    package typealias Commit = @Sendable ([PreparedRecord]) async throws -> Void

    let commitBatch: Commit
    /// Where the trail runs: the store's ``RecordStore/commitExecutor`` (SQLite's audit journal thread), so that queueing,
    /// dispatching and committing a batch never wait for one of Swift's cooperative threads behind request work.
    private let executor: UnownedSerialExecutor
    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor }
    public let builder: AuditEventBuilder
    let validator = Validator()
    /// How long the oldest queued event may wait for others while a slot is free (zero: it does not wait).
    public let flushWindow: Duration
    /// The most AuditEvents in one store transaction.
    public let maxBatch: Int
    /// The most store transactions committing at once.
    public let maxInFlight: Int
    let clock: @Sendable () -> Date

    private struct Waiting {
        var record: PreparedRecord
        var arrived: ContinuousClock.Instant
        var waiter: CheckedContinuation<RecordKey, any Error>
    }

    private var queue: [Waiting] = []
    private var inFlight = 0
    private var timerSet = false
    /// Store transactions the trail committed (each holding one or more AuditEvents).
    public private(set) var transactions = 0
    /// AuditEvents stored.
    public private(set) var stored = 0
    /// The largest batch committed, and the most commits that were in flight at once.
    public private(set) var largestBatch = 0
    public private(set) var mostInFlight = 0
    /// AuditEvents waiting for a commit slot.
    public var queued: Int { queue.count }

    /// A trail storing into `store`. `maxInFlight` defaults to ``commitSlots(for:)``.
    public init(store: any RecordStore, observer: String, flushWindow: Duration = .zero, maxBatch: Int = 256, maxInFlight: Int? = nil,
                clock: @escaping @Sendable () -> Date = { Date() }) {
        self.init(observer: observer, flushWindow: flushWindow, maxBatch: maxBatch, maxInFlight: maxInFlight ?? Self.commitSlots(for: store),
                  clock: clock, executor: store.commitExecutor) { records in
            _ = try await store.commitIndexingLater(records)
        }
    }

    /// A trail committing its batches with `commit` (a store's commit, or one a test delays).
    package init(observer: String, flushWindow: Duration = .zero, maxBatch: Int = 256, maxInFlight: Int = 1,
                 clock: @escaping @Sendable () -> Date = { Date() }, executor: UnownedSerialExecutor = CommitThread.executor,
                 commit: @escaping Commit) {
        precondition(maxBatch > 0 && maxInFlight > 0, "a batch holds at least one AuditEvent and one commit can run")
        self.commitBatch = commit
        self.executor = executor
        self.builder = AuditEventBuilder(observer: observer)
        self.flushWindow = flushWindow
        self.maxBatch = maxBatch
        self.maxInFlight = maxInFlight
        self.clock = clock
    }

    /// How many commits to overlap on `store`. PostgreSQL commits concurrently on its connection pool, of which
    /// the trail leaves most to the reads. SQLite's journal has one writer: two slots let the next batch be journaled
    /// while the last one's fsync runs (measured with the journal and the trail on the writer thread: 2,000–2,340
    /// partner reads/s with two slots, 1,740 with one; with the journal in a file of its own, four slots were no
    /// faster than two in two runs each).
    public static func commitSlots(for store: any RecordStore) -> Int {
        store is SQLiteStore ? 2 : 3
    }

    /// Builds and stores the AuditEvent of `access`; returns once it is committed, with its key.
    ///
    /// The builder's events are not validated here: their shape is ours, and AuditEventVariantsTests validate every
    /// variant (each interaction, outcome and decision) with FHIRCore's Validator. Building and preparing run off
    /// the actor, in the caller's task, so concurrent requests prepare their AuditEvents in parallel; only the
    /// queueing is serialized.
    @discardableResult
    public nonisolated func record(_ access: AuditedAccess) async throws -> RecordKey {
        let record: PreparedRecord
        do {
            record = try PreparedRecord(resource: builder.event(access, recorded: clock()))
        } catch {
            throw ServiceError(.internal, "the AuditEvent could not be built: \(error)")
        }
        return try await enqueue(record)
    }

    /// Validates and stores an AuditEvent built elsewhere; returns once it is committed, with its key.
    @discardableResult
    public nonisolated func store(_ event: Resource) async throws -> RecordKey {
        let issues = validator.validate(event).filter(\.isError)
        guard issues.isEmpty else {
            throw ServiceError(.internal, "the AuditEvent does not validate: \(issues.first?.diagnostics ?? "")", issues: issues)
        }
        let record: PreparedRecord
        do {
            record = try PreparedRecord(resource: event)
        } catch {
            throw ServiceError(error)
        }
        return try await enqueue(record)
    }

    private func enqueue(_ record: PreparedRecord) async throws -> RecordKey {
        try await withCheckedThrowingContinuation { waiter in
            queue.append(Waiting(record: record, arrived: .now, waiter: waiter))
            dispatch()
        }
    }

    /// Starts commits while a slot is free and something is queued (waiting out the window first, if any).
    private func dispatch() {
        while inFlight < maxInFlight, let oldest = queue.first {
            if flushWindow > .zero, queue.count < maxBatch {
                let due = oldest.arrived.advanced(by: flushWindow)
                if due > .now {
                    wake(at: due)
                    return
                }
            }
            let batch = Array(queue.prefix(maxBatch))
            queue.removeFirst(batch.count)
            inFlight += 1
            mostInFlight = max(mostInFlight, inFlight)
            largestBatch = max(largestBatch, batch.count)
            Task { await self.commit(batch) }
        }
    }

    private func wake(at due: ContinuousClock.Instant) {
        guard !timerSet else { return }
        timerSet = true
        Task {
            try? await Task.sleep(until: due, clock: .continuous)
            await self.woke()
        }
    }

    private func woke() {
        timerSet = false
        dispatch()
    }

    /// Commits one batch (the actor is free for other callers meanwhile) and resumes its waiters.
    private func commit(_ batch: [Waiting]) async {
        do {
            try await commitBatch(batch.map(\.record))
            transactions += 1
            stored += batch.count
            for entry in batch { entry.waiter.resume(returning: entry.record.key) }
        } catch {
            let failure = ServiceError(.unavailable, "the audit trail could not be stored, so the access is not served: \(error)")
            for entry in batch { entry.waiter.resume(throwing: failure) }
        }
        inFlight -= 1
        dispatch()
    }
}
