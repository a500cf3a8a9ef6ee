import FHIRCore
public import Hummingbird
import RecordStore
import Services

/// The FHIR history interactions (http.html §3.1.0.11): `GET /{type}/{id}/_history`, `GET /{type}/_history` and
/// `GET /_history`, with `_since` and `_count`, newest first, as a `history` Bundle whose `next` link carries the
/// store's cursor (`_cursor`), sealed (``CursorSeal``), so paging is stable while others write and the cursor names
/// no version.
///
/// For a partner (issue 17, Deliver 6): one record's history is refused with 403 when the consent refuses it, as its
/// read is; a type or system history leaves withheld versions, every delete and every AuditEvent out and ends with
/// the consent notice, in the form a history Bundle allows (``HistoryBundle/noticeEntry(url:)``).
public struct HistoryRoutes: GatewayRoutes {
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
        let partner = try await PartnerReads(request, context: context, dependencies: dependencies)
        let query = request.uri.queryParameters
        let count = try query["_count"].map { text throws(ServiceError) -> Int in
            guard let n = Int(text), n >= 0 else { throw ServiceError(.invalidRequest, "_count=\(text.prefix(20)) is not a whole number") }
            return n
        }
        let since = query["_since"].map(String.init)
        // The cursor comes back sealed (CursorSeal); the store reads only the cursor inside.
        let cursor = try query["_cursor"].map { sealed throws(ServiceError) in try dependencies.cursorSeal.open(String(sealed)) }
        let result = try await dependencies.records.history(type: type, id: id, since: since, count: count, cursor: cursor)
        let base = dependencies.baseURL(for: request)
        var links: [(String, String)] = [("self", base + request.uri.description)]
        if let next = result.next {
            var parameters: [(String, String)] = []
            if let since { parameters.append(("_since", since)) }
            if let count { parameters.append(("_count", String(count))) }
            parameters.append(("_cursor", try dependencies.cursorSeal.seal(next)))
            links.append(("next", base + request.uri.path + "?" + QueryString.encode(parameters)))
        }
        let entries: [StoredResource]
        if id != nil {
            // One record's history is refused as a whole, like its read.
            entries = try await partner.authorizeHistory(result.entries, query: request.uri.query)
        } else {
            entries = try await partner.filter(result.entries, type != nil ? .historyType : .historySystem, query: request.uri.query)
        }
        // A partner's type or system history is filtered like a search, and says so (HistoryBundle.noticeEntry).
        let notice = partner.isPartner && id == nil ? (type.map { "\($0)/_history" } ?? "_history") : nil
        let bundle = HistoryBundle(entries: entries, links: links, baseURL: base, noticeURL: notice)
        return try FHIRRepresentation.response(resource: try bundle.resource(), negotiation: negotiation)
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

    func resource() throws(ServiceError) -> Resource {
        var list: [FHIRValue] = []
        for version in entries {
            var entry = FHIRObject(["fullUrl": .string("\(baseURL)/\(version.type)/\(version.id)")])
            if !version.deleted {
                do {
                    entry["resource"] = try JSONReader().readValue(version.canonical)
                } catch {
                    throw ServiceError(.internal, "\(version.location) could not be read back: \(error.reason)")
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
