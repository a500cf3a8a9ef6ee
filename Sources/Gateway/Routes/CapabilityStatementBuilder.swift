public import FHIRCore
import Services

/// The gateway's CapabilityStatement (FHIR R4 capabilitystatement.html): exactly what it implements — the
/// resource types and their interactions, the search parameters the search table answers, the `_include` and
/// `_revinclude` values it follows, the operations, the formats, and the SMART security extension with the token URL.
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

    /// `searchInclude` of `type`: `type:param` for each reference parameter of `type` that the search answers, read
    /// from the same table and by the same rule as ``SearchRequest``'s `_include` (a reference parameter of the
    /// source type that is supported; the store follows `_include` of the searched type only). An optional
    /// `:target` narrows any of them and is not listed separately; wildcards (`*`) are not supported, so not listed.
    public static func supportedIncludes(for type: String, table: SearchParameterTable = .r4) -> [String] {
        table.parameters(for: type).filter(isFollowedReference).map { "\(type):\($0.code)" }
    }

    /// `searchRevInclude` of `type`: `Source:param` for each supported reference parameter of any type whose
    /// targets include `type` (the `_revinclude` values that can bring in resources referring to a `type` match),
    /// by source type then code.
    public static func supportedRevIncludes(for type: String) -> [String] {
        revIncludesByTarget[type] ?? []
    }

    /// Whether `_include` and `_revinclude` follow parameter `p` (``SearchRequest``'s rule: a supported reference).
    static func isFollowedReference(_ p: SearchParameterDefinition) -> Bool { p.type == .reference && p.isSupported }

    /// ``supportedRevIncludes(for:)`` of every target type, computed once from the R4 table.
    static let revIncludesByTarget: [String: [String]] = {
        var out: [String: [String]] = [:]
        let table = SearchParameterTable.r4
        for source in table.resourceTypes {
            for p in table.parameters(for: source) where p.base == source && isFollowedReference(p) {
                for target in Set(p.targets) { out[target, default: []].append("\(source):\(p.code)") }
            }
        }
        return out.mapValues { $0.sorted() }
    }()

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
        rest["documentation"] = .string(Self.searchFeatures + " " + Self.historyFeatures + " " + Self.partnerPolicy)
        rest["security"] = .object(security(tokenURL: tokenURL))
        rest["resource"] = .array(TypeTable.r4.resourceTypeNames.map { .object(resource($0)) })
        rest["interaction"] = .array(Self.systemInteractions.map { .object(FHIRObject(["code": .string($0)])) })
        rest["operation"] = .array([.object(Self.everythingOperation)])
        root["rest"] = .array([.object(rest)])
        return try? Resource(root)
    }

    /// The search features beyond the parameters each type lists (which R4's CapabilityStatement has no element for).
    public static let searchFeatures = "Search by GET and POST _search; result parameters _count, _sort (several keys, "
        + "-_lastUpdated too), _include and _revinclude (Type:param[:target]; each type's searchInclude and searchRevInclude list "
        + "the Type:param it follows; no * wildcard), _total (none, estimate, accurate), "
        + "_summary (true, text, data, count, false; _count=0 is _summary=count) and _elements; modifiers :exact, :contains, "
        + ":missing, :not, :identifier, :text, :below and a reference's type; prefixes eq ne lt gt le ge sa eb ap; one level "
        + "of chaining. Composite and special parameters are not searched. Unknown parameters are ignored, or a 400 with "
        + "Prefer: handling=strict. Pages link on with a cursor, stable under concurrent writes; next links keep _summary, "
        + "_elements, _format and _pretty."

    /// What the history interactions take (R4's CapabilityStatement has no element for their parameters).
    public static let historyFeatures = "History (instance, type and system) takes _since, _count, _summary (true, text, data, "
        + "false; count is a 400, as _summary=count counts a search's matches) and _elements, newest first, paged by cursor; "
        + "_at and _list are not supported (ignored, or a 400 with Prefer: handling=strict)."

    /// What partner clients are told about consent and the hospital's own records (rest.documentation).
    public static let partnerPolicy = "Partner clients (SMART Backend Services clients registered on the consortium ledger) "
        + "read under each patient's consent on the ledger: a refused read, vread or instance history is 403; searches, "
        + "type and system histories and $everything leave what the consent withholds out, count only what they return, "
        + "and carry a consent notice (an OperationOutcome: a search-mode outcome entry in searchsets, the response.outcome "
        + "of a GET entry in histories). AuditEvents are the hospital's own records: local clients only (403 for partners, "
        + "and never in a partner's Bundle). Every partner access is audited."

    /// `Patient/{id}/$everything` as implemented: the compartment and the resources outside every compartment that
    /// it references; `_count`, `_since` and `_type`, paged, with `_summary` and `_elements`; not `start` and `end`.
    static var everythingOperation: FHIRObject {
        FHIRObject([
            "name": .string("everything"),
            "definition": .string("http://hl7.org/fhir/OperationDefinition/Patient-everything"),
            "documentation": .string("Patient/{id}/$everything only, by GET or by POST with a Parameters body. Returns the Patient and its "
                + "compartment (search mode match), then the resources they reference (relative literal references, one level) that "
                + "are in no patient compartment, such as Organization, Practitioner, Location and Medication (search mode include; "
                + "not counted in total). Parameters _count (page size, default 50, at most 1000), "
                + "_since (resources last updated at or after the instant, referenced ones too) and _type (comma-separated, "
                + "repeatable; it restricts the referenced resources too); _summary "
                + "(true, text, data, false; count, or _count=0, for the total alone) and _elements; start and end are not "
                + "supported. Paged with next links carrying a cursor, stable under concurrent writes. A partner naming "
                + "AuditEvent in _type is refused (403)."),
        ])
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
        // The search answers a type only when R4 defines search parameters of its own for it (SearchRequest); the
        // others (Binary, Parameters, OperationOutcome, …) are read and written but not searched.
        let searchable = (try? SearchRequest.parse(type: type, parameters: [])) != nil
        let interactions = Self.typeInteractions.filter { searchable || $0 != "search-type" }
        var entry = FHIRObject([
            "type": .string(type),
            "interaction": .array(interactions.map { .object(FHIRObject(["code": .string($0)])) }),
            "versioning": .string("versioned-update"),
            "readHistory": .bool(true),
            "updateCreate": .bool(true),
            "conditionalCreate": .bool(true),
            "conditionalRead": .string("full-support"),
            "conditionalUpdate": .bool(true),
            "conditionalDelete": .string("not-supported"),
        ])
        let parameters = searchable ? searchParameters(type) : []
        // R4's element order: searchInclude and searchRevInclude come before searchParam.
        let includes = searchable ? Self.supportedIncludes(for: type) : []
        if !includes.isEmpty { entry["searchInclude"] = .array(includes.map(FHIRValue.string)) }
        let revIncludes = searchable ? Self.supportedRevIncludes(for: type) : []
        if !revIncludes.isEmpty { entry["searchRevInclude"] = .array(revIncludes.map(FHIRValue.string)) }
        if !parameters.isEmpty {
            entry["searchParam"] = .array(parameters.map { p in
                .object(FHIRObject(["name": .string(p.code), "type": .string(p.type)]))
            })
        }
        if type == "Patient" {
            entry["operation"] = .array([.object(Self.everythingOperation)])
        }
        if LocalOnlyRecords.contains(type: type) {
            entry["documentation"] = .string("Local clients only: partner clients get 403 on every interaction with \(type) "
                + "(and on $everything naming it in _type), and \(type) resources are left out of their histories, includes "
                + "and $everything.")
        }
        return entry
    }
}
