/// A FHIR resource: a ``FHIRObject`` whose `resourceType` member names its type.
public struct Resource: Sendable, Equatable {
    /// The whole resource, `resourceType` included, in source member order.
    public var object: FHIRObject

    /// Wraps an object; fails with ``FHIRError/Code/notAResource`` unless it has a string `resourceType`.
    public init(_ object: FHIRObject) throws(FHIRError) {
        guard case .string(let type)? = object["resourceType"], !type.isEmpty else {
            throw FHIRError(.notAResource, "the object has no resourceType, so it is not a FHIR resource", at: SourceLocation(pointer: ""))
        }
        _ = type
        self.object = object
    }

    /// Wraps a value that must be an object with a `resourceType`.
    public init(_ value: FHIRValue) throws(FHIRError) {
        guard case .object(let o) = value else {
            throw FHIRError(.notAResource, "expected a JSON object with a resourceType, found \(value.kindName)", at: SourceLocation(pointer: ""))
        }
        try self.init(o)
    }

    /// The type, e.g. `Patient`.
    public var resourceType: String {
        if case .string(let t)? = object["resourceType"] { return t }
        return ""
    }

    /// The logical id, if any.
    public var id: String? {
        get { object["id"]?.stringValue }
        set { object["id"] = newValue.map(FHIRValue.string) }
    }
}
