import Foundation
import PostgresNIO

extension PostgresStore {
    public func history(_ query: HistoryQuery) async throws -> HistoryPage {
        var conditions: [String] = []
        var binds = PostgresBindings()
        switch query.scope {
        case .instance(let key):
            binds.append(key.type)
            binds.append(key.id)
            conditions.append("v.resource_type = $\(binds.count - 1) AND v.id = $\(binds.count)")
        case .type(let type):
            binds.append(type)
            conditions.append("v.resource_type = $\(binds.count)")
        case .system:
            break
        }
        if let since = query.since {
            binds.append(Instant.format(since))
            conditions.append("v.last_updated >= $\(binds.count)::timestamptz")
        }
        if let after = query.after {
            binds.append(after.txid)
            binds.append(after.key.type)
            binds.append(after.key.id)
            binds.append(after.version)
            let n = binds.count
            conditions.append("(v.txid, v.resource_type, v.id, v.version_id) < ($\(n - 3), $\(n - 2), $\(n - 1), $\(n))")
        }
        binds.append(query.count + 1)
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        // One more row than the page says whether there is a next page.
        let sql = """
            SELECT \(Self.versionColumns) FROM careledger.record_versions v \(filter)
            ORDER BY v.txid DESC, v.resource_type DESC, v.id DESC, v.version_id DESC LIMIT $\(binds.count)
            """
        let rows = try await versions(PostgresQuery(unsafeSQL: sql, binds: binds))
        return HistoryPage.cut(rows, count: query.count)
    }

    public func versions(_ versions: [(key: RecordKey, version: Int)]) async throws -> [StoredVersion] {
        guard !versions.isEmpty else { return [] }
        var binds = PostgresBindings()
        binds.append(versions.map(\.key.type))
        binds.append(versions.map(\.key.id))
        binds.append(versions.map { Int64($0.version) })
        let sql = """
            SELECT \(Self.versionColumns)
            FROM UNNEST($1::text[], $2::text[], $3::int8[]) AS k(t, i, n)
            JOIN careledger.record_versions v ON v.resource_type = k.t AND v.id = k.i AND v.version_id = k.n
            """
        return try await self.versions(PostgresQuery(unsafeSQL: sql, binds: binds))
    }

    /// A ``VersionConflict`` thrown inside a transaction arrives wrapped in `PostgresTransactionError`.
    static func versionConflict(in error: any Error) -> VersionConflict? {
        if let conflict = error as? VersionConflict { return conflict }
        if let t = error as? PostgresTransactionError, let inner = t.closureError { return versionConflict(in: inner) }
        return nil
    }
}
