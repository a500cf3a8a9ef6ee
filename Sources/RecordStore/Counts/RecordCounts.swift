/// The resources of one type in the store: current ones, and deleted ones (whose last version is a delete,
/// ``Tombstone``), counted apart (`careledger store stats`).
public struct RecordCount: Sendable, Hashable {
    public var type: String
    /// Resources whose current version has content: what a read or a search can return.
    public var current: Int
    /// Resources whose current version is a delete: a read is 410 Gone, their history is kept.
    public var deleted: Int

    public init(type: String, current: Int, deleted: Int) {
        self.type = type
        self.current = current
        self.deleted = deleted
    }
}

/// Counting what a store holds, by type, with deleted resources apart from current ones.
public protocol RecordCounting: Sendable {
    /// One row per type with any resource, current or deleted, sorted by type.
    func recordCounts() async throws -> [RecordCount]
}
