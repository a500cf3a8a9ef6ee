import FHIRCore

/// A value bound to a search statement.
enum SearchBind: Sendable {
    case text(String)
    case real(Double)
    case blob([UInt8])
}

/// Builds the SQL of a ``SearchQuery`` for either store: the same statements, with the dialect's placeholders
/// (`?` or `$n`), table names, and view of the current resources (SQLite's `records`, PostgreSQL's highest version
/// in `record_versions`). Every value is bound, never spliced into the text.
struct SearchSQL {
    enum Dialect { case sqlite, postgres }

    let dialect: Dialect
    private(set) var binds: [SearchBind] = []

    init(_ dialect: Dialect) { self.dialect = dialect }

    mutating func bind(_ b: SearchBind) -> String {
        binds.append(b)
        // Numbered in both dialects: a sort key's SQL appears in the select list, the cursor condition and ORDER BY.
        return dialect == .sqlite ? "?\(binds.count)" : "$\(binds.count)"
    }

    var index: String { dialect == .sqlite ? "search_index" : "careledger.search_index" }

    /// The current, not deleted, resources of `type` as `r` (columns `id`, `last_updated`).
    mutating func currentResources(_ type: String) -> String {
        let t = bind(.text(type)), tomb = bind(.blob(Tombstone.contentHash))
        switch dialect {
        case .sqlite:
            return "FROM records r WHERE r.resource_type = \(t) AND r.content_hash <> \(tomb)"
        case .postgres:
            return """
                FROM careledger.record_versions r WHERE r.resource_type = \(t) AND r.content_hash <> \(tomb)
                AND NOT EXISTS (SELECT 1 FROM careledger.record_versions n WHERE n.resource_type = r.resource_type AND n.id = r.id AND n.version_id > r.version_id)
                """
        }
    }

    /// `meta.lastUpdated` as text that sorts as time (`YYYY-MM-DDTHH:MM:SS.sss`).
    var lastUpdatedKey: String {
        dialect == .sqlite ? "substr(r.last_updated, 1, 23)" : #"to_char(r.last_updated AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS')"#
    }

    /// `… WHERE` conditions of the query's clauses (joined with AND), for `r` of `query.type`.
    mutating func conditions(_ query: SearchQuery) throws(SearchFailure) -> [String] {
        var out: [String] = []
        for clause in query.clauses { out.append(try condition(clause, type: query.type)) }
        return out
    }

    private mutating func condition(_ c: SearchClause, type: String) throws(SearchFailure) -> String {
        if c.code == "_id" {
            let ids = c.values.map { bind(.text($0.text)) }.joined(separator: ", ")
            return c.modifier == .not ? "r.id NOT IN (\(ids))" : "r.id IN (\(ids))"
        }
        if c.code == "_lastUpdated" {
            return "(" + (try c.values.map { (v) throws(SearchFailure) -> String in try lastUpdated(v) }).joined(separator: " OR ") + ")"
        }
        if c.modifier == .missing {
            let missing = c.values.first?.text != "false"
            let p = bind(.text(c.code)), t = bind(.text(type))
            return "r.id \(missing ? "NOT IN" : "IN") (SELECT s.id FROM \(index) s WHERE s.resource_type = \(t) AND s.param = \(p))"
        }
        let t = bind(.text(type))
        let param = bind(.text(c.modifier == .identifier ? c.code + ":identifier" : c.code))
        let match: String
        if let chain = c.chain {
            match = try chained(c, chain: chain)
        } else {
            match = "(" + (try c.values.map { (v) throws(SearchFailure) -> String in try value(v, c, alias: "s") }).joined(separator: " OR ") + ")"
        }
        let subquery = "SELECT s.id FROM \(index) s WHERE s.resource_type = \(t) AND s.param = \(param) AND \(match)"
        return c.modifier == .not ? "r.id NOT IN (\(subquery))" : "r.id IN (\(subquery))"
    }

    /// `subject:Patient.name=peter`: the reference is one of the `Patient/id` whose `name` matches.
    private mutating func chained(_ c: SearchClause, chain: (code: String, type: SearchParameterType)) throws(SearchFailure) -> String {
        let types = c.targetType.map { [$0] } ?? c.targets.filter { SearchParameterTable.r4.parameter(chain.code, for: $0)?.isSupported ?? false }
        guard !types.isEmpty else { throw SearchFailure("the chain \(c.code).\(chain.code) reaches no type that has \(chain.code)") }
        let inner = SearchClause(code: chain.code, type: chain.type, values: c.values)
        var parts: [String] = []
        for target in types {
            if chain.code == "_id" {
                let ids = c.values.map { bind(.text(target + "/" + $0.text)) }.joined(separator: ", ")
                parts.append("s.value IN (\(ids))")
                continue
            }
            let prefix = bind(.text(target + "/"))
            let tt = bind(.text(target)), cp = bind(.text(chain.code))
            let match = (try inner.values.map { (v) throws(SearchFailure) -> String in try value(v, inner, alias: "c") }).joined(separator: " OR ")
            parts.append("s.value IN (SELECT \(prefix) || c.id FROM \(index) c WHERE c.resource_type = \(tt) AND c.param = \(cp) AND (\(match)))")
        }
        return "(" + parts.joined(separator: " OR ") + ")"
    }

    /// A LIKE pattern with `%`, `_` and `\` escaped (used with `ESCAPE '\'`).
    static func likeEscaped(_ s: String) -> String {
        var out = ""
        for c in s {
            if c == "%" || c == "_" || c == "\\" { out.append("\\") }
            out.append(c)
        }
        return out
    }

    private mutating func like(_ column: String, _ pattern: String) -> String {
        "\(column) LIKE \(bind(.text(pattern))) ESCAPE '\\'"
    }

    /// One value's condition on index row `a`.
    private mutating func value(_ v: SearchValue, _ c: SearchClause, alias a: String) throws(SearchFailure) -> String {
        switch c.type {
        case .string:
            let norm = SearchExtraction.normalize(v.text)
            switch c.modifier {
            case .exact: return "\(a).display = \(bind(.text(v.text)))"
            case .contains: return like("\(a).value", "%" + Self.likeEscaped(norm) + "%")
            default: return like("\(a).value", Self.likeEscaped(norm) + "%")
            }
        case .token:
            if c.modifier == .text { return like("\(a).display", Self.likeEscaped(SearchExtraction.normalize(v.text)) + "%") }
            return token(v, alias: a)
        case .reference:
            if c.modifier == .identifier { return token(v, alias: a) }
            return reference(v, c, alias: a)
        case .uri:
            if c.modifier == .below { return like("\(a).value", Self.likeEscaped(v.text) + "%") }
            return "\(a).value = \(bind(.text(v.text)))"
        case .date, .number:
            guard let r = v.range else { throw SearchFailure("\(c.code): '\(v.text)' has no range") }
            return c.type == .date ? dateComparison(v.prefix, r, alias: a) : numberComparison(v.prefix, r, exact: Double(v.text) ?? r.low, alias: a)
        case .quantity:
            guard let r = v.range else { throw SearchFailure("\(c.code): '\(v.text)' is not a number") }
            var parts = [numberComparison(v.prefix, r, exact: Double(v.text) ?? r.low, alias: a)]
            if let system = v.system { parts.append("\(a).system = \(bind(.text(system)))") }
            if let unit = v.unit { parts.append("(\(a).value = \(bind(.text(unit))) OR \(a).display = \(bind(.text(unit))))") }
            return "(" + parts.joined(separator: " AND ") + ")"
        case .composite, .special:
            throw SearchFailure("\(c.code) is a \(c.type.rawValue) parameter, which CareLedger does not search")
        }
    }

    private mutating func token(_ v: SearchValue, alias a: String) -> String {
        switch (v.system, v.text.isEmpty) {
        case (nil, _): return "\(a).value = \(bind(.text(v.text)))"
        case (let system?, true): return "\(a).system = \(bind(.text(system)))"
        case (let system?, false): return "(\(a).system = \(bind(.text(system))) AND \(a).value = \(bind(.text(v.text))))"
        }
    }

    /// `Type/id`, a bare `id` (any of the targets, or the type modifier's), or an absolute URL.
    private mutating func reference(_ v: SearchValue, _ c: SearchClause, alias a: String) -> String {
        if v.text.contains("/") { return "\(a).value = \(bind(.text(v.text)))" }
        let types = c.targetType.map { [$0] } ?? c.targets
        if types.isEmpty { return like("\(a).value", "%/" + Self.likeEscaped(v.text)) }
        return "\(a).value IN (" + types.map { bind(.text($0 + "/" + v.text)) }.joined(separator: ", ") + ")"
    }

    /// FHIR R4 search §3.1.1.4 on ranges: the resource's [low, high] against the value's [pl, ph].
    private mutating func dateComparison(_ prefix: SearchPrefix, _ r: SearchRange, alias a: String) -> String {
        let lo = "\(a).low", hi = "\(a).high"
        switch prefix {
        case .eq: return "(\(lo) >= \(bind(.real(r.low))) AND \(hi) <= \(bind(.real(r.high))))"
        case .ne: return "NOT (\(lo) >= \(bind(.real(r.low))) AND \(hi) <= \(bind(.real(r.high))))"
        case .gt: return "\(hi) > \(bind(.real(r.high)))"
        case .lt: return "\(lo) < \(bind(.real(r.low)))"
        case .ge: return "\(hi) >= \(bind(.real(r.low)))"
        case .le: return "\(lo) <= \(bind(.real(r.high)))"
        case .sa: return "\(lo) > \(bind(.real(r.high)))"
        case .eb: return "\(hi) < \(bind(.real(r.low)))"
        case .ap:
            // Approximately: overlapping the value widened by a tenth of its distance to now, at least a day.
            let widen = max(86_400_000, (r.high - r.low) * 0.1)
            return "(\(lo) <= \(bind(.real(r.high + widen))) AND \(hi) >= \(bind(.real(r.low - widen))))"
        }
    }

    /// Numbers: `eq` means within the value's precision (`100` is [99.5, 100.5]); the others compare with the
    /// value as written. A resource's range (a quantity Range) is [low, high].
    private mutating func numberComparison(_ prefix: SearchPrefix, _ r: SearchRange, exact: Double, alias a: String) -> String {
        let lo = "\(a).low", hi = "\(a).high"
        switch prefix {
        case .eq: return "(\(lo) >= \(bind(.real(r.low))) AND \(hi) < \(bind(.real(r.high))))"
        case .ne: return "NOT (\(lo) >= \(bind(.real(r.low))) AND \(hi) < \(bind(.real(r.high))))"
        case .gt, .sa: return "\(lo) > \(bind(.real(exact)))"
        case .lt, .eb: return "\(hi) < \(bind(.real(exact)))"
        case .ge: return "\(lo) >= \(bind(.real(exact)))"
        case .le: return "\(hi) <= \(bind(.real(exact)))"
        case .ap:
            let d = abs(exact) * 0.1
            return "(\(lo) <= \(bind(.real(exact + d))) AND \(hi) >= \(bind(.real(exact - d))))"
        }
    }

    /// `_lastUpdated` compares the column, as text in the sortable form of ``lastUpdatedKey``.
    private mutating func lastUpdated(_ v: SearchValue) throws(SearchFailure) -> String {
        guard let r = v.range else { throw SearchFailure("_lastUpdated: '\(v.text)' is not a date") }
        let low = Self.instantText(r.low), high = Self.instantText(r.high), k = lastUpdatedKey
        switch v.prefix {
        case .eq: return "(\(k) >= \(bind(.text(low))) AND \(k) <= \(bind(.text(high))))"
        case .ne: return "NOT (\(k) >= \(bind(.text(low))) AND \(k) <= \(bind(.text(high))))"
        case .gt, .sa: return "\(k) > \(bind(.text(high)))"
        case .lt, .eb: return "\(k) < \(bind(.text(low)))"
        case .ge: return "\(k) >= \(bind(.text(low)))"
        case .le: return "\(k) <= \(bind(.text(high)))"
        case .ap: return "(\(k) >= \(bind(.text(Self.instantText(r.low - 86_400_000)))) AND \(k) <= \(bind(.text(Self.instantText(r.high + 86_400_000)))))"
        }
    }

    /// Milliseconds since 1970 as `YYYY-MM-DDTHH:MM:SS.sss` (UTC).
    static func instantText(_ ms: Double) -> String {
        let clamped = max(-62_135_596_800_000, min(253_402_300_799_999, ms))
        let total = Int64(clamped.rounded(.down))
        var days = total >= 0 ? total / 86_400_000 : (total - 86_399_999) / 86_400_000
        var rest = total - days * 86_400_000
        let millis = rest % 1000; rest /= 1000
        let second = rest % 60; rest /= 60
        let minute = rest % 60, hour = rest / 60
        // H. Hinnant's civil_from_days.
        days += 719_468
        let era = (days >= 0 ? days : days - 146_096) / 146_097
        let doe = days - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
        func pad(_ v: Int64, _ n: Int) -> String { String(repeating: "0", count: max(0, n - String(v).count)) + String(v) }
        return "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))T\(pad(hour, 2)):\(pad(minute, 2)):\(pad(second, 2)).\(pad(millis, 3))"
    }

    /// The SQL of sort key `s` for `r` of `type`: the column, or the lowest (highest, descending) indexed value.
    mutating func sortKey(_ s: SearchSort, type: String) -> String {
        switch s.code {
        case "_id": return "r.id"
        case "_lastUpdated": return lastUpdatedKey
        default:
            let t = bind(.text(type)), p = bind(.text(s.code))
            let column = s.isNumeric ? (s.descending ? "MAX(k.high)" : "MIN(k.low)") : (s.descending ? "MAX(k.value)" : "MIN(k.value)")
            let missing = s.isNumeric ? "CAST(-1e300 AS double precision)" : "''"
            return "COALESCE((SELECT \(column) FROM \(index) k WHERE k.resource_type = \(t) AND k.id = r.id AND k.param = \(p)), \(missing))"
        }
    }

    /// Rows after `cursor` in the order of `keys` (each ascending or descending), the id ascending last.
    mutating func after(_ cursor: SearchCursor, keys: [(sql: String, descending: Bool)]) throws(SearchFailure) -> String {
        guard cursor.keys.count == keys.count else { throw SearchFailure("the cursor does not belong to this search's sort order") }
        var ors: [String] = []
        for i in 0...keys.count {
            var ands: [String] = []
            for j in 0..<i { ands.append("\(keys[j].sql) = \(bindKey(cursor.keys[j]))") }
            if i < keys.count {
                ands.append("\(keys[i].sql) \(keys[i].descending ? "<" : ">") \(bindKey(cursor.keys[i]))")
            } else {
                ands.append("r.id > \(bind(.text(cursor.id)))")
            }
            ors.append("(" + ands.joined(separator: " AND ") + ")")
        }
        return "(" + ors.joined(separator: " OR ") + ")"
    }

    private mutating func bindKey(_ key: SearchCursor.Key) -> String {
        switch key {
        case .text(let s): bind(.text(s))
        case .number(let d): bind(.real(d))
        }
    }

    /// The statement of one page: `id` then the sort keys, `count + 1` rows (the extra one says whether there is
    /// a next page).
    static func page(_ query: SearchQuery, _ dialect: Dialect) throws(SearchFailure) -> (sql: String, binds: [SearchBind], numeric: [Bool]) {
        var b = SearchSQL(dialect)
        let sorts = query.sort.filter { $0.code != "_id" || $0.descending }
        var keys: [(sql: String, descending: Bool)] = []
        for s in sorts { keys.append((b.sortKey(s, type: query.type), s.descending)) }
        var sql = "SELECT r.id" + keys.map { ", " + $0.sql }.joined() + " " + b.currentResources(query.type)
        for c in try b.conditions(query) { sql += " AND " + c }
        if let cursor = query.cursor { sql += " AND " + (try b.after(cursor, keys: keys)) }
        sql += " ORDER BY " + (keys.map { $0.sql + ($0.descending ? " DESC" : "") } + ["r.id"]).joined(separator: ", ")
        sql += " LIMIT \(max(0, query.count) + 1)"
        return (sql, b.binds, sorts.map(\.isNumeric))
    }

    /// The statement counting every match.
    static func count(_ query: SearchQuery, _ dialect: Dialect) throws(SearchFailure) -> (sql: String, binds: [SearchBind]) {
        var b = SearchSQL(dialect)
        var sql = "SELECT count(*) " + b.currentResources(query.type)
        for c in try b.conditions(query) { sql += " AND " + c }
        return (sql, b.binds)
    }

    /// The references that `include.code` of the matches `ids` (of `type`) holds.
    static func includeReferences(_ include: SearchInclude, ids: [String], _ dialect: Dialect) -> (sql: String, binds: [SearchBind]) {
        var b = SearchSQL(dialect)
        let t = b.bind(.text(include.sourceType)), p = b.bind(.text(include.code))
        let list = ids.map { b.bind(.text($0)) }.joined(separator: ", ")
        return ("SELECT DISTINCT s.value FROM \(b.index) s WHERE s.resource_type = \(t) AND s.param = \(p) AND s.id IN (\(list)) ORDER BY s.value", b.binds)
    }

    /// The ids of `include.sourceType` whose `include.code` refers to one of `references`.
    static func revIncludeIds(_ include: SearchInclude, references: [String], _ dialect: Dialect) -> (sql: String, binds: [SearchBind]) {
        var b = SearchSQL(dialect)
        let t = b.bind(.text(include.sourceType)), p = b.bind(.text(include.code))
        let list = references.map { b.bind(.text($0)) }.joined(separator: ", ")
        return ("SELECT DISTINCT s.id FROM \(b.index) s WHERE s.resource_type = \(t) AND s.param = \(p) AND s.value IN (\(list)) ORDER BY s.id", b.binds)
    }
}

/// A search the store cannot run as asked (a cursor of another search, a chain to nowhere): the caller's error.
public struct SearchFailure: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
