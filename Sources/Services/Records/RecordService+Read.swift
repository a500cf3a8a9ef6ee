public import RecordStore

extension RecordService {
    /// FHIR read: the current version of `type/id`. A resource never stored is ``ServiceError/Code/notFound``; a
    /// deleted one ``ServiceError/Code/gone``, naming the delete's version.
    public func read(type: String, id: String) async throws(ServiceError) -> StoredResource {
        let key = try Self.key(type, id)
        guard let current = try await currentVersion(key) else {
            throw ServiceError(.notFound, "\(key) is not stored")
        }
        if current.deleted { throw Self.gone(current) }
        return current
    }

    /// The current version of `key`, a delete's tombstone included, or nil when it was never stored (for the
    /// gateway's `410` with the delete's `ETag`, and for conditional writes).
    public func currentVersion(_ key: RecordKey) async throws(ServiceError) -> StoredResource? {
        try await run("read \(key)") { try await store.current(key).map(StoredResource.init) }
    }

    /// FHIR vread: one version of `type/id`. A version that is a delete is ``ServiceError/Code/gone``.
    public func vread(type: String, id: String, version: String) async throws(ServiceError) -> StoredResource {
        let key = try Self.key(type, id)
        guard let number = Int(version), number >= 1 else {
            throw ServiceError(.invalidRequest, "'\(version)' is not a version id of \(key) (versions are 1, 2, …)")
        }
        guard let stored = try await run("read \(key) version \(number)", { try await store.version(key, number) }) else {
            throw ServiceError(.notFound, "\(key) has no version \(number)")
        }
        let resource = StoredResource(stored)
        if resource.deleted { throw Self.gone(resource) }
        return resource
    }

    static func gone(_ tombstone: StoredResource) -> ServiceError {
        ServiceError(.gone, "\(tombstone.type)/\(tombstone.id) was deleted (version \(tombstone.version), \(tombstone.lastUpdated))")
    }
}
