/// The type of a FHIR search parameter (FHIR R4 search §3.1.1.4, SearchParamType).
public enum SearchParameterType: String, Sendable, Hashable, CaseIterable {
    case string, token, reference, date, number, quantity, uri, composite, special
}

/// One search parameter as it applies to one resource type: its code, type, the FHIRPath expression that selects
/// its values in a resource of that type, and the types a reference parameter may point to.
public struct SearchParameterDefinition: Sendable, Hashable {
    /// The resource type (or `Resource`/`DomainResource` for the parameters every type has).
    public var base: String
    public var code: String
    public var type: SearchParameterType
    /// The expression as written in the definition, for this base only; empty for `_text`, `_content`, `_query`.
    public var expression: String
    /// The parsed expression; nil when it is empty or uses a FHIRPath form outside the subset ``FHIRPathParser``
    /// reads (a test checks that no supported parameter is left without one).
    public var path: FHIRPathExpression?
    public var targets: [String]

    /// Whether CareLedger indexes and answers the parameter: a supported type with an expression that parses.
    public var isSupported: Bool {
        switch type {
        case .composite, .special: false
        default: path != nil
        }
    }
}

/// The FHIR R4 search parameters, generated from the official definitions by
/// `scripts/generate-search-parameters.py` (`SearchParameters+R4.swift`).
///
/// Format of ``r4Source``: one line per (base, parameter), five tab-separated fields — base, code, type, the
/// FHIRPath expression for that base, the reference targets joined by commas.
public struct SearchParameterTable: Sendable {
    /// Every definition, by base then code.
    public let all: [SearchParameterDefinition]
    private let byBase: [String: [String: SearchParameterDefinition]]
    /// ``indexed(for:)`` of every base, computed once (import asks for it per resource).
    private let indexedByBase: [String: [SearchParameterDefinition]]

    /// The table of the FHIR R4 definitions, parsed once at first use.
    public static let r4 = SearchParameterTable(source: r4Source)

    init(source: String) {
        var all: [SearchParameterDefinition] = []
        var byBase: [String: [String: SearchParameterDefinition]] = [:]
        for line in source.split(separator: "\n", omittingEmptySubsequences: true) {
            let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard f.count == 5, let type = SearchParameterType(rawValue: f[2]) else { continue }
            let path = f[3].isEmpty ? nil : try? FHIRPathParser.parse(f[3])
            let d = SearchParameterDefinition(base: f[0], code: f[1], type: type, expression: f[3], path: path,
                                              targets: f[4].isEmpty ? [] : f[4].split(separator: ",").map(String.init))
            all.append(d)
            byBase[d.base, default: [:]][d.code] = d
        }
        self.all = all
        self.byBase = byBase
        var indexed: [String: [SearchParameterDefinition]] = [:]
        for base in byBase.keys {
            indexed[base] = Self.parameters(for: base, in: byBase).filter { $0.isSupported && $0.code != "_id" && $0.code != "_lastUpdated" }
        }
        self.indexedByBase = indexed
    }

    private static func parameters(for type: String, in byBase: [String: [String: SearchParameterDefinition]]) -> [SearchParameterDefinition] {
        let own = (byBase[type] ?? [:]).values.sorted { $0.code < $1.code }
        let common = ["Resource", "DomainResource"].flatMap { (byBase[$0] ?? [:]).values.sorted { $0.code < $1.code } }
        return own + common
    }

    /// The resource types that have parameters of their own (every resource type of R4 has some).
    public var resourceTypes: [String] {
        byBase.keys.filter { $0 != "Resource" && $0 != "DomainResource" }.sorted()
    }

    /// The parameter `code` of resource type `type`: its own, else one every resource has.
    public func parameter(_ code: String, for type: String) -> SearchParameterDefinition? {
        byBase[type]?[code] ?? byBase["Resource"]?[code] ?? byBase["DomainResource"]?[code]
    }

    /// Every parameter of `type`, its own first (by code), then those of `Resource` and `DomainResource`.
    public func parameters(for type: String) -> [SearchParameterDefinition] {
        Self.parameters(for: type, in: byBase)
    }

    /// The supported parameters of `type` that are read from the resource (all but `_id` and `_lastUpdated`, which
    /// the store keeps as columns).
    public func indexed(for type: String) -> [SearchParameterDefinition] {
        indexedByBase[type] ?? indexedByBase["Resource"] ?? []
    }
}
