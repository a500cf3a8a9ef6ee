import FHIRCore
import Ingest
import RecordStore

extension RecordService {
    /// FHIR patch with a JSON Patch document (RFC 6902) on the current version of `type/id`; the result is
    /// validated and stored as an update (through the import pipeline), in a transaction that checks the version
    /// patched is still current: `ifMatch` given and stale is ``ServiceError/Code/preconditionFailed``, a
    /// concurrent write without it ``ServiceError/Code/conflict``. A malformed document is
    /// ``ServiceError/Code/invalidRequest``; an operation that cannot apply (a failed `test`, a missing path) is
    /// ``ServiceError/Code/unprocessable``, as the FHIR http page says, and nothing is written.
    public func patch(type: String, id: String, jsonPatch: [UInt8], ifMatch: Int? = nil) async throws(ServiceError) -> WriteOutcome {
        let current = try await read(type: type, id: id)
        if let ifMatch, ifMatch != current.version {
            throw ServiceError(.preconditionFailed, "\(type)/\(id) is at version \(current.version); If-Match named version \(ifMatch)")
        }
        let patched: FHIRValue
        do {
            let patch = try JSONPatch(jsonPatch)
            let document = try JSONReader().readValue(current.canonical)
            patched = try patch.apply(to: document)
        } catch let failure as JSONPatch.Failure {
            switch failure {
            case .malformed(let why): throw ServiceError(.invalidRequest, why)
            case .unprocessable(let why, let n):
                throw ServiceError(.unprocessable, why, issues: [OperationOutcome.Issue(code: "processing", diagnostics: why, location: ["/\(n)"])])
            }
        } catch {
            throw ServiceError(.internal, "\(type)/\(id) version \(current.version) is stored but does not read back: \(error)")
        }
        var resource: Resource
        do {
            resource = try Resource(patched)
        } catch {
            throw ServiceError(.unprocessable, "the patched document is not a resource: \(error.description)")
        }
        guard resource.resourceType == type, resource.id == id else {
            throw ServiceError(.unprocessable, "a patch must not change the resource's type or id")
        }
        // The store's meta fields are the new version's, not the patched one's.
        if var meta = resource.object["meta"]?.objectValue {
            meta["versionId"] = nil
            meta["lastUpdated"] = nil
            resource.object["meta"] = meta.isEmpty ? nil : .object(meta)
        }
        do {
            return try await write(WriteMember(resource: resource), expectedVersion: current.version)
        } catch let error where error.code == .preconditionFailed && ifMatch == nil {
            throw ServiceError(.conflict, "\(type)/\(id) changed while it was patched: \(error.reason)")
        }
    }
}
