public import FHIRCore

/// What one entry of a transaction or batch Bundle did: the entry's `response` (status, `location`, `etag`,
/// `lastModified`, or an OperationOutcome in a batch), and the version it left.
public struct BundleEntryResult: Sendable {
    /// The HTTP status of the entry: 200, 201, 204, or a 4xx/5xx in a batch.
    public var status: Int
    public var resource: StoredResource?
    /// Why the entry failed (batch entries only; a failed transaction is one error).
    public var outcome: OperationOutcome?

    public init(status: Int, resource: StoredResource? = nil, outcome: OperationOutcome? = nil) {
        self.status = status
        self.resource = resource
        self.outcome = outcome
    }

    init(_ write: WriteOutcome) {
        let status = write.status == .deleted ? (write.resource == nil ? 204 : 200) : write.httpStatus
        self.init(status: status, resource: write.resource)
    }

    init(_ error: ServiceError) {
        self.init(status: error.httpStatus, outcome: error.operationOutcome)
    }

    /// `response.status`: the code and its reason phrase.
    public var statusLine: String {
        let phrases = [200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
                       404: "Not Found", 405: "Method Not Allowed", 409: "Conflict", 410: "Gone", 412: "Precondition Failed",
                       413: "Content Too Large", 422: "Unprocessable Content", 500: "Internal Server Error", 503: "Service Unavailable"]
        return phrases[status].map { "\(status) \($0)" } ?? String(status)
    }
}

/// The answer to a transaction or batch Bundle, entry by entry in request order.
public struct BundleResult: Sendable {
    /// `transaction-response` or `batch-response`.
    public var type: String
    public var entries: [BundleEntryResult]

    /// The response Bundle. With `resources`, each entry carries the version it left (`Prefer:
    /// return=representation`); deletes and failures never do.
    public func bundle(resources: Bool = false) throws(FHIRError) -> Resource {
        var list: [FHIRValue] = []
        for e in entries {
            var response = FHIRObject(["status": .string(e.statusLine)])
            if let r = e.resource, !r.deleted || e.status != 204 {
                if !r.deleted { response["location"] = .string(r.location) }
                response["etag"] = .string(r.etag)
                response["lastModified"] = .string(r.lastUpdated)
            }
            if let outcome = e.outcome { response["outcome"] = .object(outcome.resource) }
            var entry = FHIRObject()
            if resources, let r = e.resource, !r.deleted, let value = try? JSONReader().readValue(r.canonical) {
                entry["fullUrl"] = .string("\(r.type)/\(r.id)")
                entry["resource"] = value
            }
            entry["response"] = .object(response)
            list.append(.object(entry))
        }
        let object = FHIRObject(["resourceType": .string("Bundle"), "type": .string(type), "entry": .array(list)])
        return try Resource(object)
    }
}
