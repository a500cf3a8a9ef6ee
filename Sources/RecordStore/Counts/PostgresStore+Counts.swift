import PostgresNIO

extension PostgresStore {
    /// PostgreSQL keeps no table of current versions: every resource has one version 1, and a resource is deleted
    /// when a tombstone (its content hash) is its highest version. Deletes are few, so the second count looks up
    /// the next version of each tombstone through the primary key.
    public func recordCounts() async throws -> [RecordCount] {
        var q = PostgresQuery(unsafeSQL: """
            SELECT v.resource_type,
                   count(*) FILTER (WHERE v.version_id = 1)::int8,
                   count(*) FILTER (WHERE v.content_hash = $1 AND NOT EXISTS (
                       SELECT 1 FROM careledger.record_versions n
                       WHERE n.resource_type = v.resource_type AND n.id = v.id AND n.version_id > v.version_id))::int8
            FROM careledger.record_versions v
            GROUP BY v.resource_type ORDER BY v.resource_type
            """)
        q.binds.append(ByteBuffer(bytes: Tombstone.contentHash))
        var out: [RecordCount] = []
        for try await (type, all, deleted) in try await client.query(q, logger: logger).decode((String, Int64, Int64).self) {
            out.append(RecordCount(type: type, current: Int(all - deleted), deleted: Int(deleted)))
        }
        return out
    }
}
