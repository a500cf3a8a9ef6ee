public import FHIRCore
public import RecordStore
import Foundation

/// A FHIR search read from its URL parameters (GET query or `POST _search` form body): the store query, and what
/// the gateway applies on output (`_elements`, `_summary=true`), with the warnings lenient handling produced.
public struct SearchRequest: Sendable {
    /// How unknown or unsupported parameters are treated (`Prefer: handling=strict|lenient`, FHIR R4 search §3.1.1.3).
    public enum Handling: Sendable, Hashable {
        case strict, lenient

        /// From a `Prefer` header value; lenient when it says nothing about handling (FHIR's default is the server's
        /// choice; lenient is the common one).
        public init(prefer: String?) {
            let parts = (prefer ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            self = parts.contains("handling=strict") ? .strict : .lenient
        }
    }

    public var query: SearchQuery
    /// `_elements`: the top-level elements to keep in each match (nil: all).
    public var elements: [String]?
    /// `_summary` as given (nil: not given). `count` asks for the total alone; `true`, `text` and `data` for each
    /// match subsetted (``ResourceSubset``).
    public var summary: ResourceSubset.Summary?
    /// Parameters left out under lenient handling, one sentence each (for the Bundle's OperationOutcome).
    public var warnings: [String]
    /// The parameters as understood, for the Bundle's `self` link (without the cursor).
    public var canonicalParameters: [(name: String, value: String)]

    /// What of each match to return: `_elements` when given (the narrower ask), else the subset `_summary` asks
    /// (``ResourceSubset/Summary/subset``), else nil (the whole resource).
    public var subset: ResourceSubset? {
        if let elements { return .elements(elements) }
        return summary?.subset
    }

    /// `_count` (of a search, a history, `$everything`) as a page size: a whole number, zero or more, else a 400.
    /// Each caller caps it at its largest page.
    public static func pageSize(_ text: some StringProtocol) throws(ServiceError) -> Int {
        guard let n = Int(text), n >= 0 else { throw ServiceError(.invalidRequest, "_count=\(text.prefix(20)) is not a whole number") }
        return n
    }

    /// The largest page a client may ask for with `_count`, and the page it gets when it does not ask.
    public static let maxCount = 1000
    public static let defaultCount = 50
    /// At most this many parameters in one search (a bound on the statement the store runs).
    public static let maxParameters = 64
    /// At most this many comma-separated values in one parameter.
    public static let maxValues = 100

    /// Reads the parameters of a search on `type`. Malformed values are a 400 naming the parameter; unknown
    /// parameters (and supported types' unsupported modifiers) a 400 under `.strict`, a warning otherwise.
    public static func parse(type: String, parameters: [(name: String, value: String)], handling: Handling = .lenient,
                             table: SearchParameterTable = .r4) throws(ServiceError) -> SearchRequest {
        guard !table.parameters(for: type).filter({ $0.base == type }).isEmpty else {
            throw ServiceError(.notFound, "\(type) is not a FHIR R4 resource type")
        }
        guard parameters.count <= maxParameters else {
            throw ServiceError(.invalidRequest, "a search takes at most \(maxParameters) parameters; this one has \(parameters.count)")
        }
        var r = SearchRequest(query: SearchQuery(type: type, count: defaultCount), elements: nil, summary: nil, warnings: [],
                              canonicalParameters: [])
        var totalNone = false
        func unknown(_ name: String, _ why: String) throws(ServiceError) {
            if handling == .strict { throw ServiceError(.invalidRequest, "search parameter \(name): \(why)") }
            r.warnings.append("search parameter \(name) was ignored: \(why)")
        }
        for (name, value) in parameters {
            switch name {
            case "_count":
                r.query.count = min(try pageSize(value), maxCount)
            case "_sort":
                r.query.sort = try sortKeys(value, type: type, table: table)
            case "_include", "_revinclude":
                guard let include = try includeSpec(name, value, table: table, unknown: unknown) else { continue }
                if name == "_include" { r.query.includes.append(include) } else { r.query.revIncludes.append(include) }
            case "_total":
                switch value {
                case "none": r.query.total = false; totalNone = true
                case "estimate", "accurate": r.query.total = true
                default: throw ServiceError(.invalidRequest, "_total must be none, estimate or accurate, not '\(value)'")
                }
            case "_summary":
                r.summary = try ResourceSubset.Summary(parameter: value)
            case "_elements":
                r.elements = ResourceSubset.elementNames(value)
            case "_cursor":
                guard let cursor = SearchCursor(token: value) else { throw ServiceError(.invalidRequest, "_cursor '\(value.prefix(64))' is not a page cursor of this server") }
                r.query.cursor = cursor
                continue
            case "_format", "_pretty":
                // The representation's: kept for the links, so that the next page comes in the form the first did.
                break
            default:
                guard let clause = try clause(name, value, type: type, table: table, unknown: unknown) else { continue }
                r.query.clauses.append(clause)
            }
            r.canonicalParameters.append((name, value))
        }
        // `_summary=count` (search §3.1.1.5.8) is the total alone, whatever `_count` says; `_count=0` is treated as
        // `_summary=count` (search §3.1.1.5.7: a total, no entries, no links) unless `_total=none` refuses the count.
        if r.summary == .count {
            r.query.count = 0
            r.query.total = true
        } else if r.query.count == 0 && !totalNone {
            r.query.total = true
        }
        return r
    }

    private static func sortKeys(_ value: String, type: String, table: SearchParameterTable) throws(ServiceError) -> [SearchSort] {
        var out: [SearchSort] = []
        for raw in value.split(separator: ",") {
            let descending = raw.hasPrefix("-")
            let code = String(descending ? raw.dropFirst() : raw)
            if code == "_id" { out.append(SearchSort(code: code, type: .token, descending: descending)); continue }
            if code == "_lastUpdated" { out.append(SearchSort(code: code, type: .date, descending: descending)); continue }
            guard let p = table.parameter(code, for: type), p.isSupported else {
                throw ServiceError(.invalidRequest, "_sort: \(code) is not a search parameter of \(type) that CareLedger sorts by")
            }
            out.append(SearchSort(code: code, type: p.type, descending: descending))
        }
        guard out.count <= 8 else { throw ServiceError(.invalidRequest, "_sort takes at most 8 keys") }
        return out
    }

    private static func includeSpec(_ name: String, _ value: String, table: SearchParameterTable,
                                    unknown: (String, String) throws(ServiceError) -> Void) throws(ServiceError) -> SearchInclude? {
        let parts = value.split(separator: ":").map(String.init)
        guard parts.count == 2 || parts.count == 3 else {
            try unknown(name, "'\(value)' is not Type:parameter[:target] (wildcards are not supported)")
            return nil
        }
        guard let p = table.parameter(parts[1], for: parts[0]), p.type == .reference, p.isSupported else {
            try unknown(name, "\(parts[0]) has no reference parameter \(parts[1])")
            return nil
        }
        return SearchInclude(sourceType: parts[0], code: parts[1], targetType: parts.count == 3 ? parts[2] : nil)
    }

    /// One parameter: `code[:modifier]`, `code:Type` (reference), or the chain `code[:Type].param[:modifier]`.
    private static func clause(_ name: String, _ value: String, type: String, table: SearchParameterTable,
                               unknown: (String, String) throws(ServiceError) -> Void) throws(ServiceError) -> SearchClause? {
        let chainParts = name.split(separator: ".", maxSplits: 1).map(String.init)
        let head = chainParts[0].split(separator: ":", maxSplits: 1).map(String.init)
        let code = head[0]
        guard let p = table.parameter(code, for: type) else {
            try unknown(name, "\(type) has no parameter \(code)")
            return nil
        }
        guard p.isSupported || code == "_id" || code == "_lastUpdated" else {
            try unknown(name, "\(code) is a \(p.type.rawValue) parameter, which CareLedger does not search")
            return nil
        }
        var modifier: SearchModifier?
        var targetType: String?
        if head.count == 2 {
            if let m = SearchModifier(rawValue: head[1]), allows(m, p.type) {
                modifier = m
            } else if p.type == .reference, head[1].first?.isUppercase == true, p.targets.isEmpty || p.targets.contains(head[1]) {
                targetType = head[1]
            } else {
                try unknown(name, "the modifier :\(head[1]) does not apply to \(p.type.rawValue) parameters")
                return nil
            }
        }
        var chain: (code: String, type: SearchParameterType)?
        var valueType = p.type
        var valueModifier = modifier
        if chainParts.count == 2 {
            guard p.type == .reference, modifier == nil else { throw ServiceError(.invalidRequest, "\(name): only reference parameters chain") }
            let inner = chainParts[1].split(separator: ":", maxSplits: 1).map(String.init)
            guard !inner[0].contains(".") else { throw ServiceError(.invalidRequest, "\(name): CareLedger follows one level of chaining") }
            let targets = targetType.map { [$0] } ?? p.targets
            guard let ip = targets.lazy.compactMap({ table.parameter(inner[0], for: $0) }).first(where: { $0.isSupported || $0.code == "_id" }) else {
                try unknown(name, "no target of \(code) has a parameter \(inner[0])")
                return nil
            }
            chain = (inner[0], ip.type)
            valueType = ip.type
            valueModifier = inner.count == 2 ? SearchModifier(rawValue: inner[1]) : nil
            if inner.count == 2, valueModifier == nil || !allows(valueModifier!, ip.type) || valueModifier == .missing || valueModifier == .not {
                try unknown(name, "the modifier :\(inner[1]) is not supported in a chain")
                return nil
            }
        }
        if modifier == .missing {
            guard value == "true" || value == "false" else { throw ServiceError(.invalidRequest, "\(name) must be true or false, not '\(value)'") }
            return SearchClause(code: code, type: p.type, modifier: .missing, values: [SearchValue(text: value)])
        }
        let raws = SearchValue.splitKeepingEscapes(value)
        guard raws.count <= maxValues else { throw ServiceError(.invalidRequest, "\(name) takes at most \(maxValues) values") }
        var values: [SearchValue] = []
        for raw in raws {
            guard !raw.isEmpty else { continue }
            do {
                values.append(try SearchValue.parse(raw, type: code == "_id" ? .token : (code == "_lastUpdated" ? .date : valueType), modifier: valueModifier))
            } catch {
                throw ServiceError(.invalidRequest, "search parameter \(name): \(error.description)")
            }
        }
        guard !values.isEmpty else { throw ServiceError(.invalidRequest, "search parameter \(name) has no value") }
        var clause = SearchClause(code: code, type: p.type, modifier: modifier, targetType: targetType, targets: p.targets, values: values)
        if let chain {
            clause.chain = chain
            clause.modifier = valueModifier
        }
        return clause
    }

    /// Which modifiers apply to which parameter types (FHIR R4 search §3.1.1.5.5).
    static func allows(_ m: SearchModifier, _ type: SearchParameterType) -> Bool {
        switch m {
        case .missing: true
        case .exact, .contains: type == .string
        case .text: type == .token
        case .not: type == .token
        case .identifier: type == .reference
        case .below: type == .uri
        }
    }
}
