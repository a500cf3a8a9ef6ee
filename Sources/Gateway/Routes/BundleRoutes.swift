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
}
