public import FHIRCore
public import Foundation
public import RecordStore

/// The audit trail of partner accesses (issue 17, Deliver 7): each access's AuditEvent is validated and stored
/// before the response leaves, as a record like any other (versioned, in the anchoring queue, so only its
/// commitment reaches the chain).
///
/// Group commit: the AuditEvents of concurrent requests wait together for a short flush window and are stored in
/// one store transaction; each caller resumes when the transaction holding its event committed (or failed).
public actor AuditTrail {
    let store: any RecordStore
    public let builder: AuditEventBuilder
    let validator = Validator()
    /// How long the first event of a batch waits for others.
    public let flushWindow: Duration
    /// A batch this large is stored at once, without waiting out the window.
    public let maxBatch: Int
    let clock: @Sendable () -> Date

    private var queue: [(record: PreparedRecord, waiter: CheckedContinuation<RecordKey, any Error>)] = []
    private var scheduled = false
    /// Store transactions the trail committed (each holding one or more AuditEvents).
    public private(set) var transactions = 0
    /// AuditEvents stored.
    public private(set) var stored = 0

    public init(store: any RecordStore, observer: String, flushWindow: Duration = .milliseconds(2), maxBatch: Int = 256,
                clock: @escaping @Sendable () -> Date = { Date() }) {
        precondition(maxBatch > 0, "a batch holds at least one AuditEvent")
        self.store = store
        self.builder = AuditEventBuilder(observer: observer)
        self.flushWindow = flushWindow
        self.maxBatch = maxBatch
        self.clock = clock
    }

    /// Builds, validates and stores the AuditEvent of `access`; returns once it is committed, with its key.
    @discardableResult
    public func record(_ access: AuditedAccess) async throws -> RecordKey {
        let event: Resource
        do {
            event = try builder.event(access, recorded: clock())
        } catch {
            throw ServiceError(.internal, "the AuditEvent could not be built: \(error)")
        }
        return try await store(event)
    }

    /// Validates and stores an AuditEvent; returns once it is committed, with its key.
    @discardableResult
    public func store(_ event: Resource) async throws -> RecordKey {
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
        return try await withCheckedThrowingContinuation { waiter in
            queue.append((record, waiter))
            if queue.count >= maxBatch {
                Task { await self.flush() }
            } else if !scheduled {
                scheduled = true
                Task {
                    try? await Task.sleep(for: self.flushWindow)
                    await self.flush()
                }
            }
        }
    }

    /// Stores what is queued, at most ``maxBatch`` AuditEvents per store transaction, and resumes their waiters.
    func flush() async {
        scheduled = false
        while !queue.isEmpty {
            let batch = Array(queue.prefix(maxBatch))
            queue.removeFirst(batch.count)
            await commit(batch)
        }
    }

    private func commit(_ batch: [(record: PreparedRecord, waiter: CheckedContinuation<RecordKey, any Error>)]) async {
        do {
            _ = try await store.commit(batch.map(\.record), batch: nil)
            transactions += 1
            stored += batch.count
            for entry in batch { entry.waiter.resume(returning: entry.record.key) }
        } catch {
            let failure = ServiceError(.unavailable, "the audit trail could not be stored, so the access is not served: \(error)")
            for entry in batch { entry.waiter.resume(throwing: failure) }
        }
    }
}
