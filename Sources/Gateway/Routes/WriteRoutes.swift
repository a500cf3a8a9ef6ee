public import Hummingbird
import RecordStore
import Services

/// The FHIR write interactions (http.html §3.1.0.4–7): create `POST /{type}` (conditional with `If-None-Exist`),
/// update `PUT /{type}/{id}` (also as create; `If-Match` → 412 on another version), conditional update
/// `PUT /{type}?criteria`, logical delete `DELETE /{type}/{id}` and JSON Patch `PATCH /{type}/{id}`.
///
/// Every write goes through the record use cases (the import pipeline: validated, stored as a version, queued for
/// anchoring); the routes only read HTTP and write HTTP.
public struct WriteRoutes: GatewayRoutes {
    public init() {}

    public func add(to router: Router<GatewayRequestContext>, dependencies: GatewayDependencies) {
        let records = dependencies.records
        router.post("/:type") { request, context -> Response in
            var request = request
            let negotiation = try FHIRNegotiation(request)
            let type = try RoutePath.type(context)
            try context.requireScope(.create, type: type)
            let resource = try records.resource(fromBody: try await FHIRRequestBody.resourceBytes(&request, context: context))
            let outcome = try await records.create(type: type, resource: resource, ifNoneExist: request.headers.ifNoneExist)
            return try RecordResponse.write(outcome, request: request, negotiation: negotiation,
                                            baseURL: dependencies.baseURL(for: request))
        }
        router.put("/:type/:id") { request, context -> Response in
            var request = request
            let negotiation = try FHIRNegotiation(request)
            let key = try RoutePath.key(context)
            // An update may create: it needs both permissions.
            try context.requireScope(.update, type: key.type)
            try context.requireScope(.create, type: key.type)
            let ifMatch = try RecordResponse.ifMatch(request)
            let resource = try records.resource(fromBody: try await FHIRRequestBody.resourceBytes(&request, context: context))
            let outcome = try await records.update(type: key.type, id: key.id, resource: resource, ifMatch: ifMatch)
            return try RecordResponse.write(outcome, request: request, negotiation: negotiation,
                                            baseURL: dependencies.baseURL(for: request))
        }
        router.put("/:type") { request, context -> Response in
            var request = request
            let negotiation = try FHIRNegotiation(request)
            let type = try RoutePath.type(context)
            // The representation parameters are the gateway's, not search criteria.
            let criteria = (request.uri.query ?? "").split(separator: "&")
                .filter { !$0.hasPrefix("_format=") && !$0.hasPrefix("_pretty=") }.joined(separator: "&")
            guard !criteria.isEmpty else {
                throw ServiceError(.invalidRequest, "PUT /\(type) is a conditional update and needs search criteria (PUT /\(type)?identifier=…)")
            }
            try context.requireScope(.update, type: type)
            try context.requireScope(.create, type: type)
            try context.requireScope(.search, type: type)
            let ifMatch = try RecordResponse.ifMatch(request)
            let resource = try records.resource(fromBody: try await FHIRRequestBody.resourceBytes(&request, context: context))
            let outcome = try await records.conditionalUpdate(type: type, criteria: criteria, resource: resource, ifMatch: ifMatch)
            return try RecordResponse.write(outcome, request: request, negotiation: negotiation,
                                            baseURL: dependencies.baseURL(for: request))
        }
        router.delete("/:type/:id") { request, context -> Response in
            let negotiation = try FHIRNegotiation(request)
            let key = try RoutePath.key(context)
            try context.requireScope(.delete, type: key.type)
            let outcome = try await records.delete(type: key.type, id: key.id, ifMatch: try RecordResponse.ifMatch(request))
            return try RecordResponse.delete(outcome, request: request, negotiation: negotiation)
        }
        router.patch("/:type/:id") { request, context -> Response in
            var request = request
            let negotiation = try FHIRNegotiation(request)
            let key = try RoutePath.key(context)
            try context.requireScope(.patch, type: key.type)
            let ifMatch = try RecordResponse.ifMatch(request)
            let patch = try await FHIRRequestBody.jsonPatchBytes(&request, context: context)
            let outcome = try await records.patch(type: key.type, id: key.id, jsonPatch: patch, ifMatch: ifMatch)
            return try RecordResponse.write(outcome, request: request, negotiation: negotiation,
                                            baseURL: dependencies.baseURL(for: request))
        }
    }
}
