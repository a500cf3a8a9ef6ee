public import FHIRCore
public import Hummingbird
public import Services

/// Writes a FHIR resource as the response body the request negotiated: the stored canonical JSON straight as it is
/// when compact JSON of the whole resource is asked (the fast path: no parse, no write), otherwise read once,
/// subsetted when `_elements` or `_summary=true` asks (``ResourceSubset``), and written by FHIRCore's
/// ``JSONWriter`` or ``XMLWriter``.
public enum FHIRRepresentation {
    /// A response whose body is a stored version's canonical JSON, in the negotiated form.
    public static func response(canonical: [UInt8], status: HTTPResponse.Status = .ok, negotiation: FHIRNegotiation,
                                headers: HTTPFields = [:]) throws(ServiceError) -> Response {
        let body: [UInt8]
        if negotiation.format == .json && !negotiation.pretty && negotiation.subset == nil {
            body = canonical
        } else {
            var resource: Resource
            do {
                resource = try JSONReader().read(canonical)
                if let subset = negotiation.subset { resource = try Resource(subset.apply(to: resource.object)) }
            } catch {
                throw ServiceError(.internal, "a stored version could not be read back: \(error.reason)")
            }
            body = try bytes(of: resource, negotiation: negotiation)
        }
        return response(body: body, status: status, negotiation: negotiation, headers: headers)
    }

    /// A response whose body is a resource built in memory (a Bundle, an OperationOutcome, the CapabilityStatement).
    public static func response(resource: Resource, status: HTTPResponse.Status = .ok, negotiation: FHIRNegotiation,
                                headers: HTTPFields = [:]) throws(ServiceError) -> Response {
        response(body: try bytes(of: resource, negotiation: negotiation), status: status, negotiation: negotiation,
                 headers: headers)
    }

    /// The bytes of `resource` in the negotiated form.
    public static func bytes(of resource: Resource, negotiation: FHIRNegotiation) throws(ServiceError) -> [UInt8] {
        switch negotiation.format {
        case .json:
            return JSONWriter(style: negotiation.pretty ? .pretty : .compact).write(resource)
        case .xml:
            do {
                return try XMLWriter(pretty: negotiation.pretty).write(resource)
            } catch {
                throw ServiceError(.internal, "the \(resource.resourceType) cannot be written as XML: \(error.reason)")
            }
        }
    }

    /// The response around written bytes, with the negotiated `Content-Type`.
    public static func response(body: [UInt8], status: HTTPResponse.Status, negotiation: FHIRNegotiation,
                                headers: HTTPFields) -> Response {
        var fields = headers
        fields[.contentType] = negotiation.format.contentType
        return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }
}
