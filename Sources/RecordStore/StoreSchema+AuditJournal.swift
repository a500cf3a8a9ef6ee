extension StoreSchema {
    /// SQLite: the audit journal (SQLiteStore+AuditJournal, docs/store.md).
    static let sqliteAuditJournal: [Migration] = [
        Migration(version: 40, description: "audit journal: AuditEvent versions stored durably before they are moved into the records in bulk", sql: """
            -- One row per AuditEvent version, planned as it will be stored (served canonical JSON, salt, commitment),
            -- so moving it into record_versions and records is a copy; deleted in the moving transaction.
            CREATE TABLE audit_journal (
                seq INTEGER PRIMARY KEY,
                resource_type TEXT NOT NULL,
                id TEXT NOT NULL,
                version_id INTEGER NOT NULL,
                patient_key TEXT NOT NULL,
                last_updated TEXT NOT NULL,
                content_hash BLOB NOT NULL,
                canonical_hash BLOB NOT NULL,
                salt BLOB NOT NULL,
                commitment BLOB NOT NULL,
                canonical TEXT NOT NULL
            );
            """),
    ]
}
