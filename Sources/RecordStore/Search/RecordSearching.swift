/// FHIR search over the search index (docs/store.md): the part of ``RecordStore`` that answers searches.
public protocol RecordSearching: Sendable {
    /// One page of the search: matches in the query's order after its cursor, with the included resources, the
    /// cursor of the next page and, when asked, the number of all matches. Throws ``SearchFailure`` for a search
    /// that cannot be run as asked (the caller's mistake), ``StoreError`` for a store failure.
    func search(_ query: SearchQuery) async throws -> SearchPage
}

extension RecordSearching {
    /// Stores that keep no records (the import benchmark's planning-only store) have nothing to search.
    public func search(_ query: SearchQuery) async throws -> SearchPage {
        throw StoreError("searching", "this store keeps no records")
    }
}

/// What a store provides for ``SearchEngine`` to run a search: statements built by ``SearchSQL`` in its dialect.
protocol SearchExecuting: Sendable {
    var searchDialect: SearchSQL.Dialect { get }
    /// Rows of `(id, sort keys…)`; `numeric` says which keys are numbers.
    func searchRows(_ sql: String, _ binds: [SearchBind], numeric: [Bool]) async throws -> [(id: String, keys: [SearchCursor.Key])]
    /// The first column of every row, as text.
    func searchStrings(_ sql: String, _ binds: [SearchBind]) async throws -> [String]
    func searchCount(_ sql: String, _ binds: [SearchBind]) async throws -> Int
    /// The current versions of `ids` of `type` that exist and are not deleted, in the order of `ids`.
    func currentVersions(type: String, ids: [String]) async throws -> [StoredVersion]
    /// Writes the search-index rows a ``DeferredIndex`` holds back (``RecordStore/flushDeferredIndex()``).
    func flushDeferredIndex() async throws
}

/// Runs a ``SearchQuery`` the same way on both stores.
enum SearchEngine {
    /// At most this many resources are brought in by `_include` and `_revinclude` per page.
    static let includeLimit = 1000

    static func run(_ query: SearchQuery, on store: some SearchExecuting) async throws -> SearchPage {
        // AuditEvents' index rows may be written later than their versions: a search that can read them has them
        // written first, so it sees every committed AuditEvent.
        if DeferredIndex.reaches(query) { try await store.flushDeferredIndex() }
        let dialect = store.searchDialect
        var total: Int?
        if query.total {
            let c = try SearchSQL.count(query, dialect)
            total = try await store.searchCount(c.sql, c.binds)
        }
        guard query.count > 0 else { return SearchPage(matches: [], included: [], next: nil, total: total) }
        let page = try SearchSQL.page(query, dialect)
        var rows = try await store.searchRows(page.sql, page.binds, numeric: page.numeric)
        var next: SearchCursor?
        if rows.count > query.count {
            rows.removeLast(rows.count - query.count)
            if let last = rows.last { next = SearchCursor(keys: last.keys, id: last.id) }
        }
        let matches = try await store.currentVersions(type: query.type, ids: rows.map(\.id))
        let included = try await includes(query, matches: matches, on: store)
        return SearchPage(matches: matches, included: included, next: next, total: total)
    }

    private static func includes(_ query: SearchQuery, matches: [StoredVersion], on store: some SearchExecuting) async throws -> [StoredVersion] {
        guard !matches.isEmpty else { return [] }
        let dialect = store.searchDialect
        var seen = Set(matches.map(\.key))
        var out: [StoredVersion] = []
        for include in query.includes where include.sourceType == query.type {
            let q = SearchSQL.includeReferences(include, ids: matches.map(\.key.id), dialect)
            var byType: [String: [String]] = [:]
            for reference in try await store.searchStrings(q.sql, q.binds) {
                let parts = reference.split(separator: "/")
                guard parts.count == 2 else { continue }
                let type = String(parts[0])
                if let target = include.targetType, target != type { continue }
                byType[type, default: []].append(String(parts[1]))
            }
            for type in byType.keys.sorted() {
                for v in try await store.currentVersions(type: type, ids: byType[type] ?? []) where seen.insert(v.key).inserted {
                    out.append(v)
                }
            }
        }
        for include in query.revIncludes {
            let references = matches.map { $0.key.description }
            let q = SearchSQL.revIncludeIds(include, references: references, dialect)
            let ids = try await store.searchStrings(q.sql, q.binds)
            for v in try await store.currentVersions(type: include.sourceType, ids: ids) where seen.insert(v.key).inserted {
                out.append(v)
            }
        }
        return Array(out.prefix(includeLimit))
    }
}
