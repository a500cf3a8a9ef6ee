import FHIRCore
import Foundation
public import Hummingbird
import RecordStore
public import Services

/// FHIR search (search.html §3.1.1.1): `GET /{type}?…` and `POST /{type}/_search` with the parameters as an
/// `application/x-www-form-urlencoded` body (and any in the URL), answered with a `searchset` Bundle whose `next`
/// link carries the store's cursor (`_cursor`), sealed (``CursorSeal``): opaque, and a 400 when altered or not this
/// node's. `Prefer: handling=strict` turns ignored parameters into a 400.
///
/// A partner's search passes the consent gate when one is given (``ConsentSession/search(_:engine:query:)``):
/// withheld resources are left out of matches and includes, the Bundle always carries the consent notice, `total`
/// counts only what is returned, and the access is audited before the answer leaves. Without a gate a partner is
/// refused, so no search is served unfiltered.
public struct SearchRoutes: GatewayRoutes {
    /// The largest `POST _search` form body.
    public static let maximumFormBytes = 64 * 1024

    let consent: ConsentGate?

    public init(consent: ConsentGate? = nil) {
        self.consent = consent
    }

    public func add(to router: Router<GatewayRequestContext>, dependencies: GatewayDependencies) {
        let consent = self.consent
        router.get("/:type") { request, context -> Response in
            let type = try RoutePath.type(context)
            let parameters = request.uri.queryParameters.map { (String($0.key), String($0.value)) }
            return try await Self.search(request, context, type: type, parameters: parameters, consent: consent, dependencies: dependencies)
        }
        router.post("/:type/_search") { request, context -> Response in
            var request = request
            let type = try RoutePath.type(context)
            let contentType = request.headers[.contentType] ?? ""
            guard contentType.lowercased().hasPrefix("application/x-www-form-urlencoded") else {
                throw ServiceError(.unsupportedMediaType, "POST _search takes an application/x-www-form-urlencoded body, not '\(contentType.prefix(80))'")
            }
            let body: ByteBuffer
            do {
                body = try await request.collectBody(upTo: Self.maximumFormBytes)
            } catch {
                throw ServiceError(.tooLarge, "a _search form body is at most \(Self.maximumFormBytes) bytes")
            }
            let parameters = request.uri.queryParameters.map { (String($0.key), String($0.value)) }
                + Self.formParameters(String(buffer: body))
            return try await Self.search(request, context, type: type, parameters: parameters, consent: consent, dependencies: dependencies)
        }
    }

    /// A partner's search reaches no local-only record (``LocalOnlyRecords``: AuditEvents) through a reference
    /// either: a chain or type modifier naming such a type is refused as a search of it is (403, audited), and a
    /// chain without a type does not look into them (`Provenance?target.outcome=4` would otherwise tell a partner
    /// which accesses were refused).
    static func keepLocalOnlyOut(_ request: inout SearchRequest, _ context: GatewayRequestContext) throws(ServiceError) {
        for i in request.query.clauses.indices {
            if let target = request.query.clauses[i].targetType, LocalOnlyRecords.contains(type: target) {
                try context.require(.search, type: target)
            }
            if request.query.clauses[i].chain != nil {
                request.query.clauses[i].targets.removeAll { LocalOnlyRecords.contains(type: $0) }
            }
        }
    }

    /// `a=1&b=x+y` as name/value pairs, `+` as a space and percent-escapes undone.
    static func formParameters(_ body: String) -> [(name: String, value: String)] {
        body.split(separator: "&").compactMap { part in
            let kv = part.split(separator: "=", maxSplits: 1).map { s -> String in
                let spaced = s.replacingOccurrences(of: "+", with: " ")
                return spaced.removingPercentEncoding ?? spaced
            }
            guard let name = kv.first, !name.isEmpty else { return nil }
            return (name, kv.count > 1 ? kv[1] : "")
        }
    }

    static func search(_ request: Request, _ context: GatewayRequestContext, type: String, parameters: [(name: String, value: String)],
                       consent: ConsentGate?, dependencies: GatewayDependencies) async throws -> Response {
        let negotiation = try FHIRNegotiation(request)
        // Scopes are checked where the authentication middleware put a principal (it refuses requests without one).
        if context.principal != nil { try context.require(.search, type: type) }
        let handling = SearchRequest.Handling(prefer: request.headers.first(named: "prefer"))
        // The cursor comes back sealed (CursorSeal): the store reads only the cursor inside.
        let sealedCursor = parameters.last { $0.name == "_cursor" }?.value
        let parameters = try parameters.map { parameter throws(ServiceError) in
            parameter.name == "_cursor" ? (parameter.name, try dependencies.cursorSeal.open(parameter.value)) : parameter
        }
        var searchRequest = try SearchRequest.parse(type: type, parameters: parameters, handling: handling)
        if context.principal?.kind == .partner { try Self.keepLocalOnlyOut(&searchRequest, context) }
        let search = RecordSearch(store: dependencies.store)
        var result: SearchResult
        var partnerSearch = false
        if let principal = context.principal, principal.kind == .partner {
            guard let consent else { throw ServiceError(.forbidden, "consent-filtered search is not available to partner clients on this gateway") }
            guard let session = try await consent.session(for: principal, purposeHeader: request.headers.first(named: "x-purpose-of-use")) else {
                throw ServiceError(.forbidden, "the partner's consent terms could not be established")
            }
            // The query as the AuditEvent names it (GET or POST _search alike).
            let query = type + "?" + searchRequest.canonicalParameters.map { "\($0.name)=\($0.value)" }.joined(separator: "&")
            let consented = try await session.search(searchRequest, engine: search, query: query)
            // Stored before the response leaves (group commit); a failure to audit is a 503, not an unaudited answer.
            try await dependencies.recordAudited(consented.access)
            result = consented.result
            partnerSearch = true
        } else {
            result = try await search.search(searchRequest)
        }
        let base = dependencies.baseURL(for: request)
        // The next link carries the store's cursor sealed, so that it names no row (a partner's page may end on a
        // withheld one) and cannot be forged.
        let next = try result.next.map { cursor throws(ServiceError) in try dependencies.cursorSeal.seal(cursor.description) }
        result.next = nil
        var bundle = SearchBundle(result, request: searchRequest, base: base + "/" + type, fullURLBase: base)
        let asked = searchRequest.canonicalParameters.map { ($0.name, $0.value) }
        if let sealedCursor {
            // The self link names this page, so a later page's is not the first page's: the cursor as it came.
            bundle.links.removeAll { $0.relation == "self" }
            bundle.links.insert(("self", base + "/" + type + "?" + QueryString.encode(asked + [("_cursor", sealedCursor)])), at: 0)
        }
        if let next {
            bundle.links.append(("next", base + "/" + type + "?" + QueryString.encode(asked + [("_cursor", next)])))
        }
        if partnerSearch { bundle.entries.append(.object(ConsentNotice.searchEntry)) }
        return try bundle.response(negotiation: negotiation)
    }
}

extension SearchBundle {
    /// The Bundle as the response the request negotiated: compact JSON splices the stored versions' bytes; XML and
    /// `_pretty` write the tree.
    func response(negotiation: FHIRNegotiation) throws(ServiceError) -> Response {
        if negotiation.format == .json && !negotiation.pretty {
            return FHIRRepresentation.response(body: try json(), status: .ok, negotiation: negotiation, headers: [:])
        }
        let tree = try value()
        let resource: Resource
        do {
            resource = try Resource(tree)
        } catch {
            throw ServiceError(.internal, "the searchset Bundle could not be built: \(error.reason)")
        }
        return try FHIRRepresentation.response(resource: resource, negotiation: negotiation)
    }
}
