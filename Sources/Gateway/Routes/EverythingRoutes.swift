import FHIRCore
public import Hummingbird
import RecordStore
import Services

/// `GET /Patient/{id}/$everything` (patient-operation-everything), or `POST` with a `Parameters` body
/// (``OperationParameters``; operations.html): the patient, every resource in its compartment (`search.mode =
/// match`), then the resources those reference that are in no patient compartment (`include`: Organization,
/// Practitioner, Location, Medication…; ``PatientEverything``), as `searchset` Bundles of `_count` resources (50
/// unless asked; at most 1,000) whose `next` link carries a sealed keyset cursor (``EverythingCursor`` under
/// ``CursorSeal``), so paging is stable while others write. `_type` (repeatable, comma-separated) keeps only those
/// types, referenced ones too; `_since` only resources last updated at or after that instant. `start` and `end` (care dates) are not supported: ignored, or a 400 under
/// `Prefer: handling=strict`, as any other unknown parameter. `total` (the matches, not the included resources, as Bundle.total counts) is given when the
/// whole answer is one page.
///
/// `_summary` and `_elements` (http.html's general parameters) subset each resource as a search does
/// (``ResourceSubset``, tagged `SUBSETTED`); included resources are whole, as search's are. `_summary=count`, and `_count=0` as search §3.1.1.5.7 treats it, answer
/// with `total` alone: the answer is a searchset of matches, which is what a count counts. The next link carries
/// every parameter that shapes a page (`_count`, `_since`, `_type`, `_summary`, `_elements`, `_format`, `_pretty`).
///
/// For a partner: 403 when the patient's consent refuses the Patient itself, and 403 (audited, as a search of them
/// is) when `_type` names a local-only type (``LocalOnlyRecords``: AuditEvent); otherwise each page holds only what
/// the consent permits (filled past withheld resources, as a partner's search page is:
/// ``ConsentSession/fillPage(count:from:maxExamined:resource:fetch:)``), `total` counting only that, the consent
/// notice entry of every partner search (``ConsentNotice``), and no AuditEvent. Referenced resources need no consent
/// (they are in no patient's compartment) and are returned, but only those that a resource the consent permits
/// references: as with a partner's `_include`, nothing a withheld resource references can show. Each page is audited before it
/// leaves.
public struct EverythingRoutes: GatewayRoutes {
    /// The parameters the operation reads; `_format`, `_pretty`, `_summary` and `_elements` are the representation's.
    static let parameters: Set<String> = ["_count", "_since", "_type", "_cursor", "_format", "_pretty", "_summary", "_elements"]
    /// The most resources a partner's count decides (the bound of a partner's search page and count).
    static let partnerCountBound = 2000
    /// The parameters a next link repeats as given (besides `_count`, `_since`, `_type` and the new `_cursor`).
    static let representationParameters = ["_summary", "_elements", "_format", "_pretty"]

    public init() {}

    public func add(to router: Router<GatewayRequestContext>, dependencies: GatewayDependencies) {
        let everything = PatientEverything(store: dependencies.store)
        // Registered under `:type`, not a literal `Patient`: Hummingbird's trie prefers a literal segment and does
        // not come back from it, so a literal `/Patient/...` route would hide every other `/Patient/...` route.
        router.get("/:type/:id/$everything") { request, context -> Response in
            let parameters = request.uri.queryParameters.map { (name: String($0.key), value: String($0.value)) }
            return try await Self.everything(request, context, parameters: parameters, everything: everything, dependencies: dependencies)
        }
        // operations.html: every operation may be invoked by POST with a Parameters body (HAPI's client does so by
        // default); its parameters join those of the URL, and the next links are the GET form.
        router.post("/:type/:id/$everything") { request, context -> Response in
            var request = request
            let body = try await Self.bodyParameters(&request, dependencies: dependencies)
            let parameters = request.uri.queryParameters.map { (name: String($0.key), value: String($0.value)) } + body
            return try await Self.everything(request, context, parameters: parameters, everything: everything, dependencies: dependencies)
        }
    }

    /// The largest Parameters body of a POST `$everything`.
    static let maximumBodyBytes = 64 * 1024

    /// One page of the answer to `parameters` (the URL's, and a POST's body's).
    static func everything(_ request: Request, _ context: GatewayRequestContext, parameters: [(name: String, value: String)],
                           everything: PatientEverything, dependencies: GatewayDependencies) async throws -> Response {
        let negotiation = try FHIRNegotiation(request)
        guard context.parameters.get("type") == "Patient" else {
            throw ServiceError(.notFound, "$everything is defined on Patient only")
        }
        let id = context.parameters.get("id") ?? ""
        guard RoutePath.isFHIRId(id) else {
            throw ServiceError(.invalidRequest, "'\(id.prefix(80))' is not a FHIR id")
        }
        // The query as given: a POST's body parameters too, in their GET form (for the AuditEvents, also of a refusal
        // below, and the self link).
        let query = request.method == .get ? request.uri.query.map { String($0) } : QueryString.encode(parameters.map { ($0.name, $0.value) })
        if request.method != .get { context.scopeRefusal?.asked(query: query) }
        try context.requireScope(.read, type: "Patient")
        try context.requireScope(.search, type: "*")
        // Before the consent session: naming AuditEvent is refused as a search of AuditEvents is, whatever the
        // patient's consent (and even on a gateway without one).
        let asked = try Self.request(parameters, prefer: request.headers.first(named: "prefer"), patientId: id, context: context,
                                     seal: dependencies.cursorSeal)
        let partner = try await PartnerReads(request, context: context, dependencies: dependencies)
        let page = try await Self.page(asked, partner: partner, everything: everything, query: query, dependencies: dependencies)
        let base = dependencies.baseURL(for: request)
        let path = base + request.uri.path
        let this = path + (query.map { $0.isEmpty ? "" : "?" + $0 } ?? "")
        var links: [(relation: String, url: String)] = [("self", this)]
        if let next = page.next {
            let parameters = asked.linkParameters + [("_cursor", try dependencies.cursorSeal.seal(next.description))]
            links.append(("next", path + "?" + QueryString.encode(parameters)))
        }
        var bundle = SearchBundle(matches: [], total: page.total, links: links, subset: asked.subset, fullURLBase: base)
        bundle.entries = page.resources.map { .stored($0, mode: PatientEverything.Page.isIncluded($0) ? "include" : "match") }
        if partner.isPartner { bundle.entries.append(.object(ConsentNotice.searchEntry)) }
        return try bundle.response(negotiation: negotiation)
    }

    /// A POST's Parameters body as name/value pairs (``OperationParameters``); none for an empty body. 415 for a body
    /// that is not FHIR JSON or XML, 413 beyond ``maximumBodyBytes``.
    static func bodyParameters(_ request: inout Request, dependencies: GatewayDependencies) async throws -> [(name: String, value: String)] {
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: maximumBodyBytes)
        } catch {
            throw ServiceError(.tooLarge, "a $everything Parameters body is at most \(maximumBodyBytes) bytes")
        }
        guard buffer.readableBytes > 0 else { return [] }
        if let contentType = request.headers[.contentType], FHIRNegotiation.format(ofMediaType: contentType) == nil {
            throw ServiceError(.unsupportedMediaType, "Content-Type \(contentType.prefix(100)) is not FHIR JSON or XML (application/fhir+json, application/fhir+xml)")
        }
        let resource = try dependencies.records.resource(fromBody: Array(buffer.readableBytesView))
        return try OperationParameters.primitives(of: resource)
    }

    /// What one `$everything` request asks.
    struct Asked {
        var request: EverythingRequest
        /// The page size (0 with `_summary=count`).
        var count: Int
        var cursor: EverythingCursor?
        /// `_summary=count` or `_count=0`: the total alone.
        var countOnly: Bool
        /// What of each resource to return (`_summary`, `_elements`).
        var subset: ResourceSubset?
        /// The parameters the next link carries before its cursor.
        var linkParameters: [(String, String)]
    }

    /// The operation's parameters. A partner naming a local-only type in `_type` is refused (403, noted for the
    /// audit trail by ``GatewayRequestContext/require(_:type:)``); without `_type` a partner is never given
    /// AuditEvents, so they are not even listed (its types are every R4 type but those, so that referenced
    /// resources outside the compartment are still returned).
    static func request(_ given: [(name: String, value: String)], prefer: String?, patientId: String, context: GatewayRequestContext,
                        seal: CursorSeal) throws(ServiceError) -> Asked {
        func first(_ name: String) -> String? { given.first { $0.name == name }?.value }
        if SearchRequest.Handling(prefer: prefer) == .strict {
            for (name, _) in given where !parameters.contains(name) {
                throw ServiceError(.invalidRequest, "$everything does not support the parameter \(name.prefix(64))")
            }
        }
        var count = SearchRequest.defaultCount
        if let text = first("_count") { count = min(try SearchRequest.pageSize(text), SearchRequest.maxCount) }
        let summary = try first("_summary").map { value throws(ServiceError) in try ResourceSubset.Summary(parameter: value) }
        let types = given.filter { $0.name == "_type" }.map(\.value)
        var asked = try EverythingRequest(patientId: patientId, types: types, since: first("_since"))
        if context.principal?.kind == .partner {
            for type in (asked.types ?? []).intersection(LocalOnlyRecords.types).sorted() {
                try context.require(.search, type: type)
            }
            asked.types = (asked.types ?? Set(TypeTable.r4.resourceTypeNames)).subtracting(LocalOnlyRecords.types)
        }
        let cursor = try first("_cursor").map { sealed throws(ServiceError) -> EverythingCursor in
            let opened = try seal.open(sealed)
            guard let cursor = EverythingCursor(opened) else { throw ServiceError(.invalidRequest, "_cursor is not a $everything cursor") }
            return cursor
        }
        var link: [(String, String)] = [("_count", String(count))]
        if let since = asked.sinceText { link.append(("_since", since)) }
        if !types.isEmpty { link.append(("_type", types.joined(separator: ","))) }
        for name in representationParameters {
            if let value = first(name) { link.append((name, value)) }
        }
        let countOnly = summary == .count || count == 0
        return Asked(request: asked, count: countOnly ? 0 : count, cursor: cursor, countOnly: countOnly,
                     subset: ResourceSubset.asked(summary: summary, elements: first("_elements")), linkParameters: link)
    }

    /// One page of the answer (or, for a count, no resources and the total), consent-filtered and audited for a
    /// partner.
    static func page(_ asked: Asked, partner: PartnerReads, everything: PatientEverything, query given: String?,
                     dependencies: GatewayDependencies) async throws -> (resources: [StoredResource], next: EverythingCursor?, total: Int?) {
        // Bundle.total counts the matches, not the included (referenced) resources.
        func matches(_ resources: [StoredResource]) -> Int { resources.filter { !PatientEverything.Page.isIncluded($0) }.count }
        guard let session = partner.session else {
            if asked.countOnly { return ([], nil, try await everything.count(asked.request)) }
            let found = try await everything.page(asked.request, after: asked.cursor, count: asked.count)
            let whole = asked.cursor == nil && found.next == nil
            return (found.resources, found.next, whole ? matches(found.resources) : nil)
        }
        let query = "Patient/\(asked.request.patientId)/$everything"
        // A refused patient is 403 before its compartment is even listed.
        try await partner.authorizePatient(try await dependencies.records.read(type: "Patient", id: asked.request.patientId), query: query)
        // A count is of the permitted resources, within the bound a partner's search counts in: a total only when at
        // most that many resources hold them all (as `_summary=count` of a partner's search).
        // References are followed only from what the consent permits. A count counts matches: it gathers none.
        var request = asked.request
        if asked.countOnly { request.referencedResources = false }
        let gate: PatientEverything.ReferenceGate = { stored in try await session.decide(ConsentSession.resource(stored)).allows }
        let fetch: (EverythingCursor?, Int) async throws -> (rows: [StoredResource], next: EverythingCursor?) = { [request] cursor, limit in
            let found = try await everything.page(request, after: cursor, count: limit, following: gate)
            return (found.resources, found.next)
        }
        let filled = asked.countOnly
            ? try await session.fillPage(count: partnerCountBound, from: nil, maxExamined: partnerCountBound, resource: ConsentSession.resource, fetch: fetch)
            : try await session.fillPage(count: asked.count, from: asked.cursor, resource: ConsentSession.resource, fetch: fetch)
        let returned = asked.countOnly ? [] : filled.rows
        try await dependencies.recordAudited(AuditedAccess(.operation, session: session, decisions: filled.decisions,
                                                           resources: returned.map(\.location),
                                                           query: given.map { query + "?" + $0 } ?? query, outcome: .success))
        if asked.countOnly { return ([], nil, filled.total) }
        return (filled.rows, filled.next, filled.total.map { _ in matches(filled.rows) })
    }
}
