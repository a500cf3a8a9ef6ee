public import FHIRCore
public import RecordStore

/// FHIR `Patient/{id}/$everything` (patient-operation-everything): the patient and every current resource in its
/// compartment, as the official CompartmentDefinition places resources there (``PatientCompartment``: per type,
/// the search parameters that reference the patient), read through the search index.
public struct PatientEverything: Sendable {
    public let store: any RecordStore
    /// The most resources one answer holds; a larger compartment is refused (too costly) rather than truncated
    /// silently.
    public var maxResources = 10_000

    public init(store: any RecordStore) {
        self.store = store
    }

    /// The patient first, then the compartment's resources by type and id. 404 for an unknown patient, 410 for a
    /// deleted one.
    public func everything(patientId id: String) async throws(ServiceError) -> [StoredResource] {
        let patient = try await RecordService(store: store).read(type: "Patient", id: id)
        let reference = "Patient/\(id)"
        var keys = Set<RecordKey>()
        for type in PatientCompartment.types where type != "Patient" {
            for member in PatientCompartment.members(of: type) {
                let ids: [String]
                do {
                    ids = try await store.search(type: type, param: member.param, value: reference)
                } catch {
                    throw ServiceError(.unavailable, "the record store failed to list \(type) of \(reference): \(error)")
                }
                for found in ids { keys.insert(RecordKey(type: type, id: found)) }
                guard keys.count < maxResources else {
                    throw ServiceError(.tooLarge, "\(reference) has more than \(maxResources) resources; ask by type with search instead")
                }
            }
        }
        var out = [patient]
        for key in keys.sorted() {
            let current: StoredVersion?
            do {
                current = try await store.current(key)
            } catch {
                throw ServiceError(.unavailable, "the record store failed to read \(key): \(error)")
            }
            if let current, !current.isDeleted { out.append(StoredResource(current)) }
        }
        return out
    }
}
