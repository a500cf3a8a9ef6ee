import Foundation

extension SQLiteStore {
    public nonisolated func history(_ query: HistoryQuery) async throws -> HistoryPage {
        switch query.scope {
        case .instance(let key): try await settleJournal(key.type)
        case .type(let type): try await settleJournal(type)
        case .system: try await settleJournal(nil)
        }
        return try readers.read { db in
            var conditions: [String] = []
            var values: [SQLiteValue] = []
            switch query.scope {
            case .instance(let key):
                conditions.append("v.resource_type = ? AND v.id = ?")
                values += [.text(key.type), .text(key.id)]
            case .type(let type):
                conditions.append("v.resource_type = ?")
                values.append(.text(type))
            case .system:
                break
            }
            if let since = query.since {
                // lastUpdated is stored as Instant.format writes it (UTC, milliseconds), so text order is time order.
                conditions.append("v.last_updated >= ?")
                values.append(.text(Instant.format(since)))
            }
            if let after = query.after {
                conditions.append("(v.txid, v.resource_type, v.id, v.version_id) < (?, ?, ?, ?)")
                values += [.int(after.txid), .text(after.key.type), .text(after.key.id), .int(Int64(after.version))]
            }
            let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
            // One more row than the page says whether there is a next page.
            values.append(.int(Int64(query.count) + 1))
            var rows: [StoredVersion] = []
            try db.query("""
                SELECT \(Self.versionColumns) FROM record_versions v \(filter)
                ORDER BY v.txid DESC, v.resource_type DESC, v.id DESC, v.version_id DESC LIMIT ?
                """, values) { rows.append(Self.version($0)) }
            return HistoryPage.cut(rows, count: query.count)
        }
    }

    public nonisolated func versions(_ versions: [(key: RecordKey, version: Int)]) async throws -> [StoredVersion] {
        if versions.contains(where: { DeferredIndex.types.contains($0.key.type) }) { try await settleJournal(nil) }
        return try readers.read { db in
            var out: [StoredVersion] = []
            let select = try db.prepare("SELECT \(Self.versionColumns) FROM record_versions v WHERE v.resource_type = ? AND v.id = ? AND v.version_id = ?")
            for (key, version) in versions {
                try select.reset([.text(key.type), .text(key.id), .int(Int64(version))])
                if try select.step() { out.append(Self.version(SQLiteRow(stmt: select.stmt))) }
            }
            return out
        }
    }
}

extension HistoryPage {
    /// The page of `count` versions from `rows` (up to one more, read to know whether another page follows).
    static func cut(_ rows: [StoredVersion], count: Int) -> HistoryPage {
        guard rows.count > count else { return HistoryPage(versions: rows, next: nil) }
        let page = Array(rows.prefix(count))
        return HistoryPage(versions: page, next: page.last.map(HistoryCursor.init))
    }
}
