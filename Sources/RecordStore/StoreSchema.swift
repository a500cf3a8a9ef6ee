/// Versioned migrations, applied in order at start-up and recorded in `schema_migrations` (docs/store.md).
/// A migration is never edited once released: changes come as new versions.
struct Migration: Sendable {
    let version: Int
    let description: String
    let sql: String
}

enum StoreSchema {
    /// Every PostgreSQL migration, in version order. Each concept keeps its own (numbers: 1–9 the core, 10–19 search,
    /// 20–29 history and deletes, 30–39 tokens).
    static let postgres: [Migration] = (core + search + history + tokens).sorted { $0.version < $1.version }
    /// Every SQLite migration, in version order (numbered as PostgreSQL's).
    static let sqlite: [Migration] = (sqliteCore + sqliteSearch + sqliteHistory + sqliteTokens + sqliteAuditJournal).sorted { $0.version < $1.version }

    /// PostgreSQL: everything in the `careledger` schema.
    static let core: [Migration] = [
        Migration(version: 1, description: "records, versions, search index, import batches, dead letters, anchoring queue, views", sql: """
            CREATE SEQUENCE careledger.txid_seq;
            CREATE TABLE careledger.import_batches (
                id bigserial PRIMARY KEY,
                source text NOT NULL,
                format text NOT NULL,
                started_at timestamptz NOT NULL DEFAULT now(),
                finished_at timestamptz,
                created integer NOT NULL DEFAULT 0,
                updated integer NOT NULL DEFAULT 0,
                unchanged integer NOT NULL DEFAULT 0,
                rejected integer NOT NULL DEFAULT 0
            );
            CREATE TABLE careledger.record_versions (
                txid bigint NOT NULL,
                patient_key text NOT NULL,
                resource_type text NOT NULL,
                id text NOT NULL,
                version_id integer NOT NULL,
                last_updated timestamptz NOT NULL,
                content_hash bytea NOT NULL,
                canonical_hash bytea NOT NULL,
                salt bytea NOT NULL,
                commitment bytea NOT NULL,
                canonical text NOT NULL,
                import_batch bigint,
                anchor_height bigint,
                anchor_batch bigint,
                anchor_leaf integer,
                PRIMARY KEY (resource_type, id, version_id)
            );
            DO $lz4$ BEGIN
                -- Larger records are compressed when stored: lz4 costs a fraction of the default pglz's CPU. Servers
                -- built without lz4 keep pglz.
                ALTER TABLE careledger.record_versions ALTER COLUMN canonical SET COMPRESSION lz4;
            EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN NULL;
            END $lz4$;
            CREATE TABLE careledger.records (
                patient_key text NOT NULL,
                resource_type text NOT NULL,
                id text NOT NULL,
                version_id integer NOT NULL,
                txid bigint NOT NULL,
                last_updated timestamptz NOT NULL,
                content_hash bytea NOT NULL,
                PRIMARY KEY (resource_type, id)
            );
            CREATE TABLE careledger.search_index (
                patient_key text NOT NULL,
                resource_type text NOT NULL,
                id text NOT NULL,
                param text NOT NULL,
                value text NOT NULL,
                system text NOT NULL DEFAULT '',
                value_to text NOT NULL DEFAULT ''
            );
            CREATE INDEX search_index_lookup ON careledger.search_index (resource_type, param, value);
            CREATE INDEX search_index_owner ON careledger.search_index (resource_type, id);
            -- The anchoring queue is the versions without a receipt yet: the anchoring service reads them in txid order
            -- through this partial index and fills in the receipt columns, which takes them out of the queue.
            CREATE INDEX record_versions_unanchored ON careledger.record_versions (txid) WHERE anchor_batch IS NULL;
            CREATE VIEW careledger.anchor_queue AS
                SELECT txid, patient_key, resource_type, id, version_id, commitment
                FROM careledger.record_versions WHERE anchor_batch IS NULL;
            CREATE TABLE careledger.dead_letters (
                id bigserial PRIMARY KEY,
                import_batch bigint,
                source text NOT NULL,
                location text NOT NULL,
                format text NOT NULL,
                raw bytea NOT NULL,
                outcome jsonb NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now(),
                resolved_at timestamptz
            );
            CREATE VIEW careledger.current_resources AS
                SELECT r.resource_type, r.id, r.version_id, r.last_updated, v.canonical::jsonb AS resource
                FROM careledger.records r
                JOIN careledger.record_versions v USING (resource_type, id, version_id);
            CREATE VIEW careledger.resource_versions AS
                SELECT resource_type, id, version_id, last_updated, encode(canonical_hash, 'hex') AS canonical_hash,
                       canonical::jsonb AS resource
                FROM careledger.record_versions;
            """),
        Migration(version: 2, description: "current versions read from record_versions (no records table); byte-order keys", sql: """
            -- The import profile showed the records table (one more heap row and index entry per resource) and
            -- locale-aware key comparisons among the largest server costs. The current version of a resource is
            -- its highest version_id, found through the primary key of record_versions. Ids, types and index
            -- values compare as bytes.
            DROP VIEW careledger.current_resources;
            DROP VIEW careledger.resource_versions;
            DROP VIEW careledger.anchor_queue;
            DROP TABLE careledger.records;
            ALTER TABLE careledger.record_versions
                ALTER COLUMN resource_type TYPE text COLLATE "C",
                ALTER COLUMN id TYPE text COLLATE "C";
            ALTER TABLE careledger.search_index
                ALTER COLUMN resource_type TYPE text COLLATE "C",
                ALTER COLUMN id TYPE text COLLATE "C",
                ALTER COLUMN param TYPE text COLLATE "C",
                ALTER COLUMN value TYPE text COLLATE "C";
            CREATE VIEW careledger.anchor_queue AS
                SELECT txid, patient_key, resource_type, id, version_id, commitment
                FROM careledger.record_versions WHERE anchor_batch IS NULL;
            CREATE VIEW careledger.current_resources AS
                SELECT v.resource_type, v.id, v.version_id, v.last_updated, v.canonical::jsonb AS resource
                FROM careledger.record_versions v
                WHERE NOT EXISTS (SELECT 1 FROM careledger.record_versions n
                                  WHERE n.resource_type = v.resource_type AND n.id = v.id AND n.version_id > v.version_id);
            CREATE VIEW careledger.resource_versions AS
                SELECT resource_type, id, version_id, last_updated, encode(canonical_hash, 'hex') AS canonical_hash,
                       canonical::jsonb AS resource
                FROM careledger.record_versions;
            """),
        Migration(version: 3, description: "anchor batches; versions found by batch and leaf", sql: """
            -- One row per batch of commitments the anchoring service cut from the queue. A version joins a batch by
            -- getting anchor_batch and anchor_leaf, which takes it out of anchor_queue. Height, tx_index and the
            -- anchor_height of the versions are filled in once the AnchorBatch transaction is committed.
            CREATE TABLE careledger.anchor_batches (
                id bigserial PRIMARY KEY,
                root bytea NOT NULL UNIQUE,
                leaf_count integer NOT NULL,
                first_txid bigint NOT NULL,
                last_txid bigint NOT NULL,
                checkpoint text NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now(),
                height bigint,
                tx_index integer
            );
            -- The batches still waiting for their transaction, read at start-up and now and then by the service.
            CREATE INDEX anchor_batches_pending ON careledger.anchor_batches (id) WHERE height IS NULL;
            -- A batch's leaves in leaf order (receipts, completing a batch).
            CREATE INDEX record_versions_anchor_leaf ON careledger.record_versions (anchor_batch, anchor_leaf) WHERE anchor_batch IS NOT NULL;
            """),
        Migration(version: 4, description: "received messages (HL7 v2 duplicates)", sql: """
            -- One row per message whose unit was stored, written in the same transaction: a duplicate (same sender,
            -- control id and bytes) is acknowledged and not applied again.
            CREATE TABLE careledger.received_messages (
                sender text NOT NULL,
                control_id text NOT NULL,
                payload_hash bytea NOT NULL,
                import_batch bigint,
                received_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (sender, control_id, payload_hash)
            );
            """),
    ]

    /// SQLite: the same tables without a schema name.
    static let sqliteCore: [Migration] = [
        Migration(version: 1, description: "records, versions, search index, import batches, dead letters, anchoring queue, views", sql: """
            CREATE TABLE txid_counter (value INTEGER NOT NULL);
            INSERT INTO txid_counter (value) VALUES (0);
            CREATE TABLE import_batches (
                id INTEGER PRIMARY KEY,
                source TEXT NOT NULL,
                format TEXT NOT NULL,
                started_at TEXT NOT NULL,
                finished_at TEXT,
                created INTEGER NOT NULL DEFAULT 0,
                updated INTEGER NOT NULL DEFAULT 0,
                unchanged INTEGER NOT NULL DEFAULT 0,
                rejected INTEGER NOT NULL DEFAULT 0
            );
            CREATE TABLE record_versions (
                txid INTEGER NOT NULL,
                patient_key TEXT NOT NULL,
                resource_type TEXT NOT NULL,
                id TEXT NOT NULL,
                version_id INTEGER NOT NULL,
                last_updated TEXT NOT NULL,
                content_hash BLOB NOT NULL,
                canonical_hash BLOB NOT NULL,
                salt BLOB NOT NULL,
                commitment BLOB NOT NULL,
                canonical TEXT NOT NULL,
                import_batch INTEGER,
                anchor_height INTEGER,
                anchor_batch INTEGER,
                anchor_leaf INTEGER,
                PRIMARY KEY (resource_type, id, version_id)
            );
            CREATE TABLE records (
                patient_key TEXT NOT NULL,
                resource_type TEXT NOT NULL,
                id TEXT NOT NULL,
                version_id INTEGER NOT NULL,
                txid INTEGER NOT NULL,
                last_updated TEXT NOT NULL,
                content_hash BLOB NOT NULL,
                PRIMARY KEY (resource_type, id)
            );
            CREATE TABLE search_index (
                patient_key TEXT NOT NULL,
                resource_type TEXT NOT NULL,
                id TEXT NOT NULL,
                param TEXT NOT NULL,
                value TEXT NOT NULL,
                system TEXT NOT NULL DEFAULT '',
                value_to TEXT NOT NULL DEFAULT ''
            );
            CREATE INDEX search_index_lookup ON search_index (resource_type, param, value);
            CREATE INDEX search_index_owner ON search_index (resource_type, id);
            CREATE INDEX record_versions_unanchored ON record_versions (txid) WHERE anchor_batch IS NULL;
            CREATE VIEW anchor_queue AS
                SELECT txid, patient_key, resource_type, id, version_id, commitment
                FROM record_versions WHERE anchor_batch IS NULL;
            CREATE TABLE dead_letters (
                id INTEGER PRIMARY KEY,
                import_batch INTEGER,
                source TEXT NOT NULL,
                location TEXT NOT NULL,
                format TEXT NOT NULL,
                raw BLOB NOT NULL,
                outcome TEXT NOT NULL,
                created_at TEXT NOT NULL,
                resolved_at TEXT
            );
            CREATE VIEW current_resources AS
                SELECT r.resource_type, r.id, r.version_id, r.last_updated, v.canonical AS resource
                FROM records r JOIN record_versions v USING (resource_type, id, version_id);
            CREATE VIEW resource_versions AS
                SELECT resource_type, id, version_id, last_updated, hex(canonical_hash) AS canonical_hash, canonical AS resource
                FROM record_versions;
            """),
        // Numbered as PostgreSQL's migration 3, which it mirrors; SQLite has no migration 2 (it keeps `records`).
        Migration(version: 3, description: "anchor batches; versions found by batch and leaf", sql: """
            CREATE TABLE anchor_batches (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                root BLOB NOT NULL UNIQUE,
                leaf_count INTEGER NOT NULL,
                first_txid INTEGER NOT NULL,
                last_txid INTEGER NOT NULL,
                checkpoint TEXT NOT NULL,
                created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
                height INTEGER,
                tx_index INTEGER
            );
            CREATE INDEX anchor_batches_pending ON anchor_batches (id) WHERE height IS NULL;
            CREATE INDEX record_versions_anchor_leaf ON record_versions (anchor_batch, anchor_leaf) WHERE anchor_batch IS NOT NULL;
            """),
        Migration(version: 4, description: "received messages (HL7 v2 duplicates)", sql: """
            CREATE TABLE received_messages (
                sender TEXT NOT NULL,
                control_id TEXT NOT NULL,
                payload_hash BLOB NOT NULL,
                import_batch INTEGER,
                received_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
                PRIMARY KEY (sender, control_id, payload_hash)
            );
            """),
    ]
}
