public import FHIRCore
import Ingest
import RecordStore

extension RecordService {
    /// FHIR transaction and batch (`POST /` with a Bundle). A transaction is all or nothing: its entries (POST,
    /// PUT, DELETE, conditional ones included) go through the import pipeline together, `urn:uuid:` fullUrls become
    /// the ids given, and everything is stored in one database transaction; any failure is the whole answer. A
    /// batch runs each entry on its own, as the single-resource use cases do, and answers each entry's failure with
    /// an OperationOutcome in that entry.
    public func process(bundle: Resource) async throws(ServiceError) -> BundleResult {
        guard bundle.resourceType == "Bundle" else {
            throw ServiceError(.invalidRequest, "POST to the base needs a transaction or batch Bundle, not a \(bundle.resourceType)")
        }
        let entries = bundle.object["entry"]?.arrayValue ?? []
        switch bundle.object["type"]?.stringValue {
        case "transaction": return try await transaction(entries)
        case "batch": return await batch(entries)
        case let other:
            throw ServiceError(.invalidRequest, "POST to the base takes a transaction or batch Bundle, not \(other ?? "one without a type")")
        }
    }

    func batch(_ entries: [FHIRValue]) async -> BundleResult {
        var results: [BundleEntryResult] = []
        for (n, value) in entries.enumerated() {
            do throws(ServiceError) {
                results.append(try await batchEntry(try BundleEntryRequest(value, index: n)))
            } catch {
                results.append(BundleEntryResult(error))
            }
        }
        return BundleResult(type: "batch-response", entries: results)
    }

    private func batchEntry(_ e: BundleEntryRequest) async throws(ServiceError) -> BundleEntryResult {
        switch (e.method, e.id, e.criteria) {
        case ("GET", let id?, nil):
            return BundleEntryResult(status: 200, resource: try await read(type: e.type, id: id))
        case ("POST", nil, nil):
            return BundleEntryResult(try await create(type: e.type, resource: try e.requireResource(), ifNoneExist: e.ifNoneExist))
        case ("PUT", let id?, nil):
            return BundleEntryResult(try await update(type: e.type, id: id, resource: try e.requireResource(), ifMatch: e.ifMatch))
        case ("PUT", nil, let criteria?):
            return BundleEntryResult(try await conditionalUpdate(type: e.type, criteria: criteria, resource: try e.requireResource(), ifMatch: e.ifMatch))
        case ("DELETE", let id?, nil):
            return BundleEntryResult(try await delete(type: e.type, id: id, ifMatch: e.ifMatch))
        default:
            throw ServiceError(.invalidRequest, "entry \(e.index): \(e.method) \(e.type)\(e.id.map { "/" + $0 } ?? "")\(e.criteria.map { "?" + $0 } ?? "") is not supported in a batch")
        }
    }
}
