extension StoreSchema {
    /// PostgreSQL migrations for the SMART token endpoint's jti replay cache, shared by every gateway process.
    static let tokens: [Migration] = [
        Migration(version: 30, description: "SMART client assertion jti replay cache", sql: """
            CREATE TABLE careledger.assertion_jtis (
                client_id text NOT NULL,
                jti text NOT NULL,
                expires_at bigint NOT NULL,
                PRIMARY KEY (client_id, jti)
            );
            CREATE INDEX assertion_jtis_expiry ON careledger.assertion_jtis (expires_at)
            """),
    ]
    /// SQLite migrations for the SMART token endpoint's jti replay cache, shared by every gateway process.
    static let sqliteTokens: [Migration] = [
        Migration(version: 30, description: "SMART client assertion jti replay cache", sql: """
            CREATE TABLE assertion_jtis (
                client_id TEXT NOT NULL,
                jti TEXT NOT NULL,
                expires_at INTEGER NOT NULL,
                PRIMARY KEY (client_id, jti)
            );
            CREATE INDEX assertion_jtis_expiry ON assertion_jtis (expires_at);
            """),
    ]
}
