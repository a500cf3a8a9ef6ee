import FHIRCore
import Foundation
import Logging
import NIOCore
import PostgresNIO
import Synchronization

/// The production record store on PostgreSQL (PostgresNIO), in the `careledger` schema.
///
/// A unit is written with a fixed number of round trips whatever its size: one statement of array-bound multi-row
/// inserts for a unit of new keys, else one transaction that reads the current versions of its keys with one
/// `UNNEST` query and then runs that statement (PostgresStore+Commit.swift).
public final class PostgresStore: RecordStore {
    let client: PostgresClient
    private let runner: Task<Void, Never>
    let logger = Logger(label: "careledger.store.postgres")
    /// Whether the last unit committed had only new keys, so the next is tried as new first (PostgresStore+Commit).
    let freshKeysExpected = Atomic<Bool>(true)
    /// AuditEvents' search-index rows not written yet (``commitIndexingLater(_:)``, PostgresStore+DeferredIndex).
    let deferredIndex = DeferredIndex()
    /// Which writes of ``deferredIndex`` are scheduled.
    let deferredFlushes = DeferredWriteSchedule()
    /// How long pending rows may wait for a write when fewer than ``DeferredIndex/flushCount`` records wait (tests
    /// that look at the marked state lengthen it).
    let deferredFlushDelay = Mutex(DeferredIndex.flushDelay)
    /// One flush of ``deferredIndex`` at a time.
    let deferredFlushGate = DeferredFlushGate()
    /// Names of the search statements prepared so far (``PreparedSearch``), at most ``PreparedSearch/limit``.
    let preparedSearches = Mutex(Set<String>())

    init(configuration: PostgresClient.Configuration) {
        let client = PostgresClient(configuration: configuration)
        self.client = client
        runner = Task { await client.run() }
    }

    /// Opens the store at `postgres://user[:password]@host[:port]/database` and applies migrations.
    public static func open(url: String, timeout: Duration = .seconds(15)) async throws -> PostgresStore {
        let config = try configuration(url)
        // One direct connection first: a refused connection or a bad password is reported at once and exactly,
        // where the pool would keep retrying.
        do {
            guard let c = URLComponents(string: url), let host = c.host else { throw StoreError("opening the PostgreSQL store", "no host") }
            var probe = PostgresConnection.Configuration(host: host, port: c.port ?? 5432, username: config.username,
                                                         password: config.password, database: config.database, tls: .disable)
            probe.options.connectTimeout = .seconds(5)
            let connection = try await PostgresConnection.connect(configuration: probe, id: 0, logger: Logger(label: "careledger.store.probe"))
            try await connection.close()
        } catch {
            throw StoreError("opening the PostgreSQL store \(redacted(url))", Self.describe(error))
        }
        let store = PostgresStore(configuration: config)
        do {
            // The pool retries connecting forever; a server that stops answering must fail the command instead.
            // The limit covers getting a pooled connection to answer, not the migrations, which may take long on
            // a busy server.
            try await withThrowingTaskGroup(of: Bool.self) { group in
                group.addTask {
                    try await store.client.query("SELECT 1", logger: store.logger)
                    return true
                }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    return false
                }
                let answered = try await group.next() ?? false
                group.cancelAll()
                if !answered { throw StoreError("connecting", "no answer within \(timeout)") }
            }
            try await store.migrate()
            try await store.reindexPending()
        } catch {
            try? await store.close()
            throw StoreError("opening the PostgreSQL store \(redacted(url))", String(describing: error))
        }
        return store
    }

    /// A connection error as a person reads it (PSQLError's description hides the server's message).
    static func describe(_ error: any Error) -> String {
        if let e = error as? PSQLError {
            if let message = e.serverInfo?[.message] { return message }
            if let underlying = e.underlying { return String(describing: underlying) }
            return "\(e.code)"
        }
        return String(describing: error)
    }

    /// The URL without its password, for messages and logs.
    static func redacted(_ url: String) -> String {
        guard var c = URLComponents(string: url) else { return "(unparsable URL)" }
        if c.password != nil { c.password = "***" }
        return c.string ?? "(unparsable URL)"
    }

    static func configuration(_ url: String) throws -> PostgresClient.Configuration {
        guard let c = URLComponents(string: url), let host = c.host, !host.isEmpty else {
            throw StoreError("opening the PostgreSQL store", "'\(redacted(url))' is not postgres://user@host[:port]/database")
        }
        let database = c.path.hasPrefix("/") ? String(c.path.dropFirst()) : c.path
        let mode = c.queryItems?.first { $0.name == "sslmode" }?.value ?? "disable"
        guard mode == "disable" else {
            throw StoreError("opening the PostgreSQL store", "sslmode=\(mode) is not supported yet; connect over loopback or a trusted network with sslmode=disable")
        }
        var config = PostgresClient.Configuration(host: host, port: c.port ?? 5432, username: c.user ?? "postgres",
                                                  password: c.password, database: database.isEmpty ? nil : database, tls: .disable)
        config.options.maximumConnections = 12
        config.options.connectTimeout = .seconds(5)
        return config
    }

    func migrate() async throws {
        try await client.withTransaction(logger: logger) { conn in
            // One migrator at a time, even with several processes starting together.
            try await conn.query("SELECT pg_advisory_xact_lock(7308562301)", logger: logger)
            try await conn.query("CREATE SCHEMA IF NOT EXISTS careledger", logger: logger)
            try await conn.query("""
                CREATE TABLE IF NOT EXISTS careledger.schema_migrations (
                    version integer PRIMARY KEY, description text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())
                """, logger: logger)
            var applied = Set<Int>()
            for try await v in try await conn.query("SELECT version FROM careledger.schema_migrations", logger: logger).decode(Int.self) {
                applied.insert(v)
            }
            for migration in StoreSchema.postgres where !applied.contains(migration.version) {
                for statement in Self.statements(migration.sql) {
                    try await conn.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await conn.query("INSERT INTO careledger.schema_migrations (version, description) VALUES (\(migration.version), \(migration.description))", logger: logger)
            }
        }
    }

    /// Splits a migration into statements at semicolons outside dollar-quoted bodies (`DO $x$ … $x$`) and `--`
    /// comments (a comment is prose and may hold a semicolon); the migrations have no semicolons inside quoted
    /// literals.
    static func statements(_ sql: String) -> [String] {
        var out: [String] = []
        var current = ""
        var openTag: Substring?
        var rest = Substring(sql)
        while let c = rest.first {
            if c == "-", openTag == nil, rest.dropFirst().first == "-" {
                // A comment runs to the end of its line and is kept as it is.
                let end = rest.firstIndex(of: "\n") ?? rest.endIndex
                current += rest[rest.startIndex..<end]
                rest = rest[end...]
                continue
            }
            if c == "$", let close = rest.dropFirst().firstIndex(of: "$") {
                let tag = rest[rest.startIndex...close]
                if tag.dropFirst().dropLast().allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) {
                    if openTag == nil { openTag = tag } else if openTag == tag { openTag = nil }
                    current += tag
                    rest = rest[rest.index(after: close)...]
                    continue
                }
            }
            if c == ";" && openTag == nil {
                out.append(current)
                current = ""
            } else {
                current.append(c)
            }
            rest = rest.dropFirst()
        }
        out.append(current)
        return out.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
    }

    public func beginBatch(source: String, format: String) async throws -> Int64 {
        var id: Int64 = 0
        for try await n in try await client.query("INSERT INTO careledger.import_batches (source, format) VALUES (\(source), \(format)) RETURNING id", logger: logger).decode(Int64.self) {
            id = n
        }
        return id
    }

    public func finishBatch(_ id: Int64, counts: BatchCounts) async throws {
        try await client.query("""
            UPDATE careledger.import_batches SET finished_at = now(), created = \(counts.created), updated = \(counts.updated),
                unchanged = \(counts.unchanged), rejected = \(counts.rejected) WHERE id = \(id)
            """, logger: logger)
    }

    public func addDeadLetter(_ letter: DeadLetter) async throws -> Int64 {
        var id: Int64 = 0
        // The same unit rejected again (a re-run after a crash) keeps its one open dead letter.
        let rows = try await client.query("""
            WITH existing AS (
                SELECT id FROM careledger.dead_letters
                WHERE resolved_at IS NULL AND source = \(letter.source) AND location = \(letter.location) AND raw = decode(\(Hex.encode(letter.raw)), 'hex')
                ORDER BY id LIMIT 1
            ), inserted AS (
                INSERT INTO careledger.dead_letters (import_batch, source, location, format, raw, outcome)
                SELECT \(letter.batch), \(letter.source), \(letter.location), \(letter.format), decode(\(Hex.encode(letter.raw)), 'hex'), \(letter.outcome)::jsonb
                WHERE NOT EXISTS (SELECT 1 FROM existing)
                RETURNING id
            )
            SELECT id FROM existing UNION ALL SELECT id FROM inserted
            """, logger: logger)
        for try await n in rows.decode(Int64.self) { id = n }
        return id
    }

    private func deadLetters(_ query: PostgresQuery) async throws -> [DeadLetter] {
        var out: [DeadLetter] = []
        let rows = try await client.query(query, logger: logger)
        for try await (id, batch, source, location, format, raw, outcome, created, resolved) in rows.decode((Int64, Int64?, String, String, String, String, String, String, String?).self) {
            out.append(DeadLetter(id: id, batch: batch, source: source, location: location, format: format, raw: Hex.decode(raw) ?? [],
                                  outcome: outcome, createdAt: created, resolvedAt: resolved))
        }
        return out
    }

    private static let deadLetterColumns = """
        id, import_batch, source, location, format, encode(raw, 'hex'), outcome::text,
        to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        to_char(resolved_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
        """

    public func deadLetters(includeResolved: Bool) async throws -> [DeadLetter] {
        try await deadLetters(PostgresQuery(unsafeSQL: "SELECT \(Self.deadLetterColumns) FROM careledger.dead_letters \(includeResolved ? "" : "WHERE resolved_at IS NULL ")ORDER BY id"))
    }

    public func deadLetter(id: Int64) async throws -> DeadLetter? {
        var q = PostgresQuery(unsafeSQL: "SELECT \(Self.deadLetterColumns) FROM careledger.dead_letters WHERE id = $1")
        q.binds.append(id)
        return try await deadLetters(q).first
    }

    public func resolveDeadLetter(id: Int64) async throws {
        try await client.query("UPDATE careledger.dead_letters SET resolved_at = now() WHERE id = \(id)", logger: logger)
    }

    public func countsByType() async throws -> [(type: String, count: Int)] {
        var out: [(type: String, count: Int)] = []
        // History is append-only and starts at version 1: one version-1 row per resource.
        let rows = try await client.query("SELECT resource_type, count(*)::int8 FROM careledger.record_versions WHERE version_id = 1 GROUP BY resource_type ORDER BY resource_type", logger: logger)
        for try await (type, n) in rows.decode((String, Int64).self) { out.append((type, Int(n))) }
        return out
    }

    public func versionCount() async throws -> Int {
        var n: Int64 = 0
        for try await c in try await client.query("SELECT count(*)::int8 FROM careledger.record_versions", logger: logger).decode(Int64.self) { n = c }
        return Int(n)
    }

    static let versionColumns = PostgresStatements.versionColumns

    func versions(_ query: PostgresQuery) async throws -> [StoredVersion] {
        var out: [StoredVersion] = []
        for try await row in try await client.query(query, logger: logger) { out.append(try PostgresStatements.decodeVersion(row)) }
        return out
    }

    /// The rows of a prepared statement that reads versions.
    func versions<S: PostgresPreparedStatement>(_ statement: S) async throws -> [StoredVersion] where S.Row == StoredVersion {
        var out: [StoredVersion] = []
        for try await v in try await client.execute(statement, logger: logger) { out.append(v) }
        return out
    }

    public func current(_ key: RecordKey) async throws -> StoredVersion? {
        try await versions(PostgresStatements.Current(key: key)).first
    }

    public func versions(_ key: RecordKey) async throws -> [StoredVersion] {
        var q = PostgresQuery(unsafeSQL: "SELECT \(Self.versionColumns) FROM careledger.record_versions v WHERE v.resource_type = $1 AND v.id = $2 ORDER BY v.version_id")
        q.binds.append(key.type)
        q.binds.append(key.id)
        return try await versions(q)
    }

    public func resolveIdentifier(type: String, system: String?, value: String) async throws -> [String] {
        if DeferredIndex.types.contains(type) { try await flushDeferredIndex() }
        var out: [String] = []
        let rows = if let system {
            try await client.query("SELECT DISTINCT id FROM careledger.search_index WHERE resource_type = \(type) AND param = 'identifier' AND value = \(value) AND system = \(system) ORDER BY id", logger: logger)
        } else {
            try await client.query("SELECT DISTINCT id FROM careledger.search_index WHERE resource_type = \(type) AND param = 'identifier' AND value = \(value) ORDER BY id", logger: logger)
        }
        for try await id in rows.decode(String.self) { out.append(id) }
        return out
    }

    public func resolveIdentifiers(_ queries: [IdentifierQuery]) async throws -> [[String]] {
        guard !queries.isEmpty else { return [] }
        if queries.contains(where: { DeferredIndex.types.contains($0.type) }) { try await flushDeferredIndex() }
        var out = [[String]](repeating: [], count: queries.count)
        // An absent system is bound as '' and matches an identifier in any system (a conditional reference never
        // asks for the empty system).
        let rows = try await client.query("""
            SELECT DISTINCT q.n, s.id
            FROM UNNEST(\(queries.map(\.type))::text[], \(queries.map { $0.system ?? "" })::text[], \(queries.map(\.value))::text[])
                 WITH ORDINALITY AS q(t, sys, v, n)
            JOIN careledger.search_index s
              ON s.resource_type = q.t AND s.param = 'identifier' AND s.value = q.v AND (q.sys = '' OR s.system = q.sys)
            ORDER BY q.n, s.id
            """, logger: logger)
        for try await (n, id) in rows.decode((Int64, String).self) where n >= 1 && Int(n) <= queries.count {
            out[Int(n) - 1].append(id)
        }
        return out
    }

    public func search(type: String, param: String, value: String) async throws -> [String] {
        if DeferredIndex.types.contains(type) { try await flushDeferredIndex() }
        var out: [String] = []
        let rows = try await client.query("SELECT DISTINCT id FROM careledger.search_index WHERE resource_type = \(type) AND param = \(param) AND value = \(value) ORDER BY id", logger: logger)
        for try await id in rows.decode(String.self) { out.append(id) }
        return out
    }

    public func anchorQueueCount() async throws -> Int {
        var n: Int64 = 0
        for try await c in try await client.execute(PostgresStatements.AnchorQueueCount(), logger: logger) { n = c }
        return Int(n)
    }

    /// The first `limit` queued versions in txid order, counted: the partial index's scan stops there (and, being a
    /// plain index scan, marks the entries of versions anchored since as dead, which a bitmap count of the whole
    /// queue walked again on every check until a vacuum).
    public func anchorQueueCount(upTo limit: Int) async throws -> Int {
        var n: Int64 = 0
        for try await c in try await client.execute(PostgresStatements.AnchorQueueCountUpTo(limit: Int64(limit)), logger: logger) { n = c }
        return Int(n)
    }

    public func version(_ key: RecordKey, _ version: Int) async throws -> StoredVersion? {
        try await versions(PostgresStatements.Version(key: key, version: Int32(version))).first
    }

    public func close() async throws {
        // Rows not written now stay marked and are indexed by the next store opened on the database.
        try? await flushDeferredIndex()
        runner.cancel()
        await runner.value
    }
}

// MARK: The anchoring queue

extension PostgresStore {
    /// `error` as a ``StoreError`` saying what was being done; one thrown inside a transaction comes out as it is.
    static func storeError(_ operation: String, _ error: any Error) -> StoreError {
        if let e = error as? StoreError { return e }
        if let t = error as? PostgresTransactionError, let inner = t.closureError ?? t.commitError ?? t.beginError {
            return storeError(operation, inner)
        }
        return StoreError(operation, describe(error))
    }

    public func anchorQueue(limit: Int) async throws -> [QueuedCommitment] {
        guard limit > 0 else { return [] }
        var out: [QueuedCommitment] = []
        out.reserveCapacity(min(limit, 10_000))
        do {
            // The partial index on txid gives the queue in txid order; ties (one unit's versions) are sorted after it.
            let rows = try await client.query("""
                SELECT txid, resource_type, id, version_id, commitment FROM careledger.anchor_queue
                ORDER BY txid, resource_type, id, version_id LIMIT \(limit)
                """, logger: logger)
            for try await (txid, type, id, version, commitment) in rows.decode((Int64, String, String, Int, ByteBuffer).self) {
                out.append(QueuedCommitment(txid: txid, key: RecordKey(type: type, id: id), version: version, commitment: Array(buffer: commitment)))
            }
        } catch {
            throw Self.storeError("reading the anchoring queue", error)
        }
        return out
    }

    public func createAnchorBatch(root: [UInt8], firstTxid: Int64, lastTxid: Int64, checkpoint: String,
                                  leaves: [(key: RecordKey, version: Int)]) async throws -> Int64 {
        guard !leaves.isEmpty else { throw AnchorBatchFailure.empty }
        let logger = self.logger
        var types: [String] = [], ids: [String] = [], versions: [Int32] = []
        types.reserveCapacity(leaves.count)
        ids.reserveCapacity(leaves.count)
        versions.reserveCapacity(leaves.count)
        for leaf in leaves {
            types.append(leaf.key.type)
            ids.append(leaf.key.id)
            versions.append(Int32(leaf.version))
        }
        do {
            return try await client.withTransaction(logger: logger) { conn in
                var inserted: Int64?
                for try await n in try await conn.query("""
                    INSERT INTO careledger.anchor_batches (root, leaf_count, first_txid, last_txid, checkpoint)
                    VALUES (\(ByteBuffer(bytes: root)), \(leaves.count), \(firstTxid), \(lastTxid), \(checkpoint))
                    ON CONFLICT (root) DO NOTHING RETURNING id
                    """, logger: logger).decode(Int64.self) { inserted = n }
                guard let id = inserted else {
                    var existing: Int64 = 0
                    for try await n in try await conn.query("SELECT id FROM careledger.anchor_batches WHERE root = \(ByteBuffer(bytes: root))",
                                                            logger: logger).decode(Int64.self) { existing = n }
                    throw AnchorBatchFailure.sameRoot(as: existing)
                }
                // Every leaf in one statement. A version already in a batch is not matched, and one listed twice is
                // updated once: either way fewer rows than leaves, and the transaction is rolled back.
                var updated: Int64 = 0
                for try await n in try await conn.query("""
                    WITH u AS (
                        UPDATE careledger.record_versions v SET anchor_batch = \(id), anchor_leaf = k.n - 1
                        FROM UNNEST(\(types)::text[], \(ids)::text[], \(versions)::int4[]) WITH ORDINALITY AS k(t, i, version, n)
                        WHERE v.resource_type = k.t AND v.id = k.i AND v.version_id = k.version AND v.anchor_batch IS NULL
                        RETURNING 1
                    )
                    SELECT count(*)::int8 FROM u
                    """, logger: logger).decode(Int64.self) { updated = n }
                guard updated == leaves.count else {
                    // The first leaf that did not become leaf n - 1 of this batch says why.
                    let rows = try await conn.query("""
                        SELECT k.n, v.version_id IS NOT NULL, v.anchor_batch
                        FROM UNNEST(\(types)::text[], \(ids)::text[], \(versions)::int4[]) WITH ORDINALITY AS k(t, i, version, n)
                        LEFT JOIN careledger.record_versions v ON v.resource_type = k.t AND v.id = k.i AND v.version_id = k.version
                        WHERE v.anchor_batch IS DISTINCT FROM \(id) OR v.anchor_leaf IS DISTINCT FROM k.n - 1
                        ORDER BY k.n LIMIT 1
                        """, logger: logger)
                    var first: (n: Int64, exists: Bool, batch: Int64?)?
                    for try await row in rows.decode((Int64, Bool, Int64?).self) { first = row }
                    guard let first, first.n >= 1, Int(first.n) <= leaves.count else {
                        throw StoreError(AnchorBatchFailure.operation, "only \(updated) of its \(leaves.count) versions could be put in it")
                    }
                    let (key, version) = leaves[Int(first.n) - 1]
                    guard first.exists, let batch = first.batch else { throw AnchorBatchFailure.missing(key, version) }
                    throw batch == id ? AnchorBatchFailure.listedTwice(key, version) : AnchorBatchFailure.alreadyBatched(key, version, batch: batch)
                }
                return id
            }
        } catch {
            throw Self.storeError(AnchorBatchFailure.operation, error)
        }
    }

    public func completeAnchorBatch(id: Int64, height: Int64, transactionIndex: Int) async throws {
        var found: Int64 = 0
        do {
            // The height is recorded on the batch row only: a version's height is its batch's (anchorLocation reads
            // it through the batch). Writing it into every version as well rewrote each whole version row (its
            // canonical JSON) and added an entry to each of its indexes, a second time after createAnchorBatch did:
            // under the gateway benchmark that update took more server time than all audited reads' lookups.
            let rows = try await client.query("""
                UPDATE careledger.anchor_batches SET height = \(height), tx_index = \(transactionIndex) WHERE id = \(id) RETURNING 1::int8
                """, logger: logger)
            for try await n in rows.decode(Int64.self) { found = n }
        } catch {
            throw Self.storeError("completing anchor batch \(id)", error)
        }
        guard found == 1 else { throw StoreError("completing anchor batch \(id)", "there is no such batch") }
    }

    private static let batchColumns = "id, root, leaf_count, first_txid, last_txid, checkpoint, height, tx_index"

    private func batches(_ query: PostgresQuery, _ operation: String) async throws -> [AnchorBatchRow] {
        var out: [AnchorBatchRow] = []
        do {
            let rows = try await client.query(query, logger: logger)
            for try await (id, root, count, first, last, checkpoint, height, index) in rows.decode((Int64, ByteBuffer, Int, Int64, Int64, String, Int64?, Int?).self) {
                out.append(AnchorBatchRow(id: id, root: Array(buffer: root), leafCount: count, firstTxid: first, lastTxid: last, checkpoint: checkpoint,
                                          height: height, transactionIndex: index))
            }
        } catch {
            throw Self.storeError(operation, error)
        }
        return out
    }

    public func pendingAnchorBatches() async throws -> [AnchorBatchRow] {
        try await batches(PostgresQuery(unsafeSQL: "SELECT \(Self.batchColumns) FROM careledger.anchor_batches WHERE height IS NULL ORDER BY id"),
                          "reading pending anchor batches")
    }

    public func anchorBatch(id: Int64) async throws -> AnchorBatchRow? {
        var q = PostgresQuery(unsafeSQL: "SELECT \(Self.batchColumns) FROM careledger.anchor_batches WHERE id = $1")
        q.binds.append(id)
        return try await batches(q, "reading anchor batch \(id)").first
    }

    public func batchLeaves(_ batch: Int64) async throws -> [BatchLeaf] {
        var out: [BatchLeaf] = []
        do {
            let rows = try await client.query("""
                SELECT resource_type, id, version_id, commitment FROM careledger.record_versions WHERE anchor_batch = \(batch) ORDER BY anchor_leaf
                """, logger: logger)
            for try await (type, id, version, commitment) in rows.decode((String, String, Int, ByteBuffer).self) {
                out.append(BatchLeaf(key: RecordKey(type: type, id: id), version: version, commitment: Array(buffer: commitment)))
            }
        } catch {
            throw Self.storeError("reading the leaves of anchor batch \(batch)", error)
        }
        return out
    }

    public func anchorLocation(_ key: RecordKey, version: Int) async throws -> AnchorLocation? {
        var out: AnchorLocation?
        do {
            let rows = try await client.query("""
                SELECT v.anchor_batch, v.anchor_leaf, b.height FROM careledger.record_versions v
                JOIN careledger.anchor_batches b ON b.id = v.anchor_batch
                WHERE v.resource_type = \(key.type) AND v.id = \(key.id) AND v.version_id = \(Int32(version))
                """, logger: logger)
            for try await (batch, leaf, height) in rows.decode((Int64, Int, Int64?).self) {
                out = AnchorLocation(batch: batch, leaf: leaf, height: height)
            }
        } catch {
            throw Self.storeError("locating \(key) version \(version) in an anchor batch", error)
        }
        return out
    }
}

/// Version rows as the columns an `UNNEST` insert binds.
struct VersionColumns {
    var patientKeys: [String] = [], types: [String] = [], ids: [String] = [], versions: [Int32] = [], lastUpdated: [String] = []
    var contentHashes: [ByteBuffer] = [], canonicalHashes: [ByteBuffer] = [], salts: [ByteBuffer] = [], commitments: [ByteBuffer] = []
    var canonical: [String] = []

    init(_ rows: [VersionRow]) {
        for row in rows {
            patientKeys.append(row.patientKey)
            types.append(row.key.type)
            ids.append(row.key.id)
            versions.append(Int32(row.version))
            lastUpdated.append(row.lastUpdated)
            contentHashes.append(ByteBuffer(bytes: row.contentHash))
            canonicalHashes.append(ByteBuffer(bytes: row.canonicalHash))
            salts.append(ByteBuffer(bytes: row.salt))
            commitments.append(ByteBuffer(bytes: row.commitment))
            canonical.append(String(decoding: row.canonical, as: UTF8.self))
        }
    }
}

extension PostgresStore {
    /// Runs one administrative statement (CREATE/DROP DATABASE) on the server `url` points at.
    public static func administer(url: String, _ sql: String) async throws {
        let client = PostgresClient(configuration: try configuration(url))
        let runner = Task { await client.run() }
        defer { runner.cancel() }
        try await client.query(PostgresQuery(unsafeSQL: sql))
    }

    /// `url` with its database replaced by `database`.
    public static func url(_ url: String, database: String) -> String {
        guard var c = URLComponents(string: url) else { return url }
        c.path = "/" + database
        return c.string ?? url
    }
}
