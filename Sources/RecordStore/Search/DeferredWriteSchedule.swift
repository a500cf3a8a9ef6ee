import Synchronization

/// When a store writes what it held back for AuditEvents (SQLite's journal move, PostgreSQL's deferred index rows):
/// at once when ``DeferredIndex/flushCount`` records wait, else after a delay (``DeferredIndex/flushDelay``), with at
/// most one write of each kind scheduled. The stores start the write themselves; this decides whether and when.
final class DeferredWriteSchedule: Sendable {
    private let scheduled = Mutex((immediate: false, delayed: false))

    /// The delay after which to start a write for `waiting` records (zero: at once), or nil when nothing waits or a
    /// write of that kind is scheduled already. A write it answers for must call ``started(after:)``.
    func claim(waiting: Int, delay: Duration) -> Duration? {
        guard waiting > 0 else { return nil }
        let immediate = waiting >= DeferredIndex.flushCount
        return scheduled.withLock { s -> Duration? in
            if immediate {
                if s.immediate { return nil }
                s.immediate = true
                return .zero
            }
            if s.delayed { return nil }
            s.delayed = true
            return delay
        }
    }

    /// A write claimed with `delay` starts: another of its kind may be scheduled from now on.
    func started(after delay: Duration) {
        scheduled.withLock { s in
            if delay == .zero { s.immediate = false } else { s.delayed = false }
        }
    }
}
