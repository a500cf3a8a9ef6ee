public import FHIRCore

/// The gateway's CapabilityStatement (FHIR R4 capabilitystatement.html): exactly what it implements — the
/// resource types and their interactions, the search parameters the search table answers, the operations, the
/// formats, and the SMART security extension with the token URL.
public struct CapabilityStatementBuilder: Sendable {
    /// The interactions every resource type has (FHIR `TypeRestfulInteraction` codes).
    public static let typeInteractions = ["read", "vread", "update", "patch", "delete", "history-instance",
                                          "history-type", "create", "search-type"]
    /// The whole-system interactions (`SystemRestfulInteraction` codes).
    public static let systemInteractions = ["transaction", "batch", "history-system"]

    /// The search parameters of a resource type: code and type.
    public var searchParameters: @Sendable (String) -> [(code: String, type: String)]

    public init(searchParameters: @escaping @Sendable (String) -> [(code: String, type: String)] = CapabilityStatementBuilder.supportedSearchParameters) {
        self.searchParameters = searchParameters
    }

    /// The parameters of the generated R4 search table that the store indexes and answers, plus `_id` and
    /// `_lastUpdated`, which it keeps as columns.
    public static func supportedSearchParameters(for type: String) -> [(code: String, type: String)] {
        SearchParameterTable.r4.parameters(for: type)
            .filter { $0.isSupported || $0.code == "_id" || $0.code == "_lastUpdated" }
            .map { ($0.code, $0.type.rawValue) }
    }

    /// The statement for a gateway whose FHIR base is `baseURL` and whose SMART token endpoint is `tokenURL`.
    public func statement(baseURL: String, tokenURL: String, date: String) -> Resource? {
        var root = FHIRObject([
            "resourceType": .string("CapabilityStatement"),
            "status": .string("active"),
            "date": .string(date),
            "publisher": .string("CareLedger"),
            "kind": .string("instance"),
        ])
        root["software"] = .object(FHIRObject(["name": .string("CareLedger")]))
        root["implementation"] = .object(FHIRObject([
            "description": .string("CareLedger FHIR gateway: records under each patient's consent on a shared ledger"),
            "url": .string(baseURL),
        ]))
        root["fhirVersion"] = .string("4.0.1")
        root["format"] = .array(["json", "xml", "application/fhir+json", "application/fhir+xml"].map(FHIRValue.string))
        root["patchFormat"] = .array([.string("application/json-patch+json")])
        var rest = FHIRObject(["mode": .string("server")])
        rest["security"] = .object(security(tokenURL: tokenURL))
        rest["resource"] = .array(TypeTable.r4.resourceTypeNames.map { .object(resource($0)) })
        rest["interaction"] = .array(Self.systemInteractions.map { .object(FHIRObject(["code": .string($0)])) })
        rest["operation"] = .array([.object(FHIRObject([
            "name": .string("everything"),
            "definition": .string("http://hl7.org/fhir/OperationDefinition/Patient-everything"),
        ]))])
        root["rest"] = .array([.object(rest)])
        return try? Resource(root)
    }

    /// SMART App Launch 2.x's security block: the `oauth-uris` extension naming the token endpoint, and the
    /// SMART-on-FHIR service code.
    func security(tokenURL: String) -> FHIRObject {
        let oauth = FHIRObject([
            "url": .string("http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"),
            "extension": .array([.object(FHIRObject([
                "url": .string("token"),
                "valueUri": .string(tokenURL),
            ]))]),
        ])
        let service = FHIRObject([
            "coding": .array([.object(FHIRObject([
                "system": .string("http://terminology.hl7.org/CodeSystem/restful-security-service"),
                "code": .string("SMART-on-FHIR"),
            ]))]),
        ])
        return FHIRObject([
            "extension": .array([.object(oauth)]),
            "service": .array([.object(service)]),
            "description": .string("SMART Backend Services: client_credentials with a private_key_jwt client assertion"),
        ])
    }

    /// One resource type's entry: its interactions, versioning, conditional support and search parameters.
    func resource(_ type: String) -> FHIRObject {
        var entry = FHIRObject([
            "type": .string(type),
            "interaction": .array(Self.typeInteractions.map { .object(FHIRObject(["code": .string($0)])) }),
            "versioning": .string("versioned-update"),
            "readHistory": .bool(true),
            "updateCreate": .bool(true),
            "conditionalCreate": .bool(true),
            "conditionalRead": .string("full-support"),
            "conditionalUpdate": .bool(true),
            "conditionalDelete": .string("not-supported"),
        ])
        let parameters = searchParameters(type)
        if !parameters.isEmpty {
            entry["searchParam"] = .array(parameters.map { p in
                .object(FHIRObject(["name": .string(p.code), "type": .string(p.type)]))
            })
        }
        if type == "Patient" {
            entry["operation"] = .array([.object(FHIRObject([
                "name": .string("everything"),
                "definition": .string("http://hl7.org/fhir/OperationDefinition/Patient-everything"),
            ]))])
        }
        return entry
    }
}
