import Synchronization

/// What the SQLite store keeps in memory of its audit journal (SQLiteStore+AuditJournal): the AuditEvent versions
/// it journaled and has not moved into the records yet, by journal row, with their search-index rows (computed
/// once, when the AuditEvent was prepared, instead of again from the stored JSON), and how far it has moved the
/// journal file (every row at or below ``movedThrough`` is stored in the records).
final class SQLiteAuditJournal: Sendable {
    private struct State {
        var rows: [Int64: VersionRow] = [:]
        var keys: Set<RecordKey> = []
        var movedThrough: Int64 = 0
        var lastJournaled: Int64 = 0
    }

    private let state = Mutex(State())

    /// The AuditEvents journaled here and not moved yet.
    var count: Int { state.withLock { $0.rows.count } }

    func add(_ rows: [(seq: Int64, row: VersionRow)]) {
        state.withLock { s in
            for (seq, row) in rows {
                s.rows[seq] = row
                s.keys.insert(row.key)
                s.lastJournaled = max(s.lastJournaled, seq)
            }
        }
    }

    func contains(_ key: RecordKey) -> Bool {
        state.withLock { $0.keys.contains(key) }
    }

    /// The journaled version of row `seq`, if this store journaled it.
    func row(_ seq: Int64) -> VersionRow? {
        state.withLock { $0.rows[seq] }
    }

    /// The highest journal row this store journaled (committed, as every row it holds).
    var lastJournaled: Int64 { state.withLock { $0.lastJournaled } }

    /// Forgets the rows below `seq`, up to `known`: rows this store journaled that another store instance moved and
    /// deleted from the journal (a row is deleted only once its move is durable). `known` must be at most what
    /// ``lastJournaled`` said before the journal was read, so that a row committed after the read is never taken
    /// for deleted.
    func forgetGone(before seq: Int64, upTo known: Int64) {
        state.withLock { s in
            for (row, version) in s.rows where row < seq && row <= known {
                s.rows.removeValue(forKey: row)
                s.keys.remove(version.key)
            }
        }
    }

    /// The last journal row this store moved into the records (or found there), with every row before it.
    var movedThrough: Int64 { state.withLock { $0.movedThrough } }

    /// Forgets the rows moved into the records, through row `last`.
    func moved(_ seqs: [Int64], through last: Int64) {
        state.withLock { s in
            for seq in seqs {
                if let row = s.rows.removeValue(forKey: seq) { s.keys.remove(row.key) }
            }
            s.movedThrough = max(s.movedThrough, last)
        }
    }
}
