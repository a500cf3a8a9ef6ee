import FHIRCore
import NIOCore
import PostgresNIO

/// The statements every partner read and every AuditEvent runs, as named prepared statements.
///
/// An unnamed statement is parsed, analysed and planned on every execution: measured under the gateway benchmark
/// (pg_stat_statements with `track_planning`, and perf on the server), planning was 71% of a `current` read's
/// server time and parse, analysis and planning about half of all the server's CPU. A prepared statement is parsed
/// once per pooled connection (PostgresNIO prepares it on first use, by its name) and, after five executions,
/// runs PostgreSQL's cached generic plan: these statements' plans do not depend on the bound values (primary-key
/// probes, `UNNEST` of bound arrays).
enum PostgresStatements {
    /// The columns of a stored version, in the order ``decodeVersion(_:)`` reads them: hashes, salt and
    /// commitment as raw `bytea` (no hex text to make on the server and parse on the client).
    static let versionColumns = """
        v.resource_type, v.id, v.version_id, v.txid, to_char(v.last_updated AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        v.content_hash, v.canonical_hash, v.salt, v.commitment, v.canonical
        """

    /// One row of ``versionColumns``.
    static func decodeVersion(_ row: PostgresRow) throws -> StoredVersion {
        let (t, i, v, tx, u, ch, h, s, c, j) = try row.decode((String, String, Int, Int64, String, ByteBuffer, ByteBuffer, ByteBuffer,
                                                               ByteBuffer, ByteBuffer).self)
        return StoredVersion(key: RecordKey(type: t, id: i), version: v, txid: tx, lastUpdated: u, contentHash: Array(buffer: ch),
                             canonicalHash: Array(buffer: h), salt: Array(buffer: s), commitment: Array(buffer: c), canonical: Array(buffer: j))
    }

    /// The current version of a resource: one backward probe of the primary key.
    struct Current: PostgresPreparedStatement {
        static let name = "careledger_current_v1"
        static let sql = """
            SELECT \(versionColumns) FROM careledger.record_versions v
            WHERE v.resource_type = $1 AND v.id = $2 ORDER BY v.version_id DESC LIMIT 1
            """
        static let bindingDataTypes: [PostgresDataType] = [.text, .text]
        typealias Row = StoredVersion

        let key: RecordKey

        func makeBindings() -> PostgresBindings {
            var b = PostgresBindings(capacity: 2)
            b.append(key.type)
            b.append(key.id)
            return b
        }

        func decodeRow(_ row: PostgresRow) throws -> StoredVersion { try decodeVersion(row) }
    }

    /// One stored version (vread, receipts).
    struct Version: PostgresPreparedStatement {
        static let name = "careledger_version_v1"
        static let sql = """
            SELECT \(versionColumns) FROM careledger.record_versions v
            WHERE v.resource_type = $1 AND v.id = $2 AND v.version_id = $3
            """
        static let bindingDataTypes: [PostgresDataType] = [.text, .text, .int4]
        typealias Row = StoredVersion

        let key: RecordKey
        let version: Int32

        func makeBindings() -> PostgresBindings {
            var b = PostgresBindings(capacity: 3)
            b.append(key.type)
            b.append(key.id)
            b.append(version)
            return b
        }

        func decodeRow(_ row: PostgresRow) throws -> StoredVersion { try decodeVersion(row) }
    }

    /// The current versions (deleted ones included) of several resources of one type: a search page's matches.
    struct CurrentOfMany: PostgresPreparedStatement {
        static let name = "careledger_current_many_v1"
        static let sql = """
            SELECT DISTINCT ON (v.id) \(versionColumns) FROM careledger.record_versions v
            WHERE v.resource_type = $1 AND v.id = ANY($2::text[]) ORDER BY v.id, v.version_id DESC
            """
        static let bindingDataTypes: [PostgresDataType] = [.text, .textArray]
        typealias Row = StoredVersion

        let type: String
        let ids: [String]

        func makeBindings() -> PostgresBindings {
            var b = PostgresBindings(capacity: 2)
            b.append(type)
            b.append(ids)
            return b
        }

        func decodeRow(_ row: PostgresRow) throws -> StoredVersion { try decodeVersion(row) }
    }

    /// The number of versions waiting to be anchored (the anchoring service asks every 20 ms).
    struct AnchorQueueCount: PostgresPreparedStatement {
        static let name = "careledger_anchor_queue_count_v1"
        static let sql = "SELECT count(*)::int8 FROM careledger.anchor_queue"
        typealias Row = Int64

        func makeBindings() -> PostgresBindings { PostgresBindings() }
        func decodeRow(_ row: PostgresRow) throws -> Int64 { try row.decode(Int64.self) }
    }

    struct AnchorQueueCountUpTo: PostgresPreparedStatement {
        static let name = "careledger_anchor_queue_count_up_to_v1"
        static let sql = "SELECT count(*)::int8 FROM (SELECT 1 FROM careledger.anchor_queue ORDER BY txid LIMIT $1) q"
        typealias Row = Int64

        let limit: Int64

        func makeBindings() -> PostgresBindings {
            var b = PostgresBindings(capacity: 1)
            b.append(limit)
            return b
        }
        func decodeRow(_ row: PostgresRow) throws -> Int64 { try row.decode(Int64.self) }
    }
}
