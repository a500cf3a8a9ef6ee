public import FHIRCore
public import RecordStore

/// The search use case (FHIR R4 search): runs a ``SearchRequest`` on the store and returns one page, as the CLI
/// and the gateway need it. Consent filtering is the caller's (``SearchResult`` keeps the store's cursor, which
/// comes from the last row examined, so a page thinned by filtering still links on).
public struct RecordSearch: Sendable {
    public let store: any RecordStore

    public init(store: any RecordStore) {
        self.store = store
    }

    public func search(_ request: SearchRequest) async throws(ServiceError) -> SearchResult {
        let page: SearchPage
        do {
            page = try await store.search(request.query)
        } catch let failure as SearchFailure {
            throw ServiceError(.invalidRequest, failure.description)
        } catch {
            throw ServiceError(.unavailable, "the record store failed to search \(request.query.type): \(error)")
        }
        return SearchResult(matches: page.matches.map(StoredResource.init), included: page.included.map(StoredResource.init),
                            next: page.next, total: page.total, warnings: request.warnings)
    }
}

/// One page of a search as the use case returns it.
public struct SearchResult: Sendable {
    public var matches: [StoredResource]
    public var included: [StoredResource]
    /// Where the next page starts; nil on the last page.
    public var next: SearchCursor?
    /// The number of all matches, when `_total` or `_summary=count` asked for it.
    public var total: Int?
    public var warnings: [String]

    public init(matches: [StoredResource], included: [StoredResource], next: SearchCursor?, total: Int?, warnings: [String]) {
        self.matches = matches
        self.included = included
        self.next = next
        self.total = total
        self.warnings = warnings
    }
}
