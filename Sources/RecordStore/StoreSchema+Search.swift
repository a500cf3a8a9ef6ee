extension StoreSchema {
    /// PostgreSQL migrations for the search index for every search parameter of the official definitions (docs/store.md).
    static let search: [Migration] = [
        Migration(version: 10, description: "search index for every parameter type: display text, numeric and date ranges; reindex queue", sql: """
            -- display: a token's display or text (for :text), a string as written (for :exact), a quantity's unit.
            -- low/high: a date's first and last millisecond since 1970 (UTC), a number's or quantity's value.
            ALTER TABLE careledger.search_index
                ADD COLUMN display text NOT NULL DEFAULT '',
                ADD COLUMN low double precision,
                ADD COLUMN high double precision;
            -- Every resource stored before this migration is indexed again from its stored canonical JSON, by the
            -- code that opens the store (PostgresStore.reindexPending), in chunks, each chunk one transaction.
            CREATE TABLE careledger.search_reindex (
                resource_type text COLLATE "C" NOT NULL,
                id text COLLATE "C" NOT NULL,
                PRIMARY KEY (resource_type, id)
            );
            INSERT INTO careledger.search_reindex (resource_type, id)
                SELECT DISTINCT resource_type, id FROM careledger.record_versions;
            """),
    ]

    /// SQLite migrations for the search index for every search parameter of the official definitions (docs/store.md).
    static let sqliteSearch: [Migration] = [
        Migration(version: 10, description: "search index for every parameter type: display text, numeric and date ranges; reindex queue", sql: """
            ALTER TABLE search_index ADD COLUMN display TEXT NOT NULL DEFAULT '';
            ALTER TABLE search_index ADD COLUMN low REAL;
            ALTER TABLE search_index ADD COLUMN high REAL;
            CREATE TABLE search_reindex (
                resource_type TEXT NOT NULL,
                id TEXT NOT NULL,
                PRIMARY KEY (resource_type, id)
            );
            INSERT INTO search_reindex (resource_type, id) SELECT resource_type, id FROM records;
            """),
    ]
}
