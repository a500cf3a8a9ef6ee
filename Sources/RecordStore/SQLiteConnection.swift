import CSQLite
import FHIRCore
import Foundation

/// A value bound to an SQLite statement parameter.
enum SQLiteValue {
    case null
    case int(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])
}

/// One result row, valid inside the query callback.
struct SQLiteRow {
    let stmt: OpaquePointer

    func int(_ i: Int32) -> Int64 { sqlite3_column_int64(stmt, i) }
    func isNull(_ i: Int32) -> Bool { sqlite3_column_type(stmt, i) == SQLITE_NULL }
    func double(_ i: Int32) -> Double { sqlite3_column_double(stmt, i) }
    func text(_ i: Int32) -> String {
        guard let p = sqlite3_column_text(stmt, i) else { return "" }
        return String(decoding: UnsafeBufferPointer(start: p, count: Int(sqlite3_column_bytes(stmt, i))), as: UTF8.self)
    }
    func blob(_ i: Int32) -> [UInt8] {
        let n = Int(sqlite3_column_bytes(stmt, i))
        guard n > 0, let p = sqlite3_column_blob(stmt, i) else { return [] }
        return Array(UnsafeRawBufferPointer(start: p, count: n))
    }
}

/// A prepared statement (finalized when released).
final class SQLiteStatement {
    let stmt: OpaquePointer
    let db: OpaquePointer

    init(_ stmt: OpaquePointer, db: OpaquePointer) {
        self.stmt = stmt
        self.db = db
    }

    deinit { sqlite3_finalize(stmt) }

    func reset(_ values: [SQLiteValue]) throws {
        sqlite3_reset(stmt)
        sqlite3_clear_bindings(stmt)
        for (i, v) in values.enumerated() {
            let index = Int32(i + 1)
            let rc: Int32
            switch v {
            case .null: rc = sqlite3_bind_null(stmt, index)
            case .int(let n): rc = sqlite3_bind_int64(stmt, index, n)
            case .real(let d): rc = sqlite3_bind_double(stmt, index, d)
            case .text(let s): rc = sqlite3_bind_text(stmt, index, s, -1, SQLiteConnection.transient)
            case .blob(let b):
                rc = b.withUnsafeBytes { sqlite3_bind_blob(stmt, index, $0.baseAddress, Int32($0.count), SQLiteConnection.transient) }
            }
            guard rc == SQLITE_OK else { throw SQLiteConnection.error(db, "binding parameter \(index)") }
        }
    }

    /// Steps once: true when a row is available.
    func step() throws -> Bool {
        let rc = sqlite3_step(stmt)
        if rc == SQLITE_ROW { return true }
        if rc == SQLITE_DONE { return false }
        throw SQLiteConnection.error(db, "running a statement")
    }

    func int(_ i: Int32) -> Int64 { sqlite3_column_int64(stmt, i) }
    func blob(_ i: Int32) -> [UInt8] { SQLiteRow(stmt: stmt).blob(i) }

    func run(_ values: [SQLiteValue]) throws {
        try reset(values)
        while try step() {}
    }

    /// Resets the statement, ending what it reads (a statement left on a row keeps its read transaction open).
    func finish() {
        sqlite3_reset(stmt)
    }
}

/// A connection to one SQLite database file.
///
/// Used by one caller at a time: the store's writer (its actor) or one read borrowed from ``SQLiteReaders``; it is
/// opened in SQLite's serialized mode, so a mistake there is a wait, not a corruption. That is why it may cross
/// threads (`@unchecked Sendable`).
final class SQLiteConnection: @unchecked Sendable {
    private(set) var handle: OpaquePointer?
    /// Prepared statements of ``query(_:_:_:)`` and ``run(_:_:)`` by their SQL, so a hot query is parsed once per
    /// connection. A statement is taken out while it runs (a nested use of the same SQL prepares its own).
    private var statements: [String: SQLiteStatement] = [:]
    /// The most statements kept: search builds its SQL per request, so the cache must not grow with the queries.
    static let cachedStatements = 64

    /// SQLITE_TRANSIENT: SQLite copies bound text and blobs.
    nonisolated(unsafe) static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    init(path: String) throws {
        var h: OpaquePointer?
        let rc = sqlite3_open_v2(path, &h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nil)
        guard rc == SQLITE_OK, let h else {
            let message = h.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close(h)
            throw StoreError("opening SQLite store \(path)", message)
        }
        handle = h
    }

    deinit { close() }

    func close() {
        statements.removeAll()
        if let handle { sqlite3_close_v2(handle) }
        handle = nil
    }

    static func error(_ db: OpaquePointer?, _ operation: String) -> StoreError {
        StoreError(operation, db.map { String(cString: sqlite3_errmsg($0)) } ?? "the store is closed")
    }

    private func db() throws -> OpaquePointer {
        guard let handle else { throw StoreError("using the SQLite store", "it is closed") }
        return handle
    }

    func exec(_ sql: String) throws {
        let db = try db()
        guard sqlite3_exec(db, sql, nil, nil, nil) == SQLITE_OK else { throw Self.error(db, "running \(sql.prefix(60))") }
    }

    func prepare(_ sql: String) throws -> SQLiteStatement {
        let db = try db()
        var stmt: OpaquePointer?
        guard sqlite3_prepare_v2(db, sql, -1, &stmt, nil) == SQLITE_OK, let stmt else { throw Self.error(db, "preparing \(sql.prefix(60))") }
        return SQLiteStatement(stmt, db: db)
    }

    func run(_ sql: String, _ values: [SQLiteValue] = []) throws {
        try query(sql, values) { _ in }
    }

    /// The cached prepared statement of `sql`, left in the cache: for a caller that runs it many times in a row
    /// (the rows of a commit) and runs nothing else with the same SQL meanwhile. A statement it leaves on a row
    /// must be ``SQLiteStatement/finish()``ed.
    func cachedStatement(_ sql: String) throws -> SQLiteStatement {
        if let cached = statements[sql] { return cached }
        let stmt = try prepare(sql)
        if statements.count < Self.cachedStatements { statements[sql] = stmt }
        return stmt
    }

    /// Runs `sql` with `values`, calling `row` for each result row. The statement is reset afterwards, also when
    /// `row` throws, so no read transaction stays open on the connection.
    func query(_ sql: String, _ values: [SQLiteValue] = [], _ row: (SQLiteRow) throws -> Void) throws {
        let stmt = try statements.removeValue(forKey: sql) ?? prepare(sql)
        defer {
            sqlite3_reset(stmt.stmt)
            if statements.count < Self.cachedStatements { statements[sql] = stmt }
        }
        try stmt.reset(values)
        while try stmt.step() { try row(SQLiteRow(stmt: stmt.stmt)) }
    }

    var lastInsertRowID: Int64 { handle.map { sqlite3_last_insert_rowid($0) } ?? 0 }

    /// Waits for another connection's lock in steps of 0.1 ms, for up to 10 s, instead of `busy_timeout`'s steps
    /// (1, 2, 5, 10 … 100 ms), which turn a lock held for a millisecond into a wait of several.
    func shortBusyWaits() {
        guard let handle else { return }
        sqlite3_busy_handler(handle, { _, tries in
            if tries >= 100_000 { return 0 }
            usleep(100)
            return 1
        }, nil)
    }

    /// Rows changed by the last INSERT, UPDATE or DELETE.
    var changes: Int { handle.map { Int(sqlite3_changes($0)) } ?? 0 }
}
