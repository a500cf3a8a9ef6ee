extension StoreSchema {
    /// PostgreSQL migrations for history across types, logical deletes.
    static let history: [Migration] = []
    /// SQLite migrations for history across types, logical deletes.
    static let sqliteHistory: [Migration] = []
}
