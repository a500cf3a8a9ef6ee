public import FHIRCore

/// A partner's search page after consent: the resources it may have, where the engine should go on from, and
/// the `total` the Bundle may carry.
///
/// Rules (gateway-notes.md, "Consent-filtered search"; issue 17, Deliver 6): every page passes the same decision;
/// a page that came out short because of filtering is filled from the rows that follow; nothing about withheld
/// rows may show — not as a shorter page, an extra empty page, a missing `total`, nor as a cursor that points at
/// a withheld row. So a page links on only when a permitted row is known to follow, its cursor is the one after
/// the last *returned* row, and `total` (the number returned) is given when the whole search fits in the first
/// page.
public struct ConsentPage<Row: Sendable, Cursor: Sendable>: Sendable {
    /// The permitted matches, in the engine's order.
    public var rows: [Row]
    /// Where the next page starts; nil when no permitted row follows.
    public var next: Cursor?
    /// `Bundle.total`: the number of resources returned, when this first page is the whole search; nil otherwise.
    public var total: Int?
    /// The decision on every row examined up to the last one returned (for the audit trail; never for the response).
    public var decisions: [AccessDecision]

    public init(rows: [Row], next: Cursor?, total: Int?, decisions: [AccessDecision]) {
        self.rows = rows
        self.next = next
        self.total = total
        self.decisions = decisions
    }

    /// The Bundle entry every partner searchset carries, whether or not anything was withheld
    /// (``ConsentNotice/searchEntry``).
    public static var notice: FHIRObject { ConsentNotice.searchEntry }
}

extension ConsentSession {
    /// Fills a page of up to `count` permitted resources from a search engine that pages by keyset cursor (the
    /// store's ``SearchPage``): asks for the rows still missing after `start` and filters them, again while the
    /// page is short and rows remain. When the page is full it looks ahead for one more permitted row (fetching
    /// one row, then more only while those are withheld), so that it links on only when there is something to link
    /// to. All in at most `maxExamined` rows (a search over patients with nothing permitted cannot make one request
    /// scan the whole store); only a page that this bound cuts short links on from the last row examined rather
    /// than the last returned.
    ///
    /// Asking for exactly the rows missing means the page fills on the last row of a fetch, so its cursor is the
    /// cursor after a returned row, never after a withheld one.
    ///
    /// - Parameter fetch: the engine: up to `limit` matching rows after `cursor` (nil: from the start), in order,
    ///   and the cursor after the last of them when more rows follow, nil when none does.
    /// - Parameter resource: the resource of a row, as the decision reads it.
    public func fillPage<Row: Sendable, Cursor: Sendable>(count: Int, from start: Cursor?, maxExamined: Int = 2000,
                                                          resource: (Row) throws -> Resource,
                                                          fetch: (_ cursor: Cursor?, _ limit: Int) async throws -> (rows: [Row], next: Cursor?))
        async throws -> ConsentPage<Row, Cursor>
    {
        precondition(count >= 0 && maxExamined > 0, "a page asks for zero or more rows and may examine some")
        // `_count=0`: no entries, no link, no total (counting would need every row decided).
        guard count > 0 else { return ConsentPage(rows: [], next: nil, total: nil, decisions: []) }
        var kept: [Row] = []
        var decisions: [AccessDecision] = []
        var cursor = start
        var examined = 0
        while kept.count < count {
            guard examined < maxExamined else { return ConsentPage(rows: kept, next: cursor, total: nil, decisions: decisions) }
            let (rows, next) = try await fetch(cursor, min(count - kept.count, maxExamined - examined))
            for row in rows {
                let decision = try await decide(try resource(row))
                decisions.append(decision)
                if decision.allows { kept.append(row) }
            }
            // An engine answering no rows but a cursor still moves the bound on.
            examined += max(1, rows.count)
            guard let next else { return ConsentPage(rows: kept, next: nil, total: start == nil ? kept.count : nil, decisions: decisions) }
            cursor = next
        }
        // Full: is a permitted row left? (The rows looked at here are decided again on the next page.) Asked for one
        // row first, then four times as many each round up to a page: the row after a page is usually permitted, and
        // each row fetched is read and decided, so fetching a page's worth to find one was most of a search's work.
        var ahead = cursor
        var lookAhead = 1
        while examined < maxExamined {
            let (rows, next) = try await fetch(ahead, min(lookAhead, count, maxExamined - examined))
            examined += max(1, rows.count)
            lookAhead = min(lookAhead * 4, count)
            for row in rows where try await decide(try resource(row)).allows {
                return ConsentPage(rows: kept, next: cursor, total: nil, decisions: decisions)
            }
            guard let next else { return ConsentPage(rows: kept, next: nil, total: start == nil ? kept.count : nil, decisions: decisions) }
            ahead = next
        }
        return ConsentPage(rows: kept, next: cursor, total: nil, decisions: decisions)
    }
}
