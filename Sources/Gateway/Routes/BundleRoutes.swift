public import Hummingbird
import FHIRCore
import Services

/// FHIR transaction and batch (http.html §3.1.0.13): `POST /` with a Bundle of type `transaction` (all or
/// nothing) or `batch` (entry by entry), answered with the `transaction-response` or `batch-response` Bundle.
/// Entries carry their resources when `Prefer: return=representation` asks.
public struct BundleRoutes: GatewayRoutes {
    public init() {}

    public func add(to router: Router<GatewayRequestContext>, dependencies: GatewayDependencies) {
        let records = dependencies.records
        router.post("/") { request, context -> Response in
            var request = request
            let negotiation = try FHIRNegotiation(request)
            let bundle = try records.resource(fromBody: try await FHIRRequestBody.resourceBytes(&request, context: context))
            try Self.requireScopes(for: bundle, context: context)
            let result = try await records.process(bundle: bundle)
            let withResources = request.headers.first(named: "prefer").map { $0.contains("return=representation") } ?? false
            let response: FHIRCore.Resource
            do {
                response = try result.bundle(resources: withResources)
            } catch {
                throw ServiceError(.internal, "the \(result.type) Bundle could not be written: \(error)")
            }
            return try FHIRRepresentation.response(resource: response, negotiation: negotiation)
        }
    }

    /// Each entry's interaction must be in the token's scopes (an entry the use case would refuse anyway is left to
    /// it). A partner's Bundle may not read (GET entries): reads are decided by consent one by one through the read
    /// and search endpoints, which audit them.
    static func requireScopes(for bundle: FHIRCore.Resource, context: GatewayRequestContext) throws(ServiceError) {
        guard let principal = context.principal else { return }
        for entry in bundle.object["entry"]?.arrayValue ?? [] {
            guard let request = entry.objectValue?["request"]?.objectValue,
                  let method = request["method"]?.stringValue, let url = request["url"]?.stringValue else { continue }
            let path = url.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let segments = path.split(separator: "/")
            let type = segments.first.map(String.init) ?? "*"
            switch method {
            case "GET":
                if principal.kind == .partner {
                    throw ServiceError(.forbidden, "a partner's Bundle cannot read (GET \(url.prefix(80))); read through the read and search endpoints")
                }
                try context.require(segments.count >= 2 ? .read : .search, type: type)
            case "POST": try context.require(.create, type: type)
            case "PUT":
                try context.require(.update, type: type)
                try context.require(.create, type: type)
            case "PATCH": try context.require(.patch, type: type)
            case "DELETE": try context.require(.delete, type: type)
            default: continue
            }
        }
    }
}
