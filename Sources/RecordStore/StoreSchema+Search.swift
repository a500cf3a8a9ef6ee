extension StoreSchema {
    /// PostgreSQL migrations for the search index for every search parameter of the official definitions (docs/store.md).
    static let search: [Migration] = []
    /// SQLite migrations for the search index for every search parameter of the official definitions (docs/store.md).
    static let sqliteSearch: [Migration] = []
}
