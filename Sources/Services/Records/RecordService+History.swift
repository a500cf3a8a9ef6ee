import Foundation
import RecordStore

/// One page of a history, newest first, and the cursor of the next page.
public struct HistoryResult: Sendable {
    /// The versions, deletes included (``StoredResource/deleted``), newest first.
    public var entries: [StoredResource]
    /// The opaque cursor of the next page (the gateway's `_cursor` parameter); nil on the last page.
    public var next: String?
}

extension RecordService {
    /// FHIR history of one resource (`type` and `id`), of a type (`type` only) or of the whole store (neither).
    /// `since` is FHIR `_since` (an instant), `count` is `_count` (capped at ``maxPageSize``), `cursor` is the
    /// previous page's ``HistoryResult/next``. Pages are keyset pages over the store's transaction order, so
    /// writes while paging neither repeat nor skip a version that was there at the first page.
    public func history(type: String? = nil, id: String? = nil, since: String? = nil, count: Int? = nil,
                        cursor: String? = nil) async throws(ServiceError) -> HistoryResult {
        let scope: HistoryScope
        switch (type, id) {
        case (let type?, let id?): scope = .instance(try Self.key(type, id))
        case (let type?, nil): scope = .type(try Self.key(type, "x").type)
        case (nil, nil): scope = .system
        case (nil, _?): throw ServiceError(.invalidRequest, "a history by id needs the resource type")
        }
        let sinceDate = try since.map { s throws(ServiceError) -> Date in
            guard let date = Self.instant(s) else {
                throw ServiceError(.invalidRequest, "_since '\(s)' is not a FHIR instant (e.g. 2026-12-07T10:00:00Z)")
            }
            return date
        }
        if let count, count < 0 { throw ServiceError(.invalidRequest, "_count must not be negative") }
        let after = try cursor.map { c throws(ServiceError) -> HistoryCursor in
            guard let parsed = HistoryCursor(token: c) else { throw ServiceError(.invalidRequest, "'\(c)' is not a history cursor of this server") }
            return parsed
        }
        let size = min(max(count ?? defaultPageSize, 1), maxPageSize)
        let query = HistoryQuery(scope: scope, since: sinceDate, count: size, after: after)
        let page = try await run("list history") { try await store.history(query) }
        if case .instance(let key) = scope, page.versions.isEmpty, after == nil, sinceDate == nil {
            throw ServiceError(.notFound, "\(key) is not stored")
        }
        // `_count=0` asks for no entries (the total only); a page of one is read to say whether any exist.
        let entries = count == 0 ? [] : page.versions.map(StoredResource.init)
        return HistoryResult(entries: entries, next: count == 0 ? nil : page.next?.description)
    }

    /// A FHIR instant (`2026-12-07T10:00:00Z`, fractions and offsets allowed) or a date-time to the second.
    static func instant(_ text: String) -> Date? {
        let withFraction = ISO8601DateFormatter()
        withFraction.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = withFraction.date(from: text) { return date }
        let plain = ISO8601DateFormatter()
        plain.formatOptions = [.withInternetDateTime]
        return plain.date(from: text)
    }
}
