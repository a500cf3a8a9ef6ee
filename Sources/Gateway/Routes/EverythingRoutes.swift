import FHIRCore
public import Hummingbird
import RecordStore
import Services

/// `GET /Patient/{id}/$everything` (patient-operation-everything): the patient and every resource in its
/// compartment, as `searchset` Bundles of `_count` resources (50 unless asked; at most 1,000) whose `next` link
/// carries a sealed keyset cursor (``EverythingCursor`` under ``CursorSeal``), so paging is stable while others
/// write. `_type` (repeatable, comma-separated) keeps only those types; `_since` only resources last updated at or
/// after that instant. `start` and `end` (care dates) are not supported: ignored, or a 400 under
/// `Prefer: handling=strict`, as any other unknown parameter. `total` is given when the whole answer is one page.
///
/// For a partner: 403 when the patient's consent refuses the Patient itself; otherwise each page holds only what
/// the consent permits (filled past withheld resources, as a partner's search page is:
/// ``ConsentSession/fillPage(count:from:maxExamined:resource:fetch:)``), `total` counting only that, the consent
/// notice entry of every partner search (``ConsentNotice``), and no AuditEvent (``LocalOnlyRecords``). Each page is
/// audited before it leaves.
public struct EverythingRoutes: GatewayRoutes {
    /// The parameters the operation reads; `_format` and `_pretty` are the representation's.
    static let parameters: Set<String> = ["_count", "_since", "_type", "_cursor", "_format", "_pretty"]

    public init() {}

    public func add(to router: Router<GatewayRequestContext>, dependencies: GatewayDependencies) {
        let everything = PatientEverything(store: dependencies.store)
        // Registered under `:type`, not a literal `Patient`: Hummingbird's trie prefers a literal segment and does
        // not come back from it, so a literal `/Patient/...` route would hide every other `/Patient/...` route.
        router.get("/:type/:id/$everything") { request, context -> Response in
            let negotiation = try FHIRNegotiation(request)
            guard context.parameters.get("type") == "Patient" else {
                throw ServiceError(.notFound, "$everything is defined on Patient only")
            }
            let id = context.parameters.get("id") ?? ""
            guard RoutePath.isFHIRId(id) else {
                throw ServiceError(.invalidRequest, "'\(id.prefix(80))' is not a FHIR id")
            }
            try context.requireScope(.read, type: "Patient")
            try context.requireScope(.search, type: "*")
            let partner = try await PartnerReads(request, context: context, dependencies: dependencies)
            let asked = try Self.request(request, patientId: id, partner: partner.isPartner, seal: dependencies.cursorSeal)
            let query = "Patient/\(id)/$everything"
            let page: (resources: [StoredResource], next: EverythingCursor?, total: Int?)
            if let session = partner.session {
                // A refused patient is 403 before its compartment is even listed.
                try await partner.authorizePatient(try await dependencies.records.read(type: "Patient", id: id), query: query)
                let filled = try await session.fillPage(count: asked.count, from: asked.cursor, resource: ConsentSession.resource) { cursor, limit in
                    let found = try await everything.page(asked.request, after: cursor, count: limit)
                    return (found.resources, found.next)
                }
                try await dependencies.recordAudited(AuditedAccess(.operation, session: session, decisions: filled.decisions,
                                                                   resources: filled.rows.map(\.location),
                                                                   query: request.uri.query.map { query + "?" + $0 } ?? query, outcome: .success))
                page = (filled.rows, filled.next, filled.total)
            } else {
                let found = try await everything.page(asked.request, after: asked.cursor, count: asked.count)
                // `_count=0` asks for no entries; counting them all is not offered (so no total either).
                let whole = asked.cursor == nil && found.next == nil && asked.count > 0
                page = (found.resources, found.next, whole ? found.resources.count : nil)
            }
            let base = dependencies.baseURL(for: request)
            var links: [(String, String)] = [("self", base + request.uri.description)]
            if let next = page.next {
                var parameters: [(String, String)] = [("_count", String(asked.count))]
                if let since = asked.request.sinceText { parameters.append(("_since", since)) }
                if let types = asked.given { parameters.append(("_type", types)) }
                parameters.append(("_cursor", try dependencies.cursorSeal.seal(next.description)))
                links.append(("next", base + request.uri.path + "?" + QueryString.encode(parameters)))
            }
            var bundle = FHIRValue.object(try Self.searchset(page.resources, total: page.total, links: links, baseURL: base).object)
            if partner.isPartner { bundle = ConsentNotice.addingNotice(to: bundle) }
            let resource: FHIRCore.Resource
            do {
                resource = try FHIRCore.Resource(bundle)
            } catch {
                throw ServiceError(.internal, "the $everything Bundle could not be built: \(error)")
            }
            return try FHIRRepresentation.response(resource: resource, negotiation: negotiation)
        }
    }

    /// The operation's parameters: what is asked, the page size, where the page starts, and `_type` as given (for
    /// the next link). A partner is never given AuditEvents (``LocalOnlyRecords``), so they are not even listed.
    static func request(_ request: Request, patientId: String, partner: Bool, seal: CursorSeal) throws(ServiceError)
        -> (request: EverythingRequest, count: Int, cursor: EverythingCursor?, given: String?)
    {
        let query = request.uri.queryParameters
        if SearchRequest.Handling(prefer: request.headers.first(named: "prefer")) == .strict {
            for (name, _) in query where !parameters.contains(String(name)) {
                throw ServiceError(.invalidRequest, "$everything does not support the parameter \(name.prefix(64))")
            }
        }
        var count = SearchRequest.defaultCount
        if let text = query["_count"] { count = min(try SearchRequest.pageSize(text), SearchRequest.maxCount) }
        let types = query.getAll("_type")
        var asked = try EverythingRequest(patientId: patientId, types: types, since: query["_since"].map(String.init))
        if partner {
            let every = asked.types ?? Set(PatientCompartment.types)
            asked.types = every.subtracting(LocalOnlyRecords.types)
        }
        let cursor = try query["_cursor"].map { sealed throws(ServiceError) -> EverythingCursor in
            let opened = try seal.open(String(sealed))
            guard let cursor = EverythingCursor(opened) else { throw ServiceError(.invalidRequest, "_cursor is not a $everything cursor") }
            return cursor
        }
        return (asked, count, cursor, types.isEmpty ? nil : types.joined(separator: ","))
    }

    /// A `searchset` Bundle of whole resources, each a match, with its links and, when known, its total.
    static func searchset(_ resources: [StoredResource], total: Int?, links: [(String, String)], baseURL: String) throws(ServiceError) -> Resource {
        var entries: [FHIRValue] = []
        for resource in resources {
            let value: FHIRValue
            do {
                value = try JSONReader().readValue(resource.canonical)
            } catch {
                throw ServiceError(.internal, "\(resource.location) could not be read back: \(error.reason)")
            }
            entries.append(.object(FHIRObject([
                "fullUrl": .string("\(baseURL)/\(resource.type)/\(resource.id)"),
                "resource": value,
                "search": .object(FHIRObject(["mode": .string("match")])),
            ])))
        }
        var root = FHIRObject(["resourceType": .string("Bundle"), "type": .string("searchset")])
        if let total { root["total"] = .number(FHIRNumber(total)) }
        root["link"] = .array(links.map { .object(FHIRObject(["relation": .string($0.0), "url": .string($0.1)])) })
        if !entries.isEmpty { root["entry"] = .array(entries) }
        do {
            return try Resource(root)
        } catch {
            throw ServiceError(.internal, error.description)
        }
    }
}
