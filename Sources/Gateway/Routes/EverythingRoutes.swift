import FHIRCore
public import Hummingbird
import RecordStore
import Services

/// `GET /Patient/{id}/$everything`: the patient and every resource in its compartment, as a `searchset` Bundle.
/// For a partner: 403 when the patient's consent refuses the Patient itself; otherwise only what the consent permits,
/// `total` counting only that, and the same consent notice entry as every partner search (``ConsentNotice``).
public struct EverythingRoutes: GatewayRoutes {
    public init() {}

    public func add(to router: Router<GatewayRequestContext>, dependencies: GatewayDependencies) {
        let everything = PatientEverything(store: dependencies.store)
        // Registered under `:type`, not a literal `Patient`: Hummingbird's trie prefers a literal segment and does
        // not come back from it, so a literal `/Patient/...` route would hide every other `/Patient/...` route.
        router.get("/:type/:id/$everything") { request, context -> Response in
            let negotiation = try FHIRNegotiation(request)
            guard context.parameters.get("type") == "Patient" else {
                throw ServiceError(.notFound, "$everything is defined on Patient only")
            }
            let id = context.parameters.get("id") ?? ""
            guard RoutePath.isFHIRId(id) else {
                throw ServiceError(.invalidRequest, "'\(id.prefix(80))' is not a FHIR id")
            }
            try context.requireScope(.read, type: "Patient")
            try context.requireScope(.search, type: "*")
            let partner = try await PartnerReads(request, context: context, dependencies: dependencies)
            let query = "Patient/\(id)/$everything"
            if partner.isPartner {
                // A refused patient is 403 before its compartment is even listed.
                try await partner.authorizePatient(try await dependencies.records.read(type: "Patient", id: id), query: query)
            }
            let resources = try await partner.filter(try await everything.everything(patientId: id), .operation, query: query)
            let base = dependencies.baseURL(for: request)
            var bundle = FHIRValue.object(try Self.searchset(resources, baseURL: base, selfURL: base + request.uri.description).object)
            if partner.isPartner { bundle = ConsentNotice.addingNotice(to: bundle) }
            let resource: FHIRCore.Resource
            do {
                resource = try FHIRCore.Resource(bundle)
            } catch {
                throw ServiceError(.internal, "the $everything Bundle could not be built: \(error)")
            }
            return try FHIRRepresentation.response(resource: resource, negotiation: negotiation)
        }
    }

    /// A `searchset` Bundle of whole resources, each a match, with its total.
    static func searchset(_ resources: [StoredResource], baseURL: String, selfURL: String) throws(ServiceError) -> Resource {
        var entries: [FHIRValue] = []
        for resource in resources {
            let value: FHIRValue
            do {
                value = try JSONReader().readValue(resource.canonical)
            } catch {
                throw ServiceError(.internal, "\(resource.location) could not be read back: \(error.reason)")
            }
            entries.append(.object(FHIRObject([
                "fullUrl": .string("\(baseURL)/\(resource.type)/\(resource.id)"),
                "resource": value,
                "search": .object(FHIRObject(["mode": .string("match")])),
            ])))
        }
        var root = FHIRObject([
            "resourceType": .string("Bundle"),
            "type": .string("searchset"),
            "total": .number(FHIRNumber(resources.count)),
            "link": .array([.object(FHIRObject(["relation": .string("self"), "url": .string(selfURL)]))]),
        ])
        if !entries.isEmpty { root["entry"] = .array(entries) }
        do {
            return try Resource(root)
        } catch {
            throw ServiceError(.internal, error.description)
        }
    }
}
