/// What a write use case did, for the gateway's status, `Location`, `ETag` and body.
public struct WriteOutcome: Sendable, Hashable {
    public enum Status: String, Sendable, Hashable {
        /// A new resource (or a new life after a delete): 201.
        case created
        /// A new version of a stored resource: 200.
        case updated
        /// The content is the stored version's: nothing written, 200 with the stored version.
        case unchanged
        /// A conditional create found one stored resource: nothing written, 200 with it.
        case found
        /// A logical delete: a tombstone version, or nothing when there was nothing to delete: 200/204.
        case deleted
    }

    public var status: Status
    /// The version the resource is at after the write; nil after deleting something that was never stored.
    public var resource: StoredResource?

    public init(status: Status, resource: StoredResource?) {
        self.status = status
        self.resource = resource
    }

    /// The HTTP status FHIR answers the interaction with.
    public var httpStatus: Int { status == .created ? 201 : 200 }
    /// `Location`: the version's URL (`Patient/1/_history/2`), for creates and updates.
    public var location: String? { status == .deleted ? nil : resource?.location }
}
