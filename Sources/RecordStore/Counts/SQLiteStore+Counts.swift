extension SQLiteStore {
    /// From the `records` table (one row per resource, its current version's content hash): a delete is the
    /// tombstone's content hash.
    public nonisolated func recordCounts() async throws -> [RecordCount] {
        try await settleJournal(nil)
        return try readers.read { db in
            var out: [RecordCount] = []
            try db.query("""
                SELECT resource_type, sum(content_hash <> ?), sum(content_hash = ?) FROM records
                GROUP BY resource_type ORDER BY resource_type
                """, [.blob(Tombstone.contentHash), .blob(Tombstone.contentHash)]) {
                out.append(RecordCount(type: $0.text(0), current: Int($0.int(1)), deleted: Int($0.int(2))))
            }
            return out
        }
    }
}
