import Glibc
import NIOPosix

/// Makes an SQLite store's commits durable after they release the write lock, so that the next transaction writes
/// while the last one's fsync runs (group commit).
///
/// With `synchronous=FULL` SQLite fsyncs the WAL inside COMMIT, holding the one write lock: commits queue behind
/// each other's fsync, which takes 0.2 ms on a quiet disk and 5–45 ms on a busy one. The store runs
/// `synchronous=NORMAL` instead (a commit's frames are written to the WAL, not synced) and every writing method
/// awaits ``durable()`` before it returns: it returns once an `fdatasync` of the WAL file that started after the
/// caller's commit has finished. The WAL is append-only between checkpoints and SQLite syncs it before every
/// checkpoint, so that fsync covers the caller's frames and every earlier frame. A caller therefore never learns of
/// a commit that a power loss could take back, as with `synchronous=FULL`; concurrent callers share one fsync.
actor SQLiteWALSync {
    /// The WAL file (`<database>-wal`), opened anew for each sync: SQLite may delete and create it again.
    let walPath: String
    /// Syncs started (the fsyncs run so far) and finished, counted from 1.
    private(set) var syncs = 0
    private var finished = 0
    private var running = false
    private var waiters: [(needs: Int, continuation: CheckedContinuation<Void, any Error>)] = []
    /// The first fsync failure: after it the file's state on disk is unknown, so every later sync fails too.
    private var failure: StoreError?

    /// Syncs one file (the default: `fdatasync` on a thread of NIO's blocking pool).
    typealias Sync = @Sendable (String) async throws -> Void
    let syncFile: Sync
    /// Callers waiting for a sync.
    var waiting: Int { waiters.count }

    /// Where the group fsync's bookkeeping runs: the store's writer thread, so that a commit's wait for its sync
    /// and the sync's completion never queue behind request work on Swift's few cooperative threads (under load
    /// every turn of the audit trail's group commit waited there, and more connections made it slower).
    private let executor: UnownedSerialExecutor?
    nonisolated var unownedExecutor: UnownedSerialExecutor { executor ?? CommitThread.executor }

    init(databasePath: String, executor: UnownedSerialExecutor? = nil, sync: @escaping Sync = SQLiteWALSync.fdatasyncOnThreadPool) {
        walPath = databasePath + "-wal"
        syncFile = sync
        self.executor = executor
    }

    static let fdatasyncOnThreadPool: Sync = { path in
        try await NIOThreadPool.singleton.runIfActive { try SQLiteWALSync.sync(path) }
    }

    /// Returns once everything committed before the call is on disk; throws when the fsync failed.
    func durable() async throws {
        if let failure { throw failure }
        // A sync running now may have started before the caller's commit: the caller needs the next one.
        let needs = syncs + 1
        try await withCheckedThrowingContinuation { continuation in
            waiters.append((needs, continuation))
            startIfIdle()
        }
    }

    private func startIfIdle() {
        guard !running, !waiters.isEmpty else { return }
        running = true
        syncs += 1
        let number = syncs, path = walPath, syncFile = syncFile
        Task {
            let outcome: StoreError?
            do {
                try await syncFile(path)
                outcome = nil
            } catch let error as StoreError {
                outcome = error
            } catch {
                outcome = StoreError("syncing \(path)", "\(error)")
            }
            self.finish(number, outcome)
        }
    }

    private func finish(_ number: Int, _ outcome: StoreError?) {
        running = false
        finished = number
        if let outcome, failure == nil { failure = outcome }
        var still: [(needs: Int, continuation: CheckedContinuation<Void, any Error>)] = []
        for waiter in waiters {
            if let failure {
                waiter.continuation.resume(throwing: failure)
            } else if waiter.needs <= finished {
                waiter.continuation.resume()
            } else {
                still.append(waiter)
            }
        }
        waiters = still
        startIfIdle()
    }

    /// fdatasync of the file at `path`. A missing WAL has nothing to sync (SQLite removed it after a checkpoint
    /// that synced everything).
    private static func sync(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return }
            throw StoreError("opening \(path) to sync it", String(cString: strerror(errno)))
        }
        defer { close(fd) }
        if fdatasync(fd) != 0 { throw StoreError("syncing \(path)", String(cString: strerror(errno))) }
    }
}
