extension StoreSchema {
    /// PostgreSQL migrations for history across types, logical deletes.
    static let history: [Migration] = [
        Migration(version: 20, description: "history in txid order, across the store and by type", sql: """
            -- History pages are read newest first by (txid, type, id, version) with a keyset cursor; deletes are
            -- versions (tombstones), so they need nothing more.
            CREATE INDEX record_versions_history ON careledger.record_versions (txid, resource_type, id, version_id);
            CREATE INDEX record_versions_type_history ON careledger.record_versions (resource_type, txid, id, version_id);
            """),
    ]
    /// SQLite migrations for history across types, logical deletes.
    static let sqliteHistory: [Migration] = [
        Migration(version: 20, description: "history in txid order, across the store and by type", sql: """
            CREATE INDEX record_versions_history ON record_versions (txid, resource_type, id, version_id);
            CREATE INDEX record_versions_type_history ON record_versions (resource_type, txid, id, version_id);
            """),
    ]
}
