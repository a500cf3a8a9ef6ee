import Synchronization

/// The read connections of an ``SQLiteStore``: reads do not queue behind the store's writer.
///
/// In WAL mode a reader sees the last committed state and neither blocks nor waits for the one writer, but only on
/// its own connection. The gateway's partner reads commit an AuditEvent each, so with one connection every read
/// waited for a commit (and its fsync) to finish. A read borrows an idle connection (opening one when none is idle),
/// runs on the caller's thread (a read from the page cache takes microseconds) and gives it back; at most
/// ``keptIdle`` stay open.
final class SQLiteReaders: Sendable {
    let path: String
    /// The most idle connections kept open; more may be open while more reads run at once.
    let keptIdle: Int
    private let state = Mutex(State())

    private struct State: ~Copyable {
        var idle: [SQLiteConnection] = []
        var closed = false
    }

    init(path: String, keptIdle: Int = 8) {
        self.path = path
        self.keptIdle = keptIdle
    }

    /// Runs `body` on a read connection. Each statement it runs reads one consistent snapshot; several statements
    /// that must agree run inside `BEGIN`/`COMMIT` in `body`.
    func read<T>(_ body: (SQLiteConnection) throws -> T) throws -> T {
        let borrowed: SQLiteConnection? = try state.withLock { state in
            guard !state.closed else { throw StoreError("reading the SQLite store \(path)", "it is closed") }
            return state.idle.popLast()
        }
        let connection = try borrowed ?? open()
        defer { giveBack(connection) }
        return try body(connection)
    }

    private func open() throws -> SQLiteConnection {
        let connection = try SQLiteConnection(path: path)
        // query_only: a read connection never writes, whatever a caller runs on it. 16 MB of page cache each.
        try connection.exec("PRAGMA busy_timeout=10000; PRAGMA query_only=1; PRAGMA cache_size=-16384;")
        return connection
    }

    private func giveBack(_ connection: SQLiteConnection) {
        let kept = state.withLock { state in
            guard !state.closed, state.idle.count < keptIdle else { return false }
            state.idle.append(connection)
            return true
        }
        if !kept { connection.close() }
    }

    /// Closes the idle connections; reads running now close theirs when they finish, later reads fail.
    func close() {
        let idle = state.withLock { state in
            state.closed = true
            let idle = state.idle
            state.idle = []
            return idle
        }
        for connection in idle { connection.close() }
    }
}
