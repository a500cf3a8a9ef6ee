import FHIRCore
import NIOCore
import PostgresNIO
import Synchronization

extension PostgresStore: SearchExecuting {
    public func search(_ query: SearchQuery) async throws -> SearchPage {
        try await SearchEngine.run(query, on: self)
    }

    var searchDialect: SearchSQL.Dialect { .postgres }

    private static func bindings(_ binds: [SearchBind]) -> PostgresBindings {
        var b = PostgresBindings(capacity: binds.count)
        for bind in binds {
            switch bind {
            case .text(let s): b.append(s)
            case .real(let d): b.append(d)
            case .blob(let bytes): b.append(ByteBuffer(bytes: bytes))
            }
        }
        return b
    }

    /// The rows of a search statement: as a prepared statement while this store has prepared fewer than
    /// ``PreparedSearch/limit`` distinct search statements (PreparedSearch says why), else unnamed.
    private func searchResult(_ sql: String, _ binds: [SearchBind]) async throws -> [PostgresRow] {
        var out: [PostgresRow] = []
        let bindings = Self.bindings(binds)
        let types: [PostgresDataType] = binds.map {
            switch $0 {
            case .text: .text
            case .real: .float8
            case .blob: .bytea
            }
        }
        if let name = preparedSearchName(sql, types) {
            try await PreparedSearch.$current.withValue(PreparedSearch.Text(name: name, sql: sql, types: types)) {
                for try await row in try await client.execute(PreparedSearch(bindings: bindings), logger: logger) { out.append(row) }
            }
        } else {
            for try await row in try await client.query(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: logger) { out.append(row) }
        }
        return out
    }

    /// The name `sql` is prepared under, or nil once ``PreparedSearch/limit`` other statements were prepared.
    private func preparedSearchName(_ sql: String, _ types: [PostgresDataType]) -> String? {
        var key = Array(sql.utf8)
        for t in types { key.append(contentsOf: Array(String(t.rawValue).utf8) + [0]) }
        let name = "careledger_search_" + Hex.encode(Array(CanonicalForm.sha256(key).prefix(12)))
        return preparedSearches.withLock { names in
            if names.contains(name) { return name }
            guard names.count < PreparedSearch.limit else { return nil }
            names.insert(name)
            return name
        }
    }

    func searchRows(_ sql: String, _ binds: [SearchBind], numeric: [Bool]) async throws -> [(id: String, keys: [SearchCursor.Key])] {
        var out: [(id: String, keys: [SearchCursor.Key])] = []
        do {
            for row in try await searchResult(sql, binds) {
                let cells = row.makeRandomAccess()
                var keys: [SearchCursor.Key] = []
                for (i, isNumber) in numeric.enumerated() {
                    keys.append(isNumber ? .number(try cells[i + 1].decode(Double.self)) : .text(try cells[i + 1].decode(String.self)))
                }
                out.append((try cells[0].decode(String.self), keys))
            }
        } catch {
            throw Self.storeError("searching", error)
        }
        return out
    }

    func searchStrings(_ sql: String, _ binds: [SearchBind]) async throws -> [String] {
        var out: [String] = []
        do {
            for row in try await searchResult(sql, binds) { out.append(try row.decode(String.self)) }
        } catch {
            throw Self.storeError("searching", error)
        }
        return out
    }

    func searchCount(_ sql: String, _ binds: [SearchBind]) async throws -> Int {
        var n: Int64 = 0
        do {
            for row in try await searchResult(sql, binds) { n = try row.decode(Int64.self) }
        } catch {
            throw Self.storeError("counting search matches", error)
        }
        return Int(n)
    }

    func currentVersions(type: String, ids: [String]) async throws -> [StoredVersion] {
        guard !ids.isEmpty else { return [] }
        var found: [String: StoredVersion] = [:]
        for v in try await versions(PostgresStatements.CurrentOfMany(type: type, ids: ids)) where !v.isDeleted { found[v.key.id] = v }
        return ids.compactMap { found[$0] }
    }

    /// Indexes again the resources the search migration queued (stores imported before it) and AuditEvents marked
    /// by a store that did not write their rows (PostgresStore+DeferredIndex), from the canonical JSON of their
    /// current version, 500 per transaction; safe to interrupt, and to run from several processes (SKIP LOCKED:
    /// processes opening the store together share the work instead of waiting).
    func reindexPending() async throws {
        while true {
            let indexed = try await reindexChunk("""
                SELECT resource_type, id FROM careledger.search_reindex ORDER BY resource_type, id LIMIT 500 FOR UPDATE SKIP LOCKED
                """)
            if indexed == 0 { return }
        }
    }

    /// Indexes the records marked now (not those marked while it runs, which audit commits keep adding), waiting
    /// for marks another process is indexing or writing rows for: when it returns, every record marked before it
    /// started is indexed. At most 10,000 records (more are marked only while another process runs the search
    /// migration's reindex, which that process finishes before it serves).
    func reindexMarked() async throws {
        var keys: [RecordKey] = []
        for try await (t, i) in try await client.query("""
            SELECT resource_type, id FROM careledger.search_reindex ORDER BY resource_type, id LIMIT 10000
            """, logger: logger).decode((String, String).self) { keys.append(RecordKey(type: t, id: i)) }
        var start = 0
        while start < keys.count {
            let chunk = keys[start..<min(start + 500, keys.count)]
            start += chunk.count
            var q = PostgresQuery(unsafeSQL: """
                SELECT r.resource_type, r.id FROM careledger.search_reindex r
                JOIN UNNEST($1::text[], $2::text[]) AS k(t, i) ON r.resource_type = k.t AND r.id = k.i
                FOR UPDATE OF r
                """)
            q.binds.append(chunk.map(\.type))
            q.binds.append(chunk.map(\.id))
            _ = try await reindexChunk(q)
        }
    }

    /// One transaction: locks the marks `selection` returns (resource_type, id), indexes those records from their
    /// current version's canonical JSON and deletes the marks. Returns how many records it indexed.
    private func reindexChunk(_ selection: PostgresQuery) async throws -> Int {
        let logger = self.logger
        return try await client.withTransaction(logger: logger) { conn -> Int in
            var q = PostgresQuery(unsafeSQL: """
                SELECT q.resource_type, q.id, c.patient_key, c.canonical
                FROM (\(selection.sql)) q
                LEFT JOIN LATERAL (
                    SELECT v.patient_key, v.canonical FROM careledger.record_versions v
                    WHERE v.resource_type = q.resource_type AND v.id = q.id ORDER BY v.version_id DESC LIMIT 1
                ) c ON true
                """)
            q.binds = selection.binds
            let rows = try await conn.query(q, logger: logger)
            var chunk: [(patientKey: String, key: RecordKey, index: [IndexEntry])] = []
            for try await (t, i, p, j) in rows.decode((String, String, String?, String?).self) {
                let entries = j.map { SearchIndexRows.entries(canonical: Array($0.utf8)) } ?? []
                chunk.append((p ?? "\(t)/\(i)", RecordKey(type: t, id: i), entries))
            }
            if chunk.isEmpty { return 0 }
            let ix = SearchIndexRows(chunk)
            try await conn.query("""
                WITH d AS (
                    DELETE FROM careledger.search_index s
                    USING UNNEST(\(chunk.map(\.key.type))::text[], \(chunk.map(\.key.id))::text[]) AS k(t, i)
                    WHERE s.resource_type = k.t AND s.id = k.i
                ),
                q AS (
                    DELETE FROM careledger.search_reindex r
                    USING UNNEST(\(chunk.map(\.key.type))::text[], \(chunk.map(\.key.id))::text[]) AS k(t, i)
                    WHERE r.resource_type = k.t AND r.id = k.i
                )
                INSERT INTO careledger.search_index (patient_key, resource_type, id, param, value, system, value_to, display, low, high)
                SELECT k, t, i, p, v, s, vt, d, NULLIF(l, 'NaN'::float8), NULLIF(h, 'NaN'::float8)
                FROM UNNEST(\(ix.patientKeys)::text[], \(ix.types)::text[], \(ix.ids)::text[], \(ix.params)::text[], \(ix.values)::text[],
                            \(ix.systems)::text[], \(ix.valuesTo)::text[], \(ix.displays)::text[], \(ix.lows)::float8[], \(ix.highs)::float8[])
                    AS x(k, t, i, p, v, s, vt, d, l, h)
                """, logger: logger)
            return chunk.count
        }
    }
}

/// A search statement (``SearchSQL``) run as a named prepared statement.
///
/// Measured under the gateway benchmark (pg_stat_statements with `track_planning`): planning a search page's
/// statement (a semi-join into the index, an anti-join for the current version, the order and limit) took longer
/// than running it, about 0.9 ms of the server's time per partner search of 50 matches. The statement's text
/// depends only on the query's shape (every value is bound), so the same shapes recur; prepared, each is parsed once
/// per pooled connection and PostgreSQL may run a cached generic plan, which it does only where that plan's cost is
/// close to the custom plans' (a `LIKE` prefix, whose index range needs the value, keeps custom plans).
///
/// PostgresNIO names a prepared statement by its type, so the name and text come from a task-local value set around
/// each execution. At most ``limit`` distinct statements are prepared per store (each pooled connection keeps them
/// for its life); further shapes run unnamed, so a client cannot grow the server's memory with new shapes.
struct PreparedSearch: PostgresPreparedStatement {
    static let limit = 256

    struct Text: Sendable {
        var name: String
        var sql: String
        var types: [PostgresDataType]
    }

    @TaskLocal static var current = Text(name: "careledger_search_unset", sql: "SELECT 1", types: [])

    static var name: String { current.name }
    static var sql: String { current.sql }
    static var bindingDataTypes: [PostgresDataType] { current.types }
    typealias Row = PostgresRow

    let bindings: PostgresBindings

    func makeBindings() -> PostgresBindings { bindings }
    func decodeRow(_ row: PostgresRow) throws -> PostgresRow { row }
}
