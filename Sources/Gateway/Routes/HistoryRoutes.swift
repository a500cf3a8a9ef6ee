import FHIRCore
public import Hummingbird
import RecordStore
import Services

/// The FHIR history interactions (http.html §3.1.0.11): `GET /{type}/{id}/_history`, `GET /{type}/_history` and
/// `GET /_history`, with `_since` and `_count`, newest first, as a `history` Bundle whose `next` link carries the
/// store's cursor (`_cursor`), sealed (``CursorSeal``), so paging is stable while others write and the cursor names
/// no version. The next link repeats every parameter that shapes a page (`_since`, `_count`, `_summary`,
/// `_elements`, `_format`, `_pretty`).
///
/// `_summary=true|text|data|false` and `_elements` (http.html's general parameters) subset each version's resource
/// as a search subsets its matches (``ResourceSubset``, tagged `SUBSETTED`). `_summary=count` is a 400: search
/// §3.1.1.5.8 defines it for searches only ("just return a count of the matching resources"), and R4 defines
/// `Bundle.total` as the number of a search's matches, so a history has no count to answer with. `_at` and `_list`
/// are not supported: ignored, or a 400 under `Prefer: handling=strict`, as any other unknown parameter.
///
/// For a partner (issue 17, Deliver 6): one record's history is refused with 403 when the consent refuses it, as its
/// read is; a type or system history leaves withheld versions, every delete and every AuditEvent out, fills its
/// pages past them (``partnerPage(_:type:since:count:cursor:request:dependencies:)``) and ends with the consent
/// notice, in the form a history Bundle allows (``HistoryBundle/noticeEntry(url:)``).
public struct HistoryRoutes: GatewayRoutes {
    /// The parameters a history reads; `_format` and `_pretty` are the representation's.
    static let parameters: Set<String> = ["_count", "_since", "_cursor", "_summary", "_elements", "_format", "_pretty"]
    /// The parameters a next link repeats as given (besides `_since`, `_count` and the new `_cursor`).
    static let representationParameters = ["_summary", "_elements", "_format", "_pretty"]

    public init() {}

    public func add(to router: Router<GatewayRequestContext>, dependencies: GatewayDependencies) {
        router.get("/:type/:id/_history") { request, context -> Response in
            let key = try RoutePath.key(context)
            try context.requireScope(.historyInstance, type: key.type)
            return try await Self.history(request, context, type: key.type, id: key.id, dependencies: dependencies)
        }
        router.get("/:type/_history") { request, context -> Response in
            let type = try RoutePath.type(context)
            try context.requireScope(.historyType, type: type)
            return try await Self.history(request, context, type: type, id: nil, dependencies: dependencies)
        }
        router.get("/_history") { request, context -> Response in
            try context.requireScope(.historySystem, type: "*")
            return try await Self.history(request, context, type: nil, id: nil, dependencies: dependencies)
        }
    }

    /// One page of history as a Bundle.
    static func history(_ request: Request, _ context: GatewayRequestContext, type: String?, id: String?,
                        dependencies: GatewayDependencies) async throws -> Response {
        let negotiation = try FHIRNegotiation(request)
        let query = request.uri.queryParameters
        let subset = try Self.subset(request)
        let partner = try await PartnerReads(request, context: context, dependencies: dependencies)
        let count = try query["_count"].map { text throws(ServiceError) in try SearchRequest.pageSize(text) }
        let since = query["_since"].map(String.init)
        // The cursor comes back sealed (CursorSeal); the store reads only the cursor inside.
        let cursor = try query["_cursor"].map { sealed throws(ServiceError) in try dependencies.cursorSeal.open(String(sealed)) }
        let entries: [StoredResource]
        let next: String?
        if let session = partner.session, id == nil {
            (entries, next) = try await partnerPage(session, type: type, since: since, count: count, cursor: cursor, request: request,
                                                    dependencies: dependencies)
        } else {
            let result = try await dependencies.records.history(type: type, id: id, since: since, count: count, cursor: cursor)
            // One record's history is refused as a whole, like its read (nothing to do for a local client).
            entries = id == nil ? result.entries : try await partner.authorizeHistory(result.entries, query: request.uri.query)
            next = result.next
        }
        let base = dependencies.baseURL(for: request)
        var links: [(String, String)] = [("self", base + request.uri.description)]
        if let next {
            var parameters: [(String, String)] = []
            if let since { parameters.append(("_since", since)) }
            if let count { parameters.append(("_count", String(count))) }
            for name in representationParameters {
                if let value = query[Substring(name)] { parameters.append((name, String(value))) }
            }
            parameters.append(("_cursor", try dependencies.cursorSeal.seal(next)))
            links.append(("next", base + request.uri.path + "?" + QueryString.encode(parameters)))
        }
        // A partner's type or system history is filtered like a search, and says so (HistoryBundle.noticeEntry).
        let notice = partner.isPartner && id == nil ? (type.map { "\($0)/_history" } ?? "_history") : nil
        let bundle = HistoryBundle(entries: entries, links: links, baseURL: base, noticeURL: notice, subset: subset)
        return try FHIRRepresentation.response(resource: try bundle.resource(), negotiation: negotiation)
    }

    /// The parameters' checks that need no store: unknown ones under strict handling (400 naming the parameter), a
    /// `_summary` outside the code system or `count` (400); then what of each version to return.
    static func subset(_ request: Request) throws(ServiceError) -> ResourceSubset? {
        let query = request.uri.queryParameters
        if SearchRequest.Handling(prefer: request.headers.first(named: "prefer")) == .strict {
            for (name, _) in query where !parameters.contains(String(name)) {
                throw ServiceError(.invalidRequest, "history does not support the parameter \(name.prefix(64))")
            }
        }
        let summary = try query["_summary"].map { value throws(ServiceError) in try ResourceSubset.Summary(parameter: value) }
        if summary == .count {
            throw ServiceError(.invalidRequest, "_summary=count is for searches (FHIR R4 search: it counts a search's matches); "
                + "a history is not a search and has no count to give")
        }
        return ResourceSubset.asked(summary: summary, elements: query["_elements"].map(String.init))
    }
}

extension HistoryRoutes {
    /// A partner's page of a type or system history, filled as a partner's search page is
    /// (``ConsentSession/fillPage(count:from:maxExamined:resource:fetch:)``): versions the consent withholds, deletes
    /// (no content to decide on) and AuditEvents (``LocalOnlyRecords``) are passed over and the page is filled from
    /// the versions that follow, so a page is short only at the end, links on only when a permitted version follows,
    /// and its cursor is after a returned version. Audited before it leaves.
    static func partnerPage(_ session: ConsentSession, type: String?, since: String?, count: Int?, cursor: String?, request: Request,
                            dependencies: GatewayDependencies) async throws -> (entries: [StoredResource], next: String?) {
        let records = dependencies.records
        let size = min(count ?? records.defaultPageSize, records.maxPageSize)
        let filled = try await session.fillPage(count: size, from: cursor, resource: ConsentSession.resource) { after, limit in
            let page = try await records.history(type: type, since: since, count: limit, cursor: after)
            return (page.entries.filter { !$0.deleted }, page.next)
        }
        let access = AuditedAccess(type != nil ? .historyType : .historySystem, session: session, decisions: filled.decisions,
                                   resources: filled.rows.map(\.location), query: request.uri.query, outcome: .success)
        try await dependencies.recordAudited(access)
        return (filled.rows, filled.next)
    }
}

/// A `history` Bundle (FHIR R4 bundle.html, http.html §3.1.0.11): one entry per version, newest first, each with
/// its `request` (POST for a first version, PUT for a later one, DELETE for a delete) and `response`; a delete
/// carries no resource.
struct HistoryBundle {
    var entries: [StoredResource]
    var links: [(relation: String, url: String)]
    var baseURL: String
    /// The history's own URL (`Observation/_history`, `_history`) when the consent notice ends the entries (a
    /// partner's type or system history); nil for none.
    var noticeURL: String?
    /// What of each version's resource to return (`_summary`, `_elements`); nil for the whole.
    var subset: ResourceSubset?

    func resource() throws(ServiceError) -> Resource {
        var list: [FHIRValue] = []
        for version in entries {
            var entry = FHIRObject(["fullUrl": .string("\(baseURL)/\(version.type)/\(version.id)")])
            if !version.deleted {
                let value: FHIRValue
                do {
                    value = try JSONReader().readValue(version.canonical)
                } catch {
                    throw ServiceError(.internal, "\(version.location) could not be read back: \(error.reason)")
                }
                if let subset, let object = value.objectValue {
                    entry["resource"] = .object(subset.apply(to: object))
                } else {
                    entry["resource"] = value
                }
            }
            let method = version.deleted ? "DELETE" : (version.version == 1 ? "POST" : "PUT")
            let url = method == "POST" ? version.type : "\(version.type)/\(version.id)"
            entry["request"] = .object(FHIRObject(["method": .string(method), "url": .string(url)]))
            var response = FHIRObject([
                "status": .string(version.deleted ? "204 No Content" : (version.version == 1 ? "201 Created" : "200 OK")),
                "etag": .string(version.etag),
                "lastModified": .string(version.lastUpdated),
            ])
            if !version.deleted { response["location"] = .string(version.location) }
            entry["response"] = .object(response)
            list.append(.object(entry))
        }
        if let noticeURL { list.append(.object(Self.noticeEntry(url: noticeURL))) }
        var root = FHIRObject(["resourceType": .string("Bundle"), "type": .string("history")])
        root["link"] = .array(links.map { .object(FHIRObject(["relation": .string($0.relation), "url": .string($0.url)])) })
        if !list.isEmpty { root["entry"] = .array(list) }
        do {
            return try Resource(root)
        } catch {
            throw ServiceError(.internal, error.description)
        }
    }
}

extension HistoryBundle {
    /// The consent notice in a history Bundle: an entry whose `request` is the history interaction itself
    /// (`GET Observation/_history`) and whose `response.outcome` is the notice's OperationOutcome.
    ///
    /// Why this form: a search Bundle carries it as an entry with `search.mode = outcome`, but in a history Bundle
    /// every entry must have `request` and `response` (bdl-3, bdl-4) and none may have `search` (bdl-2); R4's Bundle
    /// has no Bundle-level place for an OperationOutcome (R5 adds `Bundle.issues`), and `response.outcome` is the
    /// element R4 gives OperationOutcomes inside an entry. An entry without a resource is allowed with a request
    /// (bdl-5), and clients already meet such entries in histories (deletes). The notice is on every partner type
    /// and system history page, whether or not anything was withheld, so its presence says nothing.
    static func noticeEntry(url: String) -> FHIRObject {
        FHIRObject([
            "request": .object(FHIRObject(["method": .string("GET"), "url": .string(url)])),
            "response": .object(FHIRObject([
                "status": .string("200 OK"),
                "outcome": .object(ConsentNotice.searchOutcome.resource),
            ])),
        ])
    }
}

/// Query strings of the links the gateway writes (Bundle `next`): values percent-encoded so that `+` in a `_since`
/// offset or `|` in a token stays what it was.
enum QueryString {
    static func encode(_ parameters: [(String, String)]) -> String {
        parameters.map { "\(escape($0.0))=\(escape($0.1))" }.joined(separator: "&")
    }

    static func escape(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            let c = Character(Unicode.Scalar(byte))
            if byte < 0x80, c.isLetter || c.isNumber || "-._~".contains(c) {
                out.append(c)
            } else {
                out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return out
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
