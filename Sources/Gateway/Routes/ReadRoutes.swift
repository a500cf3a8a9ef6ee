public import Hummingbird
import RecordStore
import Services

/// The FHIR read interactions (http.html §3.1.0.2–3): read `GET /{type}/{id}` and vread
/// `GET /{type}/{id}/_history/{vid}`, with `ETag`, `Last-Modified` and the conditional read headers
/// (`If-None-Match`, `If-Modified-Since` → 304). A deleted resource is 410. A partner's read is decided by the
/// patient's consent (403 when refused) and audited.
public struct ReadRoutes: GatewayRoutes {
    public init() {}

    public func add(to router: Router<GatewayRequestContext>, dependencies: GatewayDependencies) {
        let records = dependencies.records
        router.get("/:type/:id") { request, context -> Response in
            let negotiation = try FHIRNegotiation(request)
            let key = try RoutePath.key(context)
            try context.requireScope(.read, type: key.type)
            let partner = try await PartnerReads(request, context: context, dependencies: dependencies)
            let resource = try await records.read(type: key.type, id: key.id)
            try await partner.authorize(resource, .read)
            return try RecordResponse.read(resource, request: request, negotiation: negotiation)
        }
        router.get("/:type/:id/_history/:vid") { request, context -> Response in
            let negotiation = try FHIRNegotiation(request)
            let key = try RoutePath.key(context)
            try context.requireScope(.vread, type: key.type)
            let partner = try await PartnerReads(request, context: context, dependencies: dependencies)
            let resource = try await records.vread(type: key.type, id: key.id, version: context.parameters.get("vid") ?? "")
            try await partner.authorize(resource, .vread)
            return try RecordResponse.read(resource, request: request, negotiation: negotiation)
        }
    }
}
