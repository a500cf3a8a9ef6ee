public import Hummingbird
import Services

/// A request body as a write reads it: the bytes, after checking that `Content-Type` names something the gateway
/// reads (415 otherwise).
public enum FHIRRequestBody {
    /// The body of a create, update or Bundle: FHIR JSON or XML. A missing `Content-Type` is accepted (the reader
    /// tells JSON from XML by the first bytes); one naming anything else is 415.
    public static func resourceBytes(_ request: inout Request, context: some RequestContext) async throws -> [UInt8] {
        if let contentType = request.headers[.contentType], FHIRNegotiation.format(ofMediaType: contentType) == nil {
            throw ServiceError(.unsupportedMediaType, "Content-Type \(contentType.prefix(100)) is not FHIR JSON or XML (application/fhir+json, application/fhir+xml)")
        }
        return try await bytes(&request, context: context)
    }

    /// The body of a PATCH: a JSON Patch document (`application/json-patch+json`), 415 for anything else (FHIRPath
    /// Patch and XML Patch are not supported).
    public static func jsonPatchBytes(_ request: inout Request, context: some RequestContext) async throws -> [UInt8] {
        let contentType = request.headers[.contentType] ?? ""
        let type = contentType.split(separator: ";", maxSplits: 1).first.map { $0.trimmingSpaces.lowercased() } ?? ""
        guard type == "application/json-patch+json" else {
            throw ServiceError(.unsupportedMediaType, "PATCH takes a JSON Patch (Content-Type: application/json-patch+json), not '\(contentType.prefix(100))'")
        }
        return try await bytes(&request, context: context)
    }

    /// The whole body, up to the context's upload limit (413 beyond it).
    static func bytes(_ request: inout Request, context: some RequestContext) async throws -> [UInt8] {
        let buffer = try await request.collectBody(upTo: context.maxUploadSize)
        guard buffer.readableBytes > 0 else { throw ServiceError(.invalidRequest, "the request has no body") }
        return Array(buffer.readableBytesView)
    }
}
