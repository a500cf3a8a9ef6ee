public import FHIRCore
public import RecordStore

/// A partner's search, consent-filtered (issue 17, Deliver 6; gateway-notes.md, "Consent-filtered search"): the
/// store's keyset search run until the page is full of permitted matches or nothing permitted is left
/// (``ConsentSession/fillPage(count:from:maxExamined:resource:fetch:)``), `_include`d and `_revinclude`d resources
/// of the returned matches that pass the same decision, `total` only as ``ConsentPage`` allows, and the access to
/// audit (the patients and the query, as BALP audits a query). The Bundle made from ``result`` must carry the
/// notice (``ConsentNotice/searchEntry``).
public struct ConsentSearch: Sendable {
    /// The page to answer with.
    public var result: SearchResult
    /// The access to record in the audit trail before the answer leaves.
    public var access: AuditedAccess
}

extension ConsentSession {
    /// The consent-filtered page of `request` for this partner.
    ///
    /// - Parameter query: the request's query as written (`Observation?patient=…`), for the AuditEvent.
    public func search(_ request: SearchRequest, engine: RecordSearch, query: String?) async throws -> ConsentSearch {
        var pageRequest = request
        pageRequest.query.includes = []
        pageRequest.query.revIncludes = []
        // The store's count includes withheld matches; a partner's total is ConsentPage's.
        pageRequest.query.total = false
        var page = try await fillPage(count: request.query.count, from: request.query.cursor, resource: Self.resource) { cursor, limit in
            var chunk = pageRequest
            chunk.query.cursor = cursor
            chunk.query.count = limit
            let result = try await engine.search(chunk)
            return (result.matches, result.next)
        }
        var countDecisions: [AccessDecision] = []
        if request.query.count == 0 && request.query.total {
            // `_summary=count`: the permitted matches, counted within the bound of a page; audited with the patients
            // it decided on, as a page is.
            let counted = try await count(pageRequest, engine: engine)
            page.total = counted.total
            countDecisions = counted.decisions
        }
        let (included, includeDecisions) = try await included(request, of: page.rows, engine: engine)
        // As IHE BALP audits a query (PatientQuery): the patients (with the decision, its height and basis) and the
        // query, not one entity per resource returned. Naming every resource of a 50-match page made the AuditEvent
        // and its search-index rows most of the search's work and of each group commit's writes; a read still names
        // its resource.
        let access = AuditedAccess(request.query.type.isEmpty ? .searchSystem : .searchType, session: self,
                                   decisions: page.decisions + countDecisions + includeDecisions, resources: [], query: query,
                                   outcome: .success)
        return ConsentSearch(result: SearchResult(matches: page.rows, included: included, next: page.next, total: page.total,
                                                  warnings: request.warnings),
                             access: access)
    }

    /// The number of permitted matches when at most `maxExamined` rows hold them all (nil otherwise), and the
    /// decisions taken to count them.
    func count(_ request: SearchRequest, engine: RecordSearch, maxExamined: Int = 2000) async throws
        -> (total: Int?, decisions: [AccessDecision])
    {
        var chunk = request
        chunk.query.total = false
        chunk.query.includes = []
        chunk.query.revIncludes = []
        let all = try await fillPage(count: maxExamined, from: nil, maxExamined: maxExamined, resource: Self.resource) { cursor, limit in
            chunk.query.cursor = cursor
            chunk.query.count = limit
            let result = try await engine.search(chunk)
            return (result.matches, result.next)
        }
        return (all.total, all.decisions)
    }

    /// `_include` and `_revinclude` of the returned matches only (asked for afterwards, by their ids), each
    /// included resource decided too: nothing brought in by a withheld match can show.
    func included(_ request: SearchRequest, of matches: [StoredResource], engine: RecordSearch) async throws
        -> (kept: [StoredResource], decisions: [AccessDecision])
    {
        guard !matches.isEmpty, !(request.query.includes.isEmpty && request.query.revIncludes.isEmpty) else { return ([], []) }
        var q = request
        q.query.clauses = [SearchClause(code: "_id", type: .token, values: matches.map { SearchValue(text: $0.id) })]
        q.query.cursor = nil
        q.query.sort = []
        q.query.count = matches.count
        q.query.total = false
        var kept: [StoredResource] = []
        var decisions: [AccessDecision] = []
        for resource in try await engine.search(q).included where !resource.deleted {
            let decision = try await decide(try Self.resource(resource))
            decisions.append(decision)
            if decision.allows { kept.append(resource) }
        }
        return (kept, decisions)
    }

    /// The served resource of a stored version, as decisions read it.
    public static func resource(_ stored: StoredResource) throws -> Resource {
        do {
            return try FHIRDocument.read(stored.canonical).resource
        } catch {
            throw ServiceError(.internal, "\(stored.location) as stored cannot be read: \(error)")
        }
    }
}
