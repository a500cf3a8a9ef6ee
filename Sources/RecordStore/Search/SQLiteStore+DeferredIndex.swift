/// Writing the search-index rows of AuditEvents after their versions (``DeferredIndex``, docs/store.md).
extension SQLiteStore {
    /// Marks a record whose index rows are written later (in the storing transaction).
    func mark(_ key: RecordKey) throws {
        try db.cachedStatement("INSERT OR IGNORE INTO search_reindex (resource_type, id) VALUES (?, ?)").run([.text(key.type), .text(key.id)])
    }

    /// Removes a record's mark; true when it was marked.
    @discardableResult
    func unmark(_ key: RecordKey) throws -> Bool {
        try db.cachedStatement("DELETE FROM search_reindex WHERE resource_type = ? AND id = ?").run([.text(key.type), .text(key.id)])
        return db.changes > 0
    }

    /// After a commit that left rows pending: has them written at once when ``DeferredIndex/flushCount`` records
    /// wait, else within ``DeferredIndex/flushDelay``. The write runs as its own job on this actor, after the
    /// commit's caller was let go.
    func scheduleDeferredFlush() {
        let waiting = deferredIndex.count
        guard waiting > 0 else { return }
        if waiting >= DeferredIndex.flushCount, !deferredFlush.immediate {
            deferredFlush.immediate = true
            Task { await self.scheduledFlush(immediate: true) }
        } else if !deferredFlush.delayed {
            deferredFlush.delayed = true
            Task {
                try? await Task.sleep(for: DeferredIndex.flushDelay)
                await self.scheduledFlush(immediate: false)
            }
        }
    }

    private func scheduledFlush(immediate: Bool) async {
        if immediate { deferredFlush.immediate = false } else { deferredFlush.delayed = false }
        // A failed write keeps the rows pending and the records marked; the next flush (or a search) retries.
        try? await flushDeferredIndex()
        scheduleDeferredFlush()
    }

    public func flushDeferredIndex() async throws {
        while true {
            let pending = deferredIndex.take(limit: DeferredIndex.chunk)
            if pending.isEmpty { break }
            do {
                try writeDeferred(pending)
            } catch {
                deferredIndex.restore(pending)
                throw error
            }
            // Commits that queued behind this chunk go first.
            await Task.yield()
        }
        // Records marked by a store instance that has not written their rows (another process on this file, or
        // one that stopped before it did): indexed again from their canonical JSON.
        var marked = false
        try db.query("SELECT 1 FROM search_reindex LIMIT 1") { _ in marked = true }
        if marked { try Self.reindexPending(db) }
    }

    /// One transaction: each pending record's mark removed and, if it was still marked, its rows inserted in the
    /// index's key order.
    private func writeDeferred(_ pending: [DeferredIndex.Pending]) throws {
        try db.exec("BEGIN IMMEDIATE")
        do {
            var kept: [DeferredIndex.Pending] = []
            kept.reserveCapacity(pending.count)
            for p in pending where try unmark(p.key) { kept.append(p) }
            let insert = try db.cachedStatement(SearchIndexRows.sqliteInsert)
            for row in DeferredIndex.sortedRows(kept) {
                try insert.run(SearchIndexRows.sqliteValues(.text(row.patientKey), .text(row.key.type), .text(row.key.id), row.entry))
            }
            try db.exec("COMMIT")
        } catch {
            try? db.exec("ROLLBACK")
            throw error
        }
    }
}
