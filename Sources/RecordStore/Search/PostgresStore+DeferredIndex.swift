import FHIRCore
import Logging
import NIOCore
import PostgresNIO
import Synchronization

/// Writing the search-index rows of AuditEvents after their versions on PostgreSQL (``DeferredIndex``,
/// docs/store.md), as SQLiteStore+DeferredIndex does on SQLite.
///
/// Measured under the gateway benchmark (EXPLAIN ANALYZE of an audit group commit of three AuditEvents): the ~16
/// index rows per AuditEvent, each entered in two B-trees, were about 70% of the unit statement's execution, and the
/// statement was about three quarters of the server's work per partner read. Deferred, an audit commit stores the
/// versions and one mark per AuditEvent; up to 128 AuditEvents' rows then go in one statement, sorted by the index
/// key, with one commit (and one WAL flush) for all of them.
///
/// Flushes of one store instance run one at a time (``DeferredFlushGate``): a search that has the rows written
/// must not return while another flush is still writing rows it took. Marked records of other processes are
/// indexed by ``PostgresStore/reindexMarked()``, which waits for rows another process is writing.
extension PostgresStore {
    /// After a commit that left rows pending: writes them at once when ``DeferredIndex/flushCount`` records wait,
    /// else within ``DeferredIndex/flushDelay``, in a task of its own (the commit's caller is not kept waiting).
    func scheduleDeferredFlush() {
        let configured = deferredFlushDelay.withLock { $0 }
        guard let delay = deferredFlushes.claim(waiting: deferredIndex.count, delay: configured) else { return }
        Task {
            if delay > .zero { try? await Task.sleep(for: delay) }
            deferredFlushes.started(after: delay)
            // A failed write keeps the rows pending and the records marked; the next flush (or a search) retries.
            do {
                try await deferredFlushGate.run { try await writePending() }
            } catch {
                logger.warning("writing AuditEvents' search-index rows failed (kept, retried): \(error)")
            }
            scheduleDeferredFlush()
        }
    }

    /// Writes every pending row and indexes every marked record, also another process's: a search that can read
    /// AuditEvents' rows then sees every AuditEvent committed before it started.
    public func flushDeferredIndex() async throws {
        try await deferredFlushGate.run {
            try await writePending()
            // Records marked by a store instance that has not written their rows (another process, or one that
            // stopped before it did), or whose commit has not handed its rows to ``deferredIndex`` yet: indexed
            // again from their canonical JSON. (Scheduled flushes leave this to searches: commits mark records while
            // a flush runs, and indexing them from JSON would only duplicate work the next flush does.)
            var marked = false
            for try await _ in try await client.query("SELECT 1 FROM careledger.search_reindex LIMIT 1", logger: logger) { marked = true }
            if marked { try await reindexMarked() }
        }
    }

    /// Writes this instance's pending rows, ``DeferredIndex/chunk`` records per statement.
    private func writePending() async throws {
        while true {
            let pending = deferredIndex.take(limit: DeferredIndex.chunk)
            if pending.isEmpty { return }
            var attempt = 0
            while true {
                do {
                    try await writeDeferred(pending)
                    break
                } catch where attempt < 3 && Self.isRetryable(error) {
                    // A deadlock with another process indexing the same marked records: the statement wrote nothing.
                    attempt += 1
                } catch {
                    deferredIndex.restore(pending)
                    throw Self.storeError("writing AuditEvents' search-index rows", error)
                }
            }
        }
    }

    /// One statement, so one transaction: each pending record's mark deleted and, only where that delete found the
    /// mark, its rows inserted in the index's key order. A record indexed meanwhile (by another process's reindex,
    /// or rewritten by an ordinary commit, which removes the mark) is not indexed twice or with old rows.
    private func writeDeferred(_ pending: [DeferredIndex.Pending]) async throws {
        let sorted = DeferredIndex.sortedRows(pending)
        var ix = SearchIndexRows([])
        for row in sorted {
            let e = row.entry
            ix.patientKeys.append(row.patientKey); ix.types.append(row.key.type); ix.ids.append(row.key.id); ix.params.append(e.param)
            ix.values.append(e.value); ix.systems.append(e.system); ix.valuesTo.append(e.valueTo); ix.displays.append(e.text)
            ix.lows.append(e.low ?? .nan); ix.highs.append(e.high ?? .nan)
        }
        let statement = DeferredRowsStatement(types: pending.map(\.key.type), ids: pending.map(\.key.id), index: ix)
        for try await _ in try await client.execute(statement, logger: logger) {}
    }
}

/// Unmarks records and inserts the rows of those that were still marked (``PostgresStore/flushDeferredIndex()``).
struct DeferredRowsStatement: PostgresPreparedStatement {
    static let name = "careledger_deferred_rows_v1"
    static let sql = """
        WITH u AS (
            DELETE FROM careledger.search_reindex r
            USING UNNEST($1::text[], $2::text[]) AS k(t, i)
            WHERE r.resource_type = k.t AND r.id = k.i
            RETURNING r.resource_type, r.id
        )
        INSERT INTO careledger.search_index (patient_key, resource_type, id, param, value, system, value_to, display, low, high)
        SELECT x.k, x.t, x.i, x.p, x.v, x.s, x.vt, x.d, NULLIF(x.l, 'NaN'::float8), NULLIF(x.h, 'NaN'::float8)
        FROM UNNEST($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
                    $11::float8[], $12::float8[]) WITH ORDINALITY AS x(k, t, i, p, v, s, vt, d, l, h, n)
        WHERE EXISTS (SELECT 1 FROM u WHERE u.resource_type = x.t AND u.id = x.i)
        ORDER BY x.n
        """
    static let bindingDataTypes: [PostgresDataType] = [
        .textArray, .textArray,
        .textArray, .textArray, .textArray, .textArray, .textArray, .textArray, .textArray, .textArray, .float8Array, .float8Array,
    ]
    typealias Row = Void

    let types: [String]
    let ids: [String]
    let index: SearchIndexRows

    func makeBindings() -> PostgresBindings {
        var b = PostgresBindings(capacity: 12)
        b.append(types); b.append(ids)
        let ix = index
        b.append(ix.patientKeys); b.append(ix.types); b.append(ix.ids); b.append(ix.params); b.append(ix.values)
        b.append(ix.systems); b.append(ix.valuesTo); b.append(ix.displays); b.append(ix.lows); b.append(ix.highs)
        return b
    }

    func decodeRow(_ row: PostgresRow) throws {}
}

/// Runs one flush of a store's deferred index at a time, in arrival order, without blocking a thread.
final class DeferredFlushGate: Sendable {
    private struct State {
        var busy = false
        var waiting: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    func run<T>(_ body: () async throws -> T) async throws -> T {
        await acquire()
        defer { release() }
        return try await body()
    }

    private func acquire() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now = state.withLock { s -> Bool in
                if s.busy {
                    s.waiting.append(c)
                    return false
                }
                s.busy = true
                return true
            }
            if now { c.resume() }
        }
    }

    /// Hands the gate to the next waiter, or opens it.
    private func release() {
        let next = state.withLock { s -> CheckedContinuation<Void, Never>? in
            if s.waiting.isEmpty {
                s.busy = false
                return nil
            }
            return s.waiting.removeFirst()
        }
        next?.resume()
    }
}
