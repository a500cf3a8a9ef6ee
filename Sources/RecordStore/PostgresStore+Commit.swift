import FHIRCore
import Foundation
import NIOCore
import PostgresNIO
import Synchronization

/// Committing a unit on PostgreSQL.
///
/// Two ways, the same result:
/// - **New keys, one round trip.** A unit whose keys do not exist yet (an AuditEvent with its fresh time-ordered id,
///   an import of new resources) is planned as version 1 of each key and written by one statement, which is its own
///   transaction: no `BEGIN`, no read of the current versions, no `COMMIT` (four round trips become one). Version 1
///   of a key that exists is already stored, so if any key exists the primary key refuses the statement as a whole
///   (nothing of it is kept) and the unit is committed the other way.
/// - **Read, plan, write.** One transaction: the current version of each key (one primary-key probe each), the
///   plan (no-ops, next versions, If-Match), then the same one-statement write.
///
/// The store remembers which way the last unit needed (``freshKeysExpected``), so re-importing stored data does not
/// pay for a refused statement per unit.
extension PostgresStore {
    public func commit(_ unit: [PreparedRecord], batch: Int64?) async throws -> [RecordOutcome] {
        try await commit(unit, batch: batch, indexingLater: false)
    }

    /// Like ``commit(_:batch:)``, but the index rows of AuditEvents are left to ``flushDeferredIndex()``, which
    /// runs soon after (PostgresStore+DeferredIndex): each record is marked in `search_reindex` by the same
    /// statement that stores its version. AuditEvents have fresh ids, so the unit is always tried as new first.
    public func commitIndexingLater(_ unit: [PreparedRecord]) async throws -> [RecordOutcome] {
        let outcomes = try await commit(unit, batch: nil, indexingLater: true)
        scheduleDeferredFlush()
        return outcomes
    }

    private func commit(_ unit: [PreparedRecord], batch: Int64?, indexingLater: Bool) async throws -> [RecordOutcome] {
        guard !unit.isEmpty else { return [] }
        if indexingLater || freshKeysExpected.load(ordering: .relaxed), unit.allSatisfy({ ($0.expectedVersion ?? 0) == 0 }),
           let outcomes = try await commitAsNew(unit, batch: batch, indexingLater: indexingLater) {
            return outcomes
        }
        return try await commitRetrying(unit, batch: batch, message: nil, indexingLater: indexingLater) ?? []
    }

    public func commit(_ unit: [PreparedRecord], batch: Int64?, message: MessageKey) async throws -> [RecordOutcome]? {
        try await commitRetrying(unit, batch: batch, message: message, indexingLater: false)
    }

    /// After `write` committed: its deferred rows wait in ``deferredIndex``; rows of records it indexed are no longer
    /// pending.
    private func committed(_ write: UnitWrite) {
        if !write.unmarked.isEmpty { deferredIndex.discard(write.unmarked) }
        if !write.deferred.isEmpty { deferredIndex.add(write.deferred) }
    }

    public func received(_ message: MessageKey) async throws -> Bool {
        let rows = try await client.query("""
            SELECT 1 FROM careledger.received_messages WHERE sender = \(message.sender) AND control_id = \(message.controlId)
            AND payload_hash = \(ByteBuffer(bytes: message.payloadHash))
            """, logger: logger)
        for try await _ in rows { return true }
        return false
    }

    /// The unit as version 1 of each of its keys, in one statement outside any transaction (a large unit: that
    /// statement and the COPY of its index rows, in one transaction); nil when a key exists (the statement was
    /// refused whole by the primary key) or it raced another unit, and the unit must be read and planned.
    private func commitAsNew(_ unit: [PreparedRecord], batch: Int64?, indexingLater: Bool) async throws -> [RecordOutcome]? {
        let (outcomes, versions) = try VersionPlanner.plan(unit, current: [:], lastUpdated: Instant.format(Date()))
        guard !versions.isEmpty else { return outcomes }
        let write = UnitWrite(versions, existing: [], batch: batch, indexingLater: indexingLater)
        let logger = self.logger
        do {
            if let copy = write.copy {
                try await client.withTransaction(logger: logger) { conn in
                    for try await _ in try await conn.execute(write.statement, logger: logger) {}
                    try await copy.send(on: conn, logger: logger)
                }
            } else {
                for try await _ in try await client.execute(write.statement, logger: logger) {}
            }
            committed(write)
            return outcomes
        } catch where Self.isRetryable(error) {
            // A stored key (unique violation): the next unit is probably not new either. A deadlock with a
            // concurrent unit, or a serialization failure: read, plan and retry like any unit.
            if Self.isUniqueViolation(error) && !indexingLater { freshKeysExpected.store(false, ordering: .relaxed) }
            return nil
        }
    }

    /// A primary-key or unique violation, also as it arrives from inside a transaction.
    static func isUniqueViolation(_ error: any Error) -> Bool {
        if let e = error as? PSQLError { return e.serverInfo?[.sqlState] == "23505" }
        if let t = error as? PostgresTransactionError { return t.closureError.map(isUniqueViolation) ?? false }
        return false
    }

    private func commitRetrying(_ unit: [PreparedRecord], batch: Int64?, message: MessageKey?, indexingLater: Bool) async throws -> [RecordOutcome]? {
        // Units may be committed concurrently (the importer keeps two in flight). Two that touch the same
        // resource collide on its version row or lock; the loser plans again against what the winner stored.
        var attempt = 0
        while true {
            do {
                guard let done = try await commitOnce(unit, batch: batch, message: message, indexingLater: indexingLater) else { return nil }
                if let write = done.write { committed(write) }
                return done.outcomes
            } catch where attempt < 32 && Self.isRetryable(error) {
                attempt += 1
            }
        }
    }

    /// Unique violation, serialization failure, deadlock: the unit raced another one and plans again. A failure
    /// inside a transaction arrives wrapped in `PostgresTransactionError`.
    static func isRetryable(_ error: any Error) -> Bool {
        if let e = error as? PSQLError, let state = e.serverInfo?[.sqlState] {
            return state == "23505" || state == "40001" || state == "40P01"
        }
        if let t = error as? PostgresTransactionError {
            return [t.closureError, t.commitError].contains { $0.map(isRetryable) ?? false }
        }
        return false
    }

    /// One transaction; nil for a duplicate message. Returns the unit's write (nil if it wrote nothing), for
    /// ``committed(_:)`` once the transaction committed.
    private func commitOnce(_ unit: [PreparedRecord], batch: Int64?, message: MessageKey?,
                            indexingLater: Bool) async throws -> (outcomes: [RecordOutcome], write: UnitWrite?)? {
        let logger = self.logger
        return try await client.withTransaction(logger: logger) { conn -> (outcomes: [RecordOutcome], write: UnitWrite?)? in
            if let message {
                // A second transaction with the same message waits on this row's key until the first ends, then
                // inserts nothing: a duplicate.
                let inserted = try await conn.query("""
                    INSERT INTO careledger.received_messages (sender, control_id, payload_hash, import_batch)
                    VALUES (\(message.sender), \(message.controlId), \(ByteBuffer(bytes: message.payloadHash)), \(batch))
                    ON CONFLICT DO NOTHING RETURNING 1
                    """, logger: logger)
                var any = false
                for try await _ in inserted { any = true }
                if !any { return nil }
            }
            guard !unit.isEmpty else { return ([], nil) }
            // The current version of each key is its highest version. Two units that write the same key concurrently
            // both try to insert its next version: the primary key stops the second, which plans again (commit(_:)).
            let keys = Set(unit.map(\.key)).sorted()
            var current: [RecordKey: (version: Int, contentHash: [UInt8])] = [:]
            let rows = try await conn.query("""
                SELECT k.resource_type, k.id, c.version_id, c.content_hash
                FROM UNNEST(\(keys.map(\.type))::text[], \(keys.map(\.id))::text[]) AS k(resource_type, id)
                CROSS JOIN LATERAL (
                    -- One backward probe of the primary key per key, whatever the size of the history.
                    SELECT v.version_id, v.content_hash FROM careledger.record_versions v
                    WHERE v.resource_type = k.resource_type AND v.id = k.id
                    ORDER BY v.version_id DESC LIMIT 1
                ) c
                """, logger: logger)
            for try await (type, id, version, hash) in rows.decode((String, String, Int, ByteBuffer).self) {
                current[RecordKey(type: type, id: id)] = (version, Array(buffer: hash))
            }
            // A unit of new keys only: the next one probably is too (an import of new resources).
            if !indexingLater { self.freshKeysExpected.store(current.isEmpty, ordering: .relaxed) }
            let (outcomes, versions) = try VersionPlanner.plan(unit, current: current, lastUpdated: Instant.format(Date()))
            guard !versions.isEmpty else { return (outcomes, nil) }
            let write = UnitWrite(versions, existing: Set(current.keys), batch: batch, indexingLater: indexingLater)
            for try await _ in try await conn.execute(write.statement, logger: logger) {}
            try await write.copy?.send(on: conn, logger: logger)
            return (outcomes, write)
        }
    }
}

/// The writes of a planned unit: one statement for its versions (which are also the anchoring queue) and the
/// search-index rows of the last version of each key, replacing the rows of keys that existed before the unit or
/// were written several times in it. All parts of the statement see the snapshot from before it, so the index rows
/// it deletes are the old ones. A unit with many index rows sends them by COPY after the statement instead
/// (``SearchIndexCopy``), in the same transaction.
struct UnitWrite {
    let statement: Statement
    let copy: SearchIndexCopy?

    /// The latest versions of ``DeferredIndex/types`` whose index rows the statement left out and marked
    /// (`indexingLater`), for the store's ``DeferredIndex``.
    let deferred: [VersionRow]
    /// Keys of ``DeferredIndex/types`` this ordinary commit indexes again, whose marks it removed.
    let unmarked: [RecordKey]

    /// `indexingLater`: the rows of records of ``DeferredIndex/types`` are not inserted; each such record gets a mark in
    /// `search_reindex` instead (``PostgresStore/commitIndexingLater(_:)``). Otherwise a rewritten record of those
    /// types is indexed now and its mark, if any, removed.
    init(_ versions: [VersionRow], existing: Set<RecordKey>, batch: Int64?, indexingLater: Bool = false) {
        var last: [RecordKey: Int] = [:]
        var first: [RecordKey: Int] = [:]
        for (n, row) in versions.enumerated() {
            last[row.key] = n
            if first[row.key] == nil { first[row.key] = n }
        }
        let latest = last.values.sorted().map { versions[$0] }
        let replaced = latest.filter { existing.contains($0.key) || first[$0.key] != last[$0.key] }
        let deferred = indexingLater ? latest.filter { DeferredIndex.types.contains($0.key.type) } : []
        let unmarked = indexingLater ? [] : replaced.filter { DeferredIndex.types.contains($0.key.type) }.map(\.key)
        self.deferred = deferred
        self.unmarked = unmarked
        let indexedNow = deferred.isEmpty ? latest : latest.filter { !DeferredIndex.types.contains($0.key.type) }
        let records = indexedNow.map { (patientKey: $0.patientKey, key: $0.key, index: $0.index) }
        let copy = SearchIndexCopy(records: records)
        // A large unit's index rows go by COPY after the statement, which then inserts none (empty arrays).
        let copying = copy.rowCount >= SearchIndexCopy.minimumRows
        self.copy = copying ? copy : nil
        // One pass per column set (mapping a key path over the rows would copy every row once per column).
        statement = Statement(versions: VersionColumns(versions), batch: batch, replacedTypes: replaced.map(\.key.type),
                              replacedIds: replaced.map(\.key.id), index: SearchIndexRows(copying ? [] : records),
                              marked: deferred.map(\.key), unmarked: unmarked)
    }

    /// The unit's one statement, prepared once per connection: its text is the same for every unit (the rows are
    /// bound arrays), so PostgreSQL parses it once and then runs its cached generic plan instead of planning the
    /// three-part statement for every AuditEvent (PostgresStatements says why that mattered).
    struct Statement: PostgresPreparedStatement {
        static let name = "careledger_unit_write_v2"
        static let sql = """
            WITH tx AS (SELECT nextval('careledger.txid_seq') AS txid),
            v AS (
                INSERT INTO careledger.record_versions
                    (txid, patient_key, resource_type, id, version_id, last_updated, content_hash, canonical_hash, salt, commitment, canonical, import_batch)
                SELECT tx.txid, p, t, i, n, u::timestamptz, ch, h, s, c, j, $11::int8
                FROM tx, UNNEST($1::text[], $2::text[], $3::text[], $4::int4[], $5::text[], $6::bytea[], $7::bytea[], $8::bytea[],
                                $9::bytea[], $10::text[])
                    AS x(p, t, i, n, u, ch, h, s, c, j)
            ),
            d AS (
                DELETE FROM careledger.search_index s
                USING UNNEST($12::text[], $13::text[]) AS k(t, i)
                WHERE s.resource_type = k.t AND s.id = k.i
            ),
            m AS (
                INSERT INTO careledger.search_reindex (resource_type, id)
                SELECT t, i FROM UNNEST($24::text[], $25::text[]) AS k(t, i)
                ON CONFLICT DO NOTHING
            ),
            um AS (
                DELETE FROM careledger.search_reindex r
                USING UNNEST($26::text[], $27::text[]) AS k(t, i)
                WHERE r.resource_type = k.t AND r.id = k.i
            )
            INSERT INTO careledger.search_index (patient_key, resource_type, id, param, value, system, value_to, display, low, high)
            SELECT k, t, i, p, v, s, vt, d, NULLIF(l, 'NaN'::float8), NULLIF(h, 'NaN'::float8)
            FROM UNNEST($14::text[], $15::text[], $16::text[], $17::text[], $18::text[], $19::text[], $20::text[], $21::text[],
                        $22::float8[], $23::float8[])
                AS x(k, t, i, p, v, s, vt, d, l, h)
            """
        static let bindingDataTypes: [PostgresDataType] = [
            .textArray, .textArray, .textArray, .int4Array, .textArray, .byteaArray, .byteaArray, .byteaArray, .byteaArray, .textArray,
            .int8, .textArray, .textArray,
            .textArray, .textArray, .textArray, .textArray, .textArray, .textArray, .textArray, .textArray, .float8Array, .float8Array,
            .textArray, .textArray, .textArray, .textArray,
        ]
        typealias Row = Void

        let versions: VersionColumns
        let batch: Int64?
        let replacedTypes: [String]
        let replacedIds: [String]
        let index: SearchIndexRows
        /// Records whose rows are written later (marked), and records indexed now whose marks are removed.
        let marked: [RecordKey]
        let unmarked: [RecordKey]

        func makeBindings() -> PostgresBindings {
            var b = PostgresBindings(capacity: 27)
            let v = versions
            b.append(v.patientKeys); b.append(v.types); b.append(v.ids); b.append(v.versions); b.append(v.lastUpdated)
            b.append(v.contentHashes); b.append(v.canonicalHashes); b.append(v.salts); b.append(v.commitments); b.append(v.canonical)
            b.append(batch)
            b.append(replacedTypes); b.append(replacedIds)
            let ix = index
            b.append(ix.patientKeys); b.append(ix.types); b.append(ix.ids); b.append(ix.params); b.append(ix.values)
            b.append(ix.systems); b.append(ix.valuesTo); b.append(ix.displays); b.append(ix.lows); b.append(ix.highs)
            b.append(marked.map(\.type)); b.append(marked.map(\.id)); b.append(unmarked.map(\.type)); b.append(unmarked.map(\.id))
            return b
        }

        func decodeRow(_ row: PostgresRow) throws {}
    }
}
