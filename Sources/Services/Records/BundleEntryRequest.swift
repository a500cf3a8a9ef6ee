import FHIRCore

/// One entry of a transaction or batch Bundle as a request: method, URL (type, id or conditional criteria),
/// `fullUrl`, resource and the conditional headers of `entry.request`.
struct BundleEntryRequest: Sendable {
    var index: Int
    var method: String
    var type: String
    var id: String?
    /// The URL's query (`identifier=…`), for a conditional update.
    var criteria: String?
    var fullUrl: String?
    var resource: Resource?
    var ifMatch: Int?
    var ifNoneExist: String?

    /// The JSON pointer of the entry's resource.
    var pointer: String { "/entry/\(index)/resource" }

    init(_ value: FHIRValue, index: Int) throws(ServiceError) {
        self.index = index
        let at = "/entry/\(index)"
        guard let entry = value.objectValue, let request = entry["request"]?.objectValue,
              let method = request["method"]?.stringValue, let url = request["url"]?.stringValue else {
            throw ServiceError(.invalidRequest, "entry \(index) has no request (method and url)",
                               issues: [OperationOutcome.Issue(code: "required", diagnostics: "entry \(index) needs request.method and request.url", location: [at])])
        }
        self.method = method
        fullUrl = entry["fullUrl"]?.stringValue
        ifNoneExist = request["ifNoneExist"]?.stringValue
        ifMatch = try request["ifMatch"]?.stringValue.map { h throws(ServiceError) in try RecordService.version(ifMatch: h) }
        if let value = entry["resource"] {
            do {
                resource = try Resource(value)
            } catch {
                throw ServiceError(.invalidRequest, "entry \(index): \(error.description)", issues: [OperationOutcome.Issue(code: "structure", diagnostics: error.description, location: [at + "/resource"])])
            }
        }
        // The URL is relative to the server's base: `Type`, `Type/id` or `Type?criteria`.
        var path = Substring(url)
        if path.hasPrefix("/") { path = path.dropFirst() }
        if let q = path.firstIndex(of: "?") {
            criteria = String(path[path.index(after: q)...])
            path = path[..<q]
        }
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard let first = parts.first, !first.isEmpty, parts.count <= 2 else {
            throw ServiceError(.invalidRequest, "entry \(index): request.url '\(url)' is not Type, Type/id or Type?criteria")
        }
        type = String(first)
        id = parts.count == 2 ? String(parts[1]) : nil
        if let resource, method == "POST" || method == "PUT", resource.resourceType != type {
            throw ServiceError(.invalidRequest, "entry \(index): the resource is a \(resource.resourceType), request.url names \(type)")
        }
    }

    /// The entry's resource, which a POST or PUT must have.
    func requireResource() throws(ServiceError) -> Resource {
        guard let resource else { throw ServiceError(.invalidRequest, "entry \(index): a \(method) needs a resource") }
        return resource
    }
}
