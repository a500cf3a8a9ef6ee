import FHIRCore

extension SQLiteStore: SearchExecuting {
    public nonisolated func search(_ query: SearchQuery) async throws -> SearchPage {
        try await SearchEngine.run(query, on: self)
    }

    nonisolated var searchDialect: SearchSQL.Dialect { .sqlite }

    private static func values(_ binds: [SearchBind]) -> [SQLiteValue] {
        binds.map {
            switch $0 {
            case .text(let s): .text(s)
            case .real(let d): .real(d)
            case .blob(let b): .blob(b)
            }
        }
    }

    nonisolated func searchRows(_ sql: String, _ binds: [SearchBind], numeric: [Bool]) async throws -> [(id: String, keys: [SearchCursor.Key])] {
        try readers.read { db in
            var out: [(id: String, keys: [SearchCursor.Key])] = []
            try db.query(sql, Self.values(binds)) { row in
                let keys = numeric.enumerated().map { i, isNumber -> SearchCursor.Key in
                    isNumber ? .number(row.double(Int32(i + 1))) : .text(row.text(Int32(i + 1)))
                }
                out.append((row.text(0), keys))
            }
            return out
        }
    }

    nonisolated func searchStrings(_ sql: String, _ binds: [SearchBind]) async throws -> [String] {
        try readers.read { db in
            var out: [String] = []
            try db.query(sql, Self.values(binds)) { out.append($0.text(0)) }
            return out
        }
    }

    nonisolated func searchCount(_ sql: String, _ binds: [SearchBind]) async throws -> Int {
        try readers.read { db in
            var n = 0
            try db.query(sql, Self.values(binds)) { n = Int($0.int(0)) }
            return n
        }
    }

    nonisolated func currentVersions(type: String, ids: [String]) async throws -> [StoredVersion] {
        try readers.read { db in
            guard !ids.isEmpty else { return [] }
            var found: [String: StoredVersion] = [:]
            // In chunks below SQLite's bound-parameter limit.
            for start in stride(from: 0, to: ids.count, by: 500) {
                let chunk = Array(ids[start..<min(ids.count, start + 500)])
                let list = chunk.indices.map { "?\($0 + 2)" }.joined(separator: ", ")
                try db.query("""
                    SELECT \(Self.versionColumns)
                    FROM records r JOIN record_versions v ON v.resource_type = r.resource_type AND v.id = r.id AND v.version_id = r.version_id
                    WHERE r.resource_type = ?1 AND r.id IN (\(list))
                    """, [.text(type)] + chunk.map { .text($0) }) { row in
                    let v = Self.version(row)
                    if !v.isDeleted { found[v.key.id] = v }
                }
            }
            return ids.compactMap { found[$0] }
        }
    }

    /// Indexes again the resources the search migration queued (stores imported before it), from their stored
    /// canonical JSON, 500 per transaction; safe to interrupt and run again.
    static func reindexPending(_ db: SQLiteConnection) throws {
        while true {
            var chunk: [(type: String, id: String, patientKey: String, canonical: [UInt8])] = []
            try db.query("""
                SELECT q.resource_type, q.id, r.patient_key, v.canonical FROM search_reindex q
                LEFT JOIN records r ON r.resource_type = q.resource_type AND r.id = q.id
                LEFT JOIN record_versions v ON v.resource_type = r.resource_type AND v.id = r.id AND v.version_id = r.version_id
                ORDER BY q.resource_type, q.id LIMIT 500
                """) { row in
                chunk.append((row.text(0), row.text(1), row.text(2), Array(row.text(3).utf8)))
            }
            if chunk.isEmpty { return }
            try db.exec("BEGIN IMMEDIATE")
            do {
                let clear = try db.prepare("DELETE FROM search_index WHERE resource_type = ? AND id = ?")
                let insert = try db.prepare(SearchIndexRows.sqliteInsert)
                let done = try db.prepare("DELETE FROM search_reindex WHERE resource_type = ? AND id = ?")
                for r in chunk {
                    let type = SQLiteValue.text(r.type), id = SQLiteValue.text(r.id)
                    try clear.run([type, id])
                    for e in SearchIndexRows.entries(canonical: r.canonical) {
                        try insert.run(SearchIndexRows.sqliteValues(.text(r.patientKey), type, id, e))
                    }
                    try done.run([type, id])
                }
                try db.exec("COMMIT")
            } catch {
                try? db.exec("ROLLBACK")
                throw error
            }
        }
    }
}
