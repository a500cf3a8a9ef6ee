public import FHIRCore

/// The `in` parameters of an operation invoked by POST with a `Parameters` resource (FHIR R4 operations.html:
/// every operation may be invoked so; GET only when it changes nothing and its parameters are primitives), as the
/// name/value pairs its GET form would carry in the URL, so that both forms are read by one parser.
public enum OperationParameters {
    /// At most this many parameters in one body (as a search takes at most ``SearchRequest/maxParameters``).
    public static let maxParameters = SearchRequest.maxParameters

    /// Each `parameter` of `resource` as (name, value): a primitive `value[x]` as its JSON lexeme (`valueInteger`
    /// 20 → "20", `valueInstant`, `valueCode`, `valueString`, …). 400 when `resource` is not a Parameters, or a
    /// parameter has no name, no primitive value, or parts (an operation whose parameters are primitives has none).
    public static func primitives(of resource: Resource) throws(ServiceError) -> [(name: String, value: String)] {
        guard resource.resourceType == "Parameters" else {
            throw ServiceError(.invalidRequest, "an operation's body is a Parameters resource, not a \(resource.resourceType.prefix(64))")
        }
        let parameters = resource.object["parameter"]?.arrayValue ?? []
        guard parameters.count <= maxParameters else {
            throw ServiceError(.invalidRequest, "an operation takes at most \(maxParameters) parameters; this one has \(parameters.count)")
        }
        var out: [(name: String, value: String)] = []
        for (index, parameter) in parameters.enumerated() {
            guard let object = parameter.objectValue, let name = object["name"]?.stringValue, !name.isEmpty else {
                throw ServiceError(.invalidRequest, "Parameters.parameter[\(index)] has no name")
            }
            let values = object.members.filter { $0.name.hasPrefix("value") }
            guard object["part"] == nil, object["resource"] == nil, values.count == 1, let value = lexeme(values[0].value) else {
                throw ServiceError(.invalidRequest, "Parameters.parameter[\(index)] (\(name.prefix(64))) must carry one primitive value[x]")
            }
            out.append((name, value))
        }
        return out
    }

    /// A primitive's value as text; nil for anything else.
    static func lexeme(_ value: FHIRValue) -> String? {
        switch value {
        case .string(let text): text
        case .number(let number): number.lexeme
        case .bool(let flag): flag ? "true" : "false"
        default: nil
        }
    }
}
