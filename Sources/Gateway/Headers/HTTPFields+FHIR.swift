public import Hummingbird

extension HTTPFields {
    /// The first value of the field `name` (lowercase), for the FHIR headers HTTPTypes has no name for
    /// (`If-None-Exist`, `Prefer`, `X-Purpose-Of-Use`).
    public func first(named name: String) -> String? {
        first { $0.name.canonicalName == name }?.value
    }

    /// `If-None-Exist`: a conditional create's search criteria.
    public var ifNoneExist: String? { first(named: "if-none-exist") }
}
