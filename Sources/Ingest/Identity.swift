public import FHIRCore

/// Ids for resources that come without one: a hash of the type, the source and the business identifiers, so
/// re-importing the same export gives the same ids and never duplicates (docs/store.md).
public enum Identity {
    /// `type` + `source` + the resource's `identifier` array (canonical JSON); without identifiers, the resource's
    /// own canonical content stands in. 32 lowercase hex digits: a valid FHIR id.
    public static func deterministicID(for resource: Resource, source: String) throws(FHIRError) -> String {
        var material: [UInt8] = Array("careledger/id/v1".utf8)
        for part in [resource.resourceType, source] {
            material.append(0)
            material += Array(part.utf8)
        }
        material.append(0)
        if let identifiers = resource.object["identifier"], identifiers.arrayValue?.isEmpty == false {
            material += Array("identifier".utf8)
            material += try CanonicalForm.bytes(of: identifiers)
        } else {
            material += Array("content".utf8)
            material += try CanonicalForm.bytes(of: resource)
        }
        return String(Hex.encode(CanonicalForm.sha256(material)).prefix(32))
    }
}
