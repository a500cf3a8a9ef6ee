import NIOPosix
import Synchronization

/// Copies an SQLite store's WAL back into the database file beside the writer, not inside one of its commits.
///
/// SQLite's automatic checkpoint runs in the commit that crosses the threshold: that commit, and every AuditEvent
/// and read answer waiting behind it, waits while megabytes of pages are copied and the database file is synced
/// (tens to hundreds of milliseconds beside builds: the 99th percentile of audited reads). A passive checkpoint on
/// a connection of its own runs concurrently with the writer, so the store nudges this after its commits and it
/// checkpoints on NIO's blocking pool at most once per ``interval``. The writer keeps SQLite's automatic checkpoint
/// at a high mark (``backstopPages``) in case this falls behind.
final class SQLiteCheckpointer: Sendable {
    let path: String
    let interval: Duration
    /// The writer's own automatic checkpoint threshold, in pages: only reached if these checkpoints fall behind.
    static let backstopPages = 20_000

    private struct State: ~Copyable {
        var connection: SQLiteConnection?
        var running = false
        var closed = false
        var last: ContinuousClock.Instant?
        var checkpoints = 0
        var failure: String?
    }
    private let state = Mutex(State())

    /// One second: the pages a busy store rewrites most (the ends of its indexes, appended to by every commit) are
    /// copied once per checkpoint however often they were rewritten, so a longer interval writes less (with audited
    /// partner reads, 9.2 KB written to disk per read at 3 s, 19 KB at 250 ms), while every read consults the WAL,
    /// which a longer interval lets grow (the 50-match partner search's p99 was 53 ms at 3 s, 46 ms at 1 s; one run
    /// each).
    init(path: String, interval: Duration = .seconds(1)) {
        self.path = path
        self.interval = interval
    }

    /// Checkpoints run so far, and the last failure (a failed checkpoint loses nothing: the frames stay in the WAL).
    var checkpoints: Int { state.withLock { $0.checkpoints } }
    var lastFailure: String? { state.withLock { $0.failure } }

    /// Called after a commit: starts a passive checkpoint unless one runs or one started less than ``interval`` ago.
    func nudge() {
        let now = ContinuousClock.now
        let start = state.withLock { state -> Bool in
            guard !state.closed, !state.running else { return false }
            if let last = state.last, now - last < interval { return false }
            state.running = true
            state.last = now
            return true
        }
        guard start else { return }
        NIOThreadPool.singleton.submit { _ in self.checkpoint() }
    }

    private func checkpoint() {
        var failure: String?
        var connection = state.withLock { state in
            let taken = state.connection
            state.connection = nil
            return taken
        }
        do {
            if connection == nil {
                let opened = try SQLiteConnection(path: path)
                try opened.exec("PRAGMA busy_timeout=0; PRAGMA synchronous=NORMAL;")
                connection = opened
            }
            try connection?.exec("PRAGMA wal_checkpoint(PASSIVE)")
        } catch {
            failure = "\(error)"
        }
        let leftOver: SQLiteConnection? = state.withLock { state in
            state.running = false
            state.checkpoints += failure == nil ? 1 : 0
            if let failure { state.failure = failure }
            guard !state.closed else { return connection }
            state.connection = connection
            return nil
        }
        leftOver?.close()
    }

    /// No checkpoint starts after this; the connection is closed (by the running checkpoint, if one runs).
    func close() {
        let idle = state.withLock { state in
            state.closed = true
            let idle = state.connection
            state.connection = nil
            return idle
        }
        idle?.close()
    }
}
