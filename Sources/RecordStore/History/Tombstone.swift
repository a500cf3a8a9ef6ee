public import FHIRCore

/// The version a logical delete writes (docs/store.md, "Deletes"): the resource's type and id with the store's
/// `meta`, so it has a canonical form, a commitment and a place in the anchoring queue like every version. Its
/// content hash is a fixed marker no content can have (content hashes are of JSON objects), which is how a
/// stored version is known to be a delete, and which makes a second delete a no-op.
public enum Tombstone {
    /// SHA-256 of `careledger/tombstone/v1`.
    public static let contentHash: [UInt8] = CanonicalForm.sha256(Array("careledger/tombstone/v1".utf8))
}

extension PreparedRecord {
    /// The delete of `key`, in the patient compartment `patientKey` of the version it follows (so it is stored
    /// beside it); it has no search-index rows, so the deleted resource stops matching searches.
    public static func tombstone(for key: RecordKey, patientKey: String? = nil) throws(FHIRError) -> PreparedRecord {
        let resource = try Resource(FHIRObject(["resourceType": .string(key.type), "id": .string(key.id)]))
        var record = try PreparedRecord(resource: resource)
        record.contentHash = Tombstone.contentHash
        record.index = []
        record.patientKey = patientKey ?? key.description
        return record
    }
}

extension StoredVersion {
    /// Whether this version is a delete.
    public var isDeleted: Bool { contentHash == Tombstone.contentHash }

    /// The patient compartment of this version's content (`Patient/…`), or its own `Type/id`.
    public var patientKey: String {
        guard let tape = try? JSONReader().readTape(canonical) else { return key.description }
        return SearchIndex.patientCompartment(of: tape) ?? key.description
    }
}
