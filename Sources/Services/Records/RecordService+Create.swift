public import FHIRCore
import Ingest
import RecordStore

extension RecordService {
    /// Reads a request body (FHIR JSON or XML, by its first bytes) into a resource; a body that is not one is
    /// ``ServiceError/Code/invalidRequest`` with the reader's location.
    public func resource(fromBody bytes: [UInt8]) throws(ServiceError) -> Resource {
        guard bytes.count <= importer.limits.maxDocumentBytes else {
            throw ServiceError(.tooLarge, "the body is \(bytes.count) bytes; the limit is \(importer.limits.maxDocumentBytes) bytes")
        }
        do {
            return try FHIRDocument.read(bytes, limits: importer.limits).resource
        } catch {
            throw ServiceError(.invalidRequest, "the body is not a FHIR resource: \(error.description)", issues: [OperationOutcome.Issue(error: error)])
        }
    }

    /// FHIR create of `resource` as a `type`. The server assigns the id the importer assigns (from the type, the
    /// writer's source and the business identifiers), so creating what is already stored under those identifiers
    /// stores a new version of it (``WriteOutcome/Status/updated``) or nothing (``WriteOutcome/Status/unchanged``),
    /// as an import would. With `ifNoneExist` (conditional create): no match creates, one match returns it
    /// (``WriteOutcome/Status/found``), several are ``ServiceError/Code/preconditionFailed``.
    public func create(type: String, resource: Resource, ifNoneExist: String? = nil) async throws(ServiceError) -> WriteOutcome {
        try Self.requireType(resource, type)
        if let ifNoneExist {
            let criteria = try ConditionalCriteria(ifNoneExist)
            let ids = try await run("search for \(type)?\(ifNoneExist)") { try await criteria.matches(type: type, in: store) }
            if ids.count > 1 {
                throw ServiceError(.preconditionFailed, "If-None-Exist \(ifNoneExist) matches \(ids.count) \(type) resources")
            }
            if let id = ids.first {
                let existing = try await read(type: type, id: id)
                return WriteOutcome(status: .found, resource: existing)
            }
        }
        var r = resource
        r.id = try await run("assign an id") { try importer.assignedID(for: resource) }
        return try await write(WriteMember(resource: r), expectedVersion: nil)
    }

    /// Runs one resource through the pipeline and stores it, with the `If-Match` precondition `expectedVersion`.
    func write(_ member: WriteMember, expectedVersion: Int?) async throws(ServiceError) -> WriteOutcome {
        let key = RecordKey(type: member.resource.resourceType, id: member.resource.id ?? "")
        let outcomes = try await run("store \(key)") { () async throws -> [RecordOutcome] in
            var records = try await importer.prepareWrite([member])
            for i in records.indices { records[i].expectedVersion = expectedVersion }
            return try await store.commit(records, batch: nil)
        }
        guard let outcome = outcomes.first else { throw ServiceError(.internal, "storing \(key) returned no outcome") }
        return try await writeOutcome(outcome)
    }

    /// The outcome with the version it left (read back for its `lastUpdated` and bytes).
    func writeOutcome(_ outcome: RecordOutcome) async throws(ServiceError) -> WriteOutcome {
        guard let result = try await writeOutcomes([outcome]).first else {
            throw ServiceError(.internal, "storing \(outcome.key) returned no outcome")
        }
        return result
    }

    /// The outcomes with the versions they left, read back in one round trip together with the versions before
    /// updates: a new version after a delete brings the resource back, which FHIR answers as a create.
    func writeOutcomes(_ outcomes: [RecordOutcome]) async throws(ServiceError) -> [WriteOutcome] {
        var wanted: [(key: RecordKey, version: Int)] = []
        for outcome in outcomes {
            switch outcome {
            case .created(let k, let v), .unchanged(let k, let v): wanted.append((k, v))
            case .updated(let k, let v): wanted += [(k, v), (k, v - 1)]
            }
        }
        let read = try await run("read the stored versions") { try await store.versions(wanted) }
        var byVersion: [RecordKey: [Int: StoredVersion]] = [:]
        for v in read { byVersion[v.key, default: [:]][v.version] = v }
        var results: [WriteOutcome] = []
        for outcome in outcomes {
            let (status, version): (WriteOutcome.Status, Int)
            switch outcome {
            case .created(_, let v): (status, version) = (.created, v)
            case .updated(_, let v): (status, version) = (.updated, v)
            case .unchanged(_, let v): (status, version) = (.unchanged, v)
            }
            guard let stored = byVersion[outcome.key]?[version] else {
                throw ServiceError(.internal, "\(outcome.key) version \(version) was stored but cannot be read back")
            }
            let resource = StoredResource(stored)
            if resource.deleted {
                results.append(WriteOutcome(status: .deleted, resource: resource))
            } else if status == .updated, byVersion[outcome.key]?[version - 1]?.isDeleted == true {
                results.append(WriteOutcome(status: .created, resource: resource))
            } else {
                results.append(WriteOutcome(status: status, resource: resource))
            }
        }
        return results
    }

    static func requireType(_ resource: Resource, _ type: String) throws(ServiceError) {
        guard resource.resourceType == type else {
            throw ServiceError(.invalidRequest, "the body is a \(resource.resourceType), the URL names \(type)")
        }
    }
}
