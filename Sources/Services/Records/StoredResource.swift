public import RecordStore

/// One stored version of a resource as the read use cases return it: what the gateway serves (the canonical
/// JSON with `meta.versionId` and `meta.lastUpdated`), its `ETag` and `Last-Modified`, and whether it is a delete.
public struct StoredResource: Sendable, Hashable {
    public var type: String
    public var id: String
    public var version: Int
    /// `meta.lastUpdated`: a FHIR instant in UTC with milliseconds.
    public var lastUpdated: String
    /// The served resource's canonical JSON; for a delete, the tombstone (type, id and meta only), which is what
    /// the commitment anchors.
    public var canonical: [UInt8]
    /// The version is a logical delete.
    public var deleted: Bool
    /// The store's transaction number of the version (history order).
    public var txid: Int64

    public init(_ version: StoredVersion) {
        type = version.key.type
        id = version.key.id
        self.version = version.version
        lastUpdated = version.lastUpdated
        canonical = version.canonical
        deleted = version.isDeleted
        txid = version.txid
    }

    public var key: RecordKey { RecordKey(type: type, id: id) }
    /// The weak ETag FHIR uses for versions: `W/"3"`.
    public var etag: String { "W/\"\(version)\"" }
    /// The version's relative URL: `Patient/1/_history/3`.
    public var location: String { "\(type)/\(id)/_history/\(version)" }
}
