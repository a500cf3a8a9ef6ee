import FHIRCore
public import Hummingbird
public import Services

/// The responses of the record interactions: a stored version with its `ETag`, `Last-Modified` and, after a
/// write, `Location` (`{base}/{type}/{id}/_history/{n}`), its body shaped by `Prefer: return=`.
public enum RecordResponse {
    /// A read or vread: the version, or 304 when the request's conditional headers say the client has it.
    public static func read(_ resource: StoredResource, request: Request, negotiation: FHIRNegotiation) throws(ServiceError) -> Response {
        if isNotModified(request, resource) {
            return Response(status: .notModified, headers: validators(resource))
        }
        return try FHIRRepresentation.response(canonical: resource.canonical, negotiation: negotiation,
                                               headers: validators(resource))
    }

    /// A create, update or patch: 201 or 200 by ``WriteOutcome/httpStatus``, `Location` and the validators, and the
    /// body `Prefer` asks for.
    public static func write(_ outcome: WriteOutcome, request: Request, negotiation: FHIRNegotiation,
                             baseURL: String) throws(ServiceError) -> Response {
        guard let resource = outcome.resource else {
            throw ServiceError(.internal, "the write returned no version")
        }
        var headers = validators(resource)
        headers[.location] = "\(baseURL)/\(resource.location)"
        let status = HTTPResponse.Status(code: outcome.httpStatus)
        switch ReturnPreference(request) {
        case .minimal:
            return Response(status: status, headers: headers)
        case .representation:
            return try FHIRRepresentation.response(canonical: resource.canonical, status: status,
                                                   negotiation: negotiation, headers: headers)
        case .operationOutcome:
            let outcome = OperationOutcome(issues: [OperationOutcome.Issue(
                severity: "information", code: "informational",
                diagnostics: "\(resource.type)/\(resource.id) \(outcome.status.rawValue): version \(resource.version)")])
            return try FHIRRepresentation.response(resource: try Self.resource(of: outcome), status: status,
                                                   negotiation: negotiation, headers: headers)
        }
    }

    /// A delete: 204 with the delete's `ETag`, or 200 with an OperationOutcome when `Prefer: return=OperationOutcome`.
    public static func delete(_ outcome: WriteOutcome, request: Request, negotiation: FHIRNegotiation) throws(ServiceError) -> Response {
        var headers = HTTPFields()
        if let resource = outcome.resource { headers[.eTag] = resource.etag }
        guard ReturnPreference(request) == .operationOutcome else { return Response(status: .noContent, headers: headers) }
        let what = outcome.resource.map { "\($0.type)/\($0.id) is deleted (version \($0.version))" } ?? "nothing was stored there to delete"
        let body = OperationOutcome(issues: [OperationOutcome.Issue(severity: "information", code: "informational", diagnostics: what)])
        return try FHIRRepresentation.response(resource: try Self.resource(of: body), negotiation: negotiation,
                                               headers: headers)
    }

    /// `ETag` and `Last-Modified` of a version.
    public static func validators(_ resource: StoredResource) -> HTTPFields {
        var fields = HTTPFields()
        fields[.eTag] = resource.etag
        if let modified = HTTPDate.format(instant: resource.lastUpdated) { fields[.lastModified] = modified }
        return fields
    }

    /// Whether a conditional read may be answered 304: `If-None-Match` names this version (or `*`), or, without
    /// `If-None-Match` (RFC 9110 §13.1.3), `If-Modified-Since` is at or after its `lastUpdated`.
    public static func isNotModified(_ request: Request, _ resource: StoredResource) -> Bool {
        let noneMatch = request.headers[values: .ifNoneMatch]
        if !noneMatch.isEmpty {
            let tags = noneMatch.flatMap { $0.split(separator: ",") }
            return tags.contains { $0.trimmingSpaces == "*" || ETag.version(of: $0) == resource.version }
        }
        if let since = request.headers[.ifModifiedSince].flatMap(HTTPDate.parse),
           let modified = HTTPDate.seconds(ofInstant: resource.lastUpdated) {
            return modified <= since
        }
        return false
    }

    /// The version `If-Match` names (`W/"3"`), nil without the header; 400 for a value that names no version.
    public static func ifMatch(_ request: Request) throws(ServiceError) -> Int? {
        guard let value = request.headers[.ifMatch] else { return nil }
        guard let version = ETag.version(of: value) else {
            throw ServiceError(.invalidRequest, "If-Match: \(value.prefix(64)) is not a version ETag such as W/\"3\"")
        }
        return version
    }

    /// An OperationOutcome as a resource to write.
    static func resource(of outcome: OperationOutcome) throws(ServiceError) -> Resource {
        do { return try Resource(outcome.resource) } catch { throw ServiceError(.internal, error.description) }
    }
}

/// Version entity tags: FHIR's weak `W/"n"`.
public enum ETag {
    /// The version number an entity tag names: `W/"3"`, `"3"` or a bare `3`; nil for anything else.
    public static func version(of value: some StringProtocol) -> Int? {
        var tag = Substring(value).trimmingSpaces
        if tag.hasPrefix("W/") || tag.hasPrefix("w/") { tag = tag.dropFirst(2) }
        if tag.count >= 2, tag.hasPrefix("\""), tag.hasSuffix("\"") { tag = tag.dropFirst().dropLast() }
        guard let n = Int(tag), n >= 0 else { return nil }
        return n
    }
}
