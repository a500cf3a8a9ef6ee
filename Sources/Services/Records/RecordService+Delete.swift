import FHIRCore
import RecordStore

extension RecordService {
    /// FHIR delete (logical): a new version of `type/id` that is a tombstone (``Tombstone``), stored, committed
    /// to and anchored like any version; history keeps every earlier version and a read is then
    /// ``ServiceError/Code/gone``. Deleting a deleted resource writes nothing; deleting one never stored writes
    /// nothing and says so (``WriteOutcome/resource`` nil). `ifMatch` is checked in the storing transaction.
    public func delete(type: String, id: String, ifMatch: Int? = nil) async throws(ServiceError) -> WriteOutcome {
        let key = try Self.key(type, id)
        guard let current = try await run("read \(key)", { try await store.current(key) }) else {
            if let ifMatch { throw ServiceError(.preconditionFailed, "\(key) is not stored; If-Match named version \(ifMatch)") }
            return WriteOutcome(status: .deleted, resource: nil)
        }
        let outcomes = try await run("delete \(key)") { () async throws -> [RecordOutcome] in
            var tombstone = try PreparedRecord.tombstone(for: key, patientKey: current.patientKey)
            tombstone.expectedVersion = ifMatch
            return try await store.commit([tombstone], batch: nil)
        }
        guard let outcome = outcomes.first else { throw ServiceError(.internal, "deleting \(key) returned no outcome") }
        var result = try await writeOutcome(outcome)
        result.status = .deleted
        return result
    }
}
