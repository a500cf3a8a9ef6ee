import Synchronization

/// The search-index rows of AuditEvents, written after their versions (issue 17, Deliver 7; docs/store.md): which
/// types, which searches must wait for them, and the rows a store holds until it writes them (PostgreSQL; SQLite
/// journals the whole AuditEvent instead, SQLiteStore+AuditJournal).
///
/// Why: an audited partner read stores one AuditEvent before its response leaves. Its version, record and
/// commitment are a few rows, but its search index is about twenty, each landing in the middle of the index
/// B-trees (dates, references, codes), so a commit of a few AuditEvents rewrote dozens of index pages: measured,
/// two thirds of the SQLite writer's time per partner read, 70% of PostgreSQL's audit statement. Written later,
/// many AuditEvents' rows go in one transaction, sorted by the index's key, and share those pages.
///
/// What keeps it exact:
/// - the storing transaction writes a marker per record into `search_reindex`, so rows not yet written are never
///   lost: a store opened after a crash indexes marked records again from their canonical JSON, as it does after
///   the search migration;
/// - a search that can read rows of a deferred type (``reaches(_:)``) first has the store write every pending row
///   (and index any marked record, also another process's), so searches see every committed AuditEvent;
/// - writing a record's rows deletes its marker in the same transaction, and rows are written only when that
///   delete found the marker: a record indexed meanwhile (by a store opened elsewhere, or rewritten by a normal
///   commit) is not indexed twice.
public final class DeferredIndex: Sendable {
    /// The types whose rows may be written later: AuditEvents, the one record written on every partner read.
    public static let types: Set<String> = ["AuditEvent"]
    /// Write the pending rows once this many records wait …
    public static let flushCount = 256
    /// … or once the oldest has waited this long.
    public static let flushDelay = Duration.milliseconds(250)
    /// The most records whose rows one transaction writes: a store writes more in several, letting the commits
    /// that queued meanwhile go between them (a partner read waits for its AuditEvent's commit).
    public static let chunk = 128

    /// The index rows of one stored record version whose rows are not written yet.
    public struct Pending: Sendable {
        public var key: RecordKey
        public var patientKey: String
        public var index: [IndexEntry]
    }

    private struct State {
        var byKey: [RecordKey: Pending] = [:]
        var order: [RecordKey] = []
    }

    private let state = Mutex(State())

    public init() {}

    /// The number of records whose rows wait.
    public var count: Int { state.withLock { $0.byKey.count } }

    /// Adds the rows of stored versions; a later version of a record replaces an earlier one's rows. Returns how
    /// many records wait now.
    @discardableResult
    func add(_ rows: [VersionRow]) -> Int {
        state.withLock { s in
            for row in rows {
                if s.byKey[row.key] == nil { s.order.append(row.key) }
                s.byKey[row.key] = Pending(key: row.key, patientKey: row.patientKey, index: row.index)
            }
            return s.byKey.count
        }
    }

    /// Forgets the pending rows of `keys` (rewritten by a commit that indexes them at once).
    func discard(_ keys: some Sequence<RecordKey>) {
        state.withLock { s in
            var dropped = false
            for key in keys where s.byKey.removeValue(forKey: key) != nil { dropped = true }
            if dropped { s.order.removeAll { s.byKey[$0] == nil } }
        }
    }

    /// Takes up to `limit` pending records, the earliest stored first.
    func take(limit: Int) -> [Pending] {
        state.withLock { s in
            let keys = s.order.prefix(limit)
            let taken = keys.compactMap { s.byKey.removeValue(forKey: $0) }
            s.order.removeFirst(keys.count)
            return taken
        }
    }

    /// Puts records taken by ``take()`` back (their write failed), before any added since.
    func restore(_ pending: [Pending]) {
        state.withLock { s in
            var order: [RecordKey] = []
            for p in pending where s.byKey[p.key] == nil {
                s.byKey[p.key] = p
                order.append(p.key)
            }
            s.order = order + s.order
        }
    }

    /// Whether `query` can read search-index rows of a deferred type: it searches one, chains into one, or
    /// `_revinclude`s one. (`_include` reads the references of the searched type's rows and fetches its targets
    /// by id, which needs no index rows of the targets.)
    public static func reaches(_ query: SearchQuery) -> Bool {
        if types.contains(query.type) { return true }
        for clause in query.clauses where clause.chain != nil {
            if let target = clause.targetType {
                if types.contains(target) { return true }
            } else if clause.targets.contains(where: types.contains) {
                return true
            }
        }
        return query.revIncludes.contains { types.contains($0.sourceType) }
    }

    /// The pending rows in the index's key order (type, parameter, value), so that consecutive inserts land on
    /// the same B-tree pages.
    static func sortedRows(_ pending: [Pending]) -> [(patientKey: String, key: RecordKey, entry: IndexEntry)] {
        var rows: [(patientKey: String, key: RecordKey, entry: IndexEntry)] = []
        rows.reserveCapacity(pending.reduce(0) { $0 + $1.index.count })
        for p in pending {
            for e in p.index { rows.append((p.patientKey, p.key, e)) }
        }
        rows.sort { a, b in
            if a.key.type != b.key.type { return a.key.type < b.key.type }
            if a.entry.param != b.entry.param { return a.entry.param < b.entry.param }
            if a.entry.value != b.entry.value { return a.entry.value < b.entry.value }
            return a.key.id < b.key.id
        }
        return rows
    }
}
