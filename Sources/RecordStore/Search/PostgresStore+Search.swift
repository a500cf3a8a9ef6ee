import FHIRCore
import NIOCore
import PostgresNIO

extension PostgresStore: SearchExecuting {
    public func search(_ query: SearchQuery) async throws -> SearchPage {
        try await SearchEngine.run(query, on: self)
    }

    var searchDialect: SearchSQL.Dialect { .postgres }

    private static func query(_ sql: String, _ binds: [SearchBind]) -> PostgresQuery {
        var q = PostgresQuery(unsafeSQL: sql)
        for b in binds {
            switch b {
            case .text(let s): q.binds.append(s)
            case .real(let d): q.binds.append(d)
            case .blob(let bytes): q.binds.append(ByteBuffer(bytes: bytes))
            }
        }
        return q
    }

    func searchRows(_ sql: String, _ binds: [SearchBind], numeric: [Bool]) async throws -> [(id: String, keys: [SearchCursor.Key])] {
        var out: [(id: String, keys: [SearchCursor.Key])] = []
        do {
            for try await row in try await client.query(Self.query(sql, binds), logger: logger) {
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
            for try await s in try await client.query(Self.query(sql, binds), logger: logger).decode(String.self) { out.append(s) }
        } catch {
            throw Self.storeError("searching", error)
        }
        return out
    }

    func searchCount(_ sql: String, _ binds: [SearchBind]) async throws -> Int {
        var n: Int64 = 0
        do {
            for try await c in try await client.query(Self.query(sql, binds), logger: logger).decode(Int64.self) { n = c }
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
    /// current version, 500 per transaction; safe to interrupt, and to run from several processes. Opening the store
    /// skips records another process is indexing; `waitForLocked` (a search) waits for them instead, so that they
    /// are indexed when it returns.
    func reindexPending(waitForLocked: Bool = false) async throws {
        let logger = self.logger
        while true {
            let done = try await client.withTransaction(logger: logger) { conn -> Bool in
                // SKIP LOCKED: processes opening the store together share the work instead of waiting.
                let rows = try await conn.query("""
                    SELECT q.resource_type, q.id, c.patient_key, c.canonical
                    FROM (SELECT resource_type, id FROM careledger.search_reindex ORDER BY resource_type, id LIMIT 500
                          FOR UPDATE \(unescaped: waitForLocked ? "" : "SKIP LOCKED")) q
                    LEFT JOIN LATERAL (
                        SELECT v.patient_key, v.canonical FROM careledger.record_versions v
                        WHERE v.resource_type = q.resource_type AND v.id = q.id ORDER BY v.version_id DESC LIMIT 1
                    ) c ON true
                    """, logger: logger)
                var chunk: [(patientKey: String, key: RecordKey, index: [IndexEntry])] = []
                for try await (t, i, p, j) in rows.decode((String, String, String?, String?).self) {
                    let entries = j.map { SearchIndexRows.entries(canonical: Array($0.utf8)) } ?? []
                    chunk.append((p ?? "\(t)/\(i)", RecordKey(type: t, id: i), entries))
                }
                if chunk.isEmpty { return true }
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
                return false
            }
            if done { return }
        }
    }
}
