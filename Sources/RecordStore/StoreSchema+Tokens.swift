extension StoreSchema {
    /// PostgreSQL migrations for the SMART token endpoint's jti replay cache, shared by every gateway process.
    static let tokens: [Migration] = []
    /// SQLite migrations for the SMART token endpoint's jti replay cache, shared by every gateway process.
    static let sqliteTokens: [Migration] = []
}
