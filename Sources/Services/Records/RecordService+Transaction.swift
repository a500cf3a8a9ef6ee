import FHIRCore
import Ingest
import RecordStore

extension RecordService {
    /// A transaction Bundle, all or nothing (``process(bundle:)``).
    func transaction(_ values: [FHIRValue]) async throws(ServiceError) -> BundleResult {
        var requests: [BundleEntryRequest] = []
        for (n, value) in values.enumerated() { requests.append(try BundleEntryRequest(value, index: n)) }
        var results = [BundleEntryResult?](repeating: nil, count: requests.count)
        var members: [(entry: Int, member: WriteMember, expected: Int?)] = []
        var deletes: [(entry: Int, record: PreparedRecord)] = []
        var matched: [String: String] = [:]
        var touched: [RecordKey: Int] = [:]
        /// GET entries, read after every write as FHIR orders a transaction's processing.
        var reads: [(entry: Int, key: RecordKey)] = []
        func claim(_ key: RecordKey, _ entry: Int) throws(ServiceError) {
            if let other = touched.updateValue(entry, forKey: key) {
                throw ServiceError(.invalidRequest, "entries \(other) and \(entry) both write \(key); a transaction writes a resource once")
            }
        }
        for e in requests {
            switch (e.method, e.id, e.criteria) {
            case ("POST", nil, nil):
                var resource = try e.requireResource()
                if let condition = e.ifNoneExist {
                    let ids = try await matches(e.type, condition)
                    if ids.count > 1 { throw ServiceError(.preconditionFailed, "entry \(e.index): ifNoneExist \(condition) matches \(ids.count) resources") }
                    if let id = ids.first {
                        if let url = e.fullUrl { matched[url] = "\(e.type)/\(id)" }
                        results[e.index] = BundleEntryResult(status: 200, resource: try await read(type: e.type, id: id))
                        continue
                    }
                }
                let original = resource
                resource.id = try await run("assign an id") { try importer.assignedID(for: original) }
                members.append((e.index, WriteMember(resource: resource, fullUrl: e.fullUrl, entry: e.index, pointer: e.pointer), nil))
            case ("PUT", let id, let criteria) where (id == nil) != (criteria == nil):
                let resource = try await putResource(e)
                members.append((e.index, WriteMember(resource: resource, fullUrl: e.fullUrl, entry: e.index, pointer: e.pointer), e.ifMatch))
            case ("DELETE", let id?, nil):
                let key = try Self.key(e.type, id)
                let current = try await run("read \(key)") { try await store.current(key) }
                guard let current, !current.isDeleted else {
                    if let ifMatch = e.ifMatch, ifMatch != current?.version {
                        throw ServiceError(.preconditionFailed, "entry \(e.index): \(key) is not at version \(ifMatch)")
                    }
                    results[e.index] = BundleEntryResult(status: 204, resource: current.map(StoredResource.init))
                    continue
                }
                var tombstone = try await run("delete \(key)") { try PreparedRecord.tombstone(for: key, patientKey: current.patientKey) }
                tombstone.expectedVersion = e.ifMatch
                deletes.append((e.index, tombstone))
            case ("GET", let id?, nil):
                reads.append((e.index, try Self.key(e.type, id)))
            default:
                throw ServiceError(.invalidRequest, "entry \(e.index): \(e.method) with request.url \(e.type)\(e.id.map { "/" + $0 } ?? "") is not supported in a transaction")
            }
        }
        for m in members { try claim(RecordKey(type: m.member.resource.resourceType, id: m.member.resource.id ?? ""), m.entry) }
        for d in deletes { try claim(d.record.key, d.entry) }
        let outcomes = try await run("store the transaction") { () async throws -> [RecordOutcome] in
            var records = try await importer.prepareWrite(members.map(\.member), matched: matched)
            for i in records.indices { records[i].expectedVersion = members[i].expected }
            return try await store.commit(records + deletes.map(\.record), batch: nil)
        }
        let order = members.map(\.entry) + deletes.map(\.entry)
        guard outcomes.count == order.count else { throw ServiceError(.internal, "the transaction stored \(outcomes.count) of \(order.count) records") }
        for (entry, written) in zip(order, try await writeOutcomes(outcomes)) {
            results[entry] = BundleEntryResult(written)
        }
        // The writes are stored: a read that fails is that entry's answer, not the transaction's.
        for r in reads {
            do throws(ServiceError) {
                results[r.entry] = BundleEntryResult(status: 200, resource: try await read(type: r.key.type, id: r.key.id))
            } catch {
                results[r.entry] = BundleEntryResult(error)
            }
        }
        return BundleResult(type: "transaction-response", entries: results.map { $0 ?? BundleEntryResult(status: 500) })
    }

    /// A PUT entry's resource with the id it is stored under: the URL's (which a body id must match), or the
    /// one its criteria match, or (no match) its own or an assigned one.
    private func putResource(_ e: BundleEntryRequest) async throws(ServiceError) -> Resource {
        var resource = try e.requireResource()
        if let id = e.id {
            _ = try Self.key(e.type, id)
            if let bodyID = resource.id, bodyID != id { throw ServiceError(.invalidRequest, "entry \(e.index): the resource's id '\(bodyID)' is not the url's '\(id)'") }
            resource.id = id
        } else if let criteria = e.criteria {
            let ids = try await matches(e.type, criteria)
            if ids.count > 1 { throw ServiceError(.preconditionFailed, "entry \(e.index): \(criteria) matches \(ids.count) resources") }
            if let found = ids.first {
                if let bodyID = resource.id, bodyID != found { throw ServiceError(.invalidRequest, "entry \(e.index): the resource's id '\(bodyID)' is not the id \(criteria) matches") }
                resource.id = found
            } else if resource.id == nil {
                let original = resource
                resource.id = try await run("assign an id") { try importer.assignedID(for: original) }
            }
        }
        return resource
    }

    private func matches(_ type: String, _ criteria: String) async throws(ServiceError) -> [String] {
        let parsed = try ConditionalCriteria(criteria)
        return try await run("search for \(type)?\(criteria)") { try await parsed.matches(type: type, in: store) }
    }
}
