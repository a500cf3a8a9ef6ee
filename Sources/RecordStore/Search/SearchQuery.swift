public import FHIRCore
import Foundation

/// A FHIR search against one resource type (FHIR R4 search): clauses that must all hold (repeated parameters are
/// AND), each with values of which one must match (commas are OR); sort order, page size, the cursor where the
/// previous page stopped, and the references to include.
public struct SearchQuery: Sendable, Hashable {
    public var type: String
    public var clauses: [SearchClause]
    /// Sort keys in order; the resource id is always the last, ascending tiebreak. Empty: by id.
    public var sort: [SearchSort]
    /// The page size (`_count`); 0 asks for no resources (`_summary=count`).
    public var count: Int
    /// Where the previous page stopped (``SearchPage/next``).
    public var cursor: SearchCursor?
    /// `_include`: references of the matches to add.
    public var includes: [SearchInclude]
    /// `_revinclude`: resources that refer to the matches.
    public var revIncludes: [SearchInclude]
    /// Whether to count all matches (`_total=accurate`, `_summary=count`).
    public var total: Bool

    public init(type: String, clauses: [SearchClause] = [], sort: [SearchSort] = [], count: Int = 50, cursor: SearchCursor? = nil,
                includes: [SearchInclude] = [], revIncludes: [SearchInclude] = [], total: Bool = false) {
        self.type = type
        self.clauses = clauses
        self.sort = sort
        self.count = count
        self.cursor = cursor
        self.includes = includes
        self.revIncludes = revIncludes
        self.total = total
    }
}

/// Search modifiers (FHIR R4 search §3.1.1.5.5) CareLedger answers.
public enum SearchModifier: String, Sendable, Hashable {
    case exact, contains, missing, not, identifier, text, below
}

/// Comparison prefixes of date, number and quantity values (FHIR R4 search §3.1.1.4).
public enum SearchPrefix: String, Sendable, Hashable, CaseIterable {
    case eq, ne, lt, gt, le, ge, sa, eb, ap
}

/// One parameter of a search: `code[:modifier]=v1,v2` or a chain `code:Type.param=v`.
public struct SearchClause: Sendable, Hashable {
    public var code: String
    public var type: SearchParameterType
    public var modifier: SearchModifier?
    /// A reference parameter's type modifier (`subject:Patient=1`) or a chain's target type.
    public var targetType: String?
    /// For a chain: the parameter of the referenced resource and its type.
    public var chain: (code: String, type: SearchParameterType)? {
        get { chainCode.map { ($0, chainType ?? .string) } }
        set { chainCode = newValue?.code; chainType = newValue?.type }
    }
    var chainCode: String?
    var chainType: SearchParameterType?
    /// The reference parameter's possible targets (from the definition), for a chain without a type.
    public var targets: [String]
    public var values: [SearchValue]

    public init(code: String, type: SearchParameterType, modifier: SearchModifier? = nil, targetType: String? = nil,
                chain: (code: String, type: SearchParameterType)? = nil, targets: [String] = [], values: [SearchValue]) {
        self.code = code
        self.type = type
        self.modifier = modifier
        self.targetType = targetType
        self.chainCode = chain?.code
        self.chainType = chain?.type
        self.targets = targets
        self.values = values
    }

    public static func == (a: SearchClause, b: SearchClause) -> Bool {
        a.code == b.code && a.type == b.type && a.modifier == b.modifier && a.targetType == b.targetType && a.chainCode == b.chainCode
            && a.chainType == b.chainType && a.targets == b.targets && a.values == b.values
    }

    public func hash(into h: inout Hasher) {
        h.combine(code); h.combine(modifier); h.combine(targetType); h.combine(chainCode); h.combine(values)
    }
}

/// One value of a clause, read by the parameter's type (``SearchValue/parse(_:type:)``).
public struct SearchValue: Sendable, Hashable {
    public var prefix: SearchPrefix
    /// The value as written, without its prefix: a string, a code, a reference, a URI, a number's lexeme.
    public var text: String
    /// A token's or quantity's system: nil when not given; "" for `|code` (no system).
    public var system: String?
    /// A quantity's code or unit.
    public var unit: String?
    /// A date's or number's range (its precision), a quantity's number.
    public var range: SearchRange?

    public init(prefix: SearchPrefix = .eq, text: String, system: String? = nil, unit: String? = nil, range: SearchRange? = nil) {
        self.prefix = prefix
        self.text = text
        self.system = system
        self.unit = unit
        self.range = range
    }

    /// Why a value could not be read.
    public struct Malformed: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// Reads one (comma-separated) value of a parameter of `type`: `[prefix]date`, `[prefix]number`,
    /// `[prefix]number|system|code`, `[system]|code`, anything for string, reference and uri. FHIR's `\,`, `\|`
    /// and `\$` escapes are undone.
    public static func parse(_ raw: String, type: SearchParameterType, modifier: SearchModifier? = nil) throws(Malformed) -> SearchValue {
        switch type {
        case .date, .number, .quantity:
            var prefix = SearchPrefix.eq
            var body = Substring(raw)
            if body.count > 2, let p = SearchPrefix(rawValue: String(body.prefix(2))), !body.prefix(2).contains(where: \.isNumber) {
                prefix = p
                body = body.dropFirst(2)
            }
            if type == .date {
                guard let r = SearchRange.date(String(body)) else { throw Malformed(description: "'\(raw)' is not a date") }
                return SearchValue(prefix: prefix, text: String(body), range: r)
            }
            let parts = splitUnescaped(String(body), "|")
            guard let first = parts.first, let r = SearchRange.number(first) else { throw Malformed(description: "'\(raw)' is not a number") }
            if type == .number || parts.count == 1 { return SearchValue(prefix: prefix, text: first, range: r) }
            guard parts.count == 3 else { throw Malformed(description: "'\(raw)' is not number|system|code") }
            return SearchValue(prefix: prefix, text: first, system: parts[1].isEmpty ? nil : parts[1],
                               unit: parts[2].isEmpty ? nil : parts[2], range: r)
        case .token:
            let parts = splitUnescaped(raw, "|")
            if modifier == .text || parts.count == 1 { return SearchValue(text: unescape(raw)) }
            guard parts.count == 2 else { throw Malformed(description: "'\(raw)' has more than one '|'") }
            return SearchValue(text: parts[1], system: parts[0])
        default:
            return SearchValue(text: unescape(raw))
        }
    }

    /// Splits at `separator` where it is not escaped with `\`, undoing the escapes.
    public static func splitUnescaped(_ s: String, _ separator: Character) -> [String] {
        var out: [String] = [], current = "", escaped = false
        for c in s {
            if escaped { current.append(c); escaped = false }
            else if c == "\\" { escaped = true }
            else if c == separator { out.append(current); current = "" }
            else { current.append(c) }
        }
        out.append(current)
        return out
    }

    static func unescape(_ s: String) -> String { splitUnescaped(s, "\u{0}").joined() }

    /// Splits a parameter's value at commas that are not escaped (`\,`), keeping every escape for
    /// ``parse(_:type:modifier:)``: the OR-ed values of one parameter.
    public static func splitKeepingEscapes(_ s: String) -> [String] {
        var out: [String] = [], current = "", escaped = false
        for c in s {
            if escaped { current.append(c); escaped = false; continue }
            if c == "\\" { current.append(c); escaped = true; continue }
            if c == "," { out.append(current); current = "" } else { current.append(c) }
        }
        out.append(current)
        return out
    }
}

/// One sort key (`_sort=-date`).
public struct SearchSort: Sendable, Hashable {
    /// `_id`, `_lastUpdated` or a parameter code.
    public var code: String
    public var type: SearchParameterType
    public var descending: Bool

    public init(code: String, type: SearchParameterType, descending: Bool = false) {
        self.code = code
        self.type = type
        self.descending = descending
    }

    /// Keys compared as numbers (indexed dates, numbers, quantities); others as text, `_lastUpdated` too (the
    /// column's sortable text form).
    var isNumeric: Bool { code != "_id" && code != "_lastUpdated" && (type == .date || type == .number || type == .quantity) }
}

/// `_include=Type:param[:target]` or `_revinclude=Type:param[:target]`.
public struct SearchInclude: Sendable, Hashable {
    public var sourceType: String
    public var code: String
    public var targetType: String?

    public init(sourceType: String, code: String, targetType: String? = nil) {
        self.sourceType = sourceType
        self.code = code
        self.targetType = targetType
    }
}

/// Where a page stopped: the sort keys and id of the last row examined. The next page starts after it in the
/// query's order, so rows written meanwhile before it never shift what comes next (keyset paging, not an offset).
public struct SearchCursor: Sendable, Hashable, CustomStringConvertible {
    public enum Key: Sendable, Hashable, Codable {
        case text(String)
        case number(Double)
    }

    public var keys: [Key]
    public var id: String

    public init(keys: [Key], id: String) {
        self.keys = keys
        self.id = id
    }

    private struct Wire: Codable {
        var k: [Key]
        var i: String
    }

    /// An opaque, URL-safe token (base64url of a small JSON document).
    public var description: String {
        let data = (try? JSONEncoder().encode(Wire(k: keys, i: id))) ?? Data()
        return data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// Reads ``description``; nil if `token` is not one (or longer than 4 KiB).
    public init?(token: String) {
        guard token.utf8.count <= 4096 else { return nil }
        var b64 = token.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while b64.count % 4 != 0 { b64 += "=" }
        guard let data = Data(base64Encoded: b64), let wire = try? JSONDecoder().decode(Wire.self, from: data) else { return nil }
        self.init(keys: wire.k, id: wire.i)
    }
}

/// One page of a search: the matches (in order), the resources `_include`/`_revinclude` brought, where the next
/// page starts, and the number of all matches when it was asked for.
///
/// ``next`` comes from the last row the store examined for this page, so a caller that leaves some matches out
/// (consent filtering) still pages on from there, however few it keeps.
public struct SearchPage: Sendable {
    public var matches: [StoredVersion]
    public var included: [StoredVersion]
    public var next: SearchCursor?
    public var total: Int?

    public init(matches: [StoredVersion], included: [StoredVersion], next: SearchCursor?, total: Int?) {
        self.matches = matches
        self.included = included
        self.next = next
        self.total = total
    }
}
