public import Hummingbird
public import RecordStore
public import Services

/// Reads the parts of a FHIR path the router matched: the resource type (404 when R4 has no such type), the
/// logical id (400 unless it is a FHIR id: 1–64 of `A–Z a–z 0–9 - .`) and a version number.
public enum RoutePath {
    /// The resource type in `:type`.
    public static func type(_ context: some RequestContext) throws(ServiceError) -> String {
        let type = context.parameters.get("type") ?? ""
        guard FHIRPathShape.isType(type) else {
            throw ServiceError(.notFound, "'\(type.prefix(64))' is not a FHIR R4 resource type")
        }
        return type
    }

    /// The record key in `:type/:id`.
    public static func key(_ context: some RequestContext) throws(ServiceError) -> RecordKey {
        let type = try type(context)
        let id = context.parameters.get("id") ?? ""
        guard isFHIRId(id) else {
            throw ServiceError(.invalidRequest, "'\(id.prefix(80))' is not a FHIR id (1 to 64 of A-Z, a-z, 0-9, '-' and '.')")
        }
        return RecordKey(type: type, id: id)
    }

    /// The version number in `:vid`.
    public static func version(_ context: some RequestContext) throws(ServiceError) -> Int {
        let text = context.parameters.get("vid") ?? ""
        guard let version = Int(text), version > 0 else {
            throw ServiceError(.notFound, "'\(text.prefix(32))' is not a version number")
        }
        return version
    }

    /// Whether `id` matches FHIR's id type: `[A-Za-z0-9\-\.]{1,64}`.
    public static func isFHIRId(_ id: String) -> Bool {
        (1...64).contains(id.utf8.count) && id.utf8.allSatisfy { c in
            (0x30...0x39).contains(c) || (0x41...0x5A).contains(c) || (0x61...0x7A).contains(c)
                || c == UInt8(ascii: "-") || c == UInt8(ascii: ".")
        }
    }
}

extension GatewayRequestContext {
    /// The scope check of a FHIR interaction (``require(_:type:)``) when the request was authenticated. A request
    /// without a principal reached the route only because no authentication middleware is mounted in front of it
    /// (the middleware refuses unauthenticated requests on every protected path).
    func requireScope(_ interaction: AccessInteraction, type: String) throws(ServiceError) {
        if principal != nil { try require(interaction, type: type) }
    }
}
