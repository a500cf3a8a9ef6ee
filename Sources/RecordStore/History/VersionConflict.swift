/// A write's version precondition (``PreparedRecord/expectedVersion``) did not hold when the unit was stored:
/// nothing of the unit was written.
public struct VersionConflict: Error, Sendable, Hashable, CustomStringConvertible {
    public var key: RecordKey
    /// The version the write expected (0: none).
    public var expected: Int
    /// The version stored when the write was planned (nil: none).
    public var current: Int?

    public init(key: RecordKey, expected: Int, current: Int?) {
        self.key = key
        self.expected = expected
        self.current = current
    }

    public var description: String {
        let now = current.map { "is at version \($0)" } ?? "does not exist"
        let wanted = expected == 0 ? "not to exist" : "to be at version \(expected)"
        return "\(key) \(now); the write expected it \(wanted)"
    }

    /// The conflict inside `error`, also when a store wrapped it (PostgreSQL's transaction errors do).
    public static func find(in error: any Error) -> VersionConflict? {
        if let conflict = error as? VersionConflict { return conflict }
        return PostgresStore.versionConflict(in: error)
    }
}
