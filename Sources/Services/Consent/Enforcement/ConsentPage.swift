public import FHIRCore

/// A partner's search page after consent: the resources it may have, where the engine should go on from, and
/// the `total` the Bundle may carry.
///
/// Rules (gateway-notes.md, "Consent-filtered search"; issue 17, Deliver 6): every page passes the same decision;
/// a page that came out short because of filtering is filled from the rows that follow; nothing about withheld
/// rows may show — not as a shorter page, an extra empty page, a missing `total`, nor as a cursor that points at
/// a withheld row. So a page links on only when a permitted row is known to follow, its cursor is that of the last
/// *returned* row, and `total` (the number returned) is given when the whole search fits in the first page.
public struct ConsentPage<Cursor: Sendable>: Sendable {
    /// The permitted matches, in the engine's order.
    public var resources: [Resource]
    /// Where the next page starts; nil when no permitted row follows.
    public var next: Cursor?
    /// `Bundle.total`: the number of resources returned, when this first page is the whole search; nil otherwise.
    public var total: Int?
    /// The decision on every row examined up to the last one returned (for the audit trail; never for the response).
    public var decisions: [AccessDecision]

    /// The Bundle entry every partner searchset carries, whether or not anything was withheld
    /// (``ConsentNotice/searchEntry``).
    public static var notice: FHIRObject { ConsentNotice.searchEntry }
}

/// One row of a search engine's answer, with the cursor that resumes the search right after it.
public struct CursorRow<Cursor: Sendable>: Sendable {
    public var resource: Resource
    public var cursor: Cursor

    public init(resource: Resource, cursor: Cursor) {
        self.resource = resource
        self.cursor = cursor
    }
}

extension ConsentSession {
    /// Fills a page of up to `count` permitted resources from a search engine that pages by keyset cursor: asks for
    /// the rows still missing (plus one, to know whether a permitted row follows) after `start`, filters them, and
    /// asks again while the page is short and rows remain — at most `maxExamined` rows in all, so that a search
    /// over a patient with nothing permitted cannot make one request scan the whole store. Only when that bound
    /// cuts a page short does the next link point past withheld rows.
    ///
    /// - Parameter fetch: the engine: up to `limit` matching rows after `cursor` (nil: from the start), in order,
    ///   each with its cursor, and whether more rows follow the last one returned.
    public func fillPage<Cursor: Sendable>(count: Int, from start: Cursor?, maxExamined: Int = 2000,
                                           fetch: (_ cursor: Cursor?, _ limit: Int) async throws -> (rows: [CursorRow<Cursor>], more: Bool))
        async throws -> ConsentPage<Cursor>
    {
        precondition(count >= 0 && maxExamined > 0, "a page asks for zero or more rows and may examine some")
        // `_count=0`: no entries, no link, no total (counting would need every row decided).
        guard count > 0 else { return ConsentPage(resources: [], next: nil, total: nil, decisions: []) }
        var kept: [(row: CursorRow<Cursor>, examined: Int)] = []
        var decisions: [AccessDecision] = []
        var cursor = start
        var exhausted = false
        while kept.count <= count && decisions.count < maxExamined {
            let want = min(count + 1 - kept.count, maxExamined - decisions.count)
            let (rows, more) = try await fetch(cursor, want)
            for row in rows {
                let decision = try await decide(row.resource)
                decisions.append(decision)
                if decision.allows { kept.append((row, decisions.count)) }
            }
            if let last = rows.last { cursor = last.cursor }
            if !more || rows.isEmpty {
                exhausted = true
                break
            }
        }
        if kept.count > count {
            // A permitted row follows the page: link on from the last returned row, which the next page resumes after.
            let page = kept.prefix(count)
            let examined = page.last?.examined ?? 0
            return ConsentPage(resources: page.map(\.row.resource), next: page.last?.row.cursor ?? start,
                               total: nil, decisions: Array(decisions.prefix(examined)))
        }
        let resources = kept.map(\.row.resource)
        if exhausted {
            return ConsentPage(resources: resources, next: nil, total: start == nil ? resources.count : nil, decisions: decisions)
        }
        return ConsentPage(resources: resources, next: cursor, total: nil, decisions: decisions)
    }
}
