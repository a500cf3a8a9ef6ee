/// An expression of the FHIRPath subset the R4 search parameter definitions use (FHIRPath N1): paths, indexers,
/// `|`, `and`/`or`, `=`/`!=`, `is`/`as` and the functions `where`, `exists`, `resolve`, `as`, `is`, `ofType`,
/// `first`, `empty`, `not`. ``FHIRPathParser`` reads it; ``FHIRPathEvaluator`` evaluates it over a ``JSONTape``.
public indirect enum FHIRPathExpression: Sendable, Hashable {
    /// The focus: the resource at the top, the item being tested inside `where(…)`.
    case this
    /// A leading type name (`Patient.name`): the resource when it is of that type (or `Resource`/`DomainResource`).
    case typeRoot(String)
    case member(FHIRPathExpression, String)
    case index(FHIRPathExpression, Int)
    case union(FHIRPathExpression, FHIRPathExpression)
    case and(FHIRPathExpression, FHIRPathExpression)
    case or(FHIRPathExpression, FHIRPathExpression)
    case equals(FHIRPathExpression, FHIRPathExpression, negated: Bool)
    /// `x as T`, `x.as(T)`, `x.ofType(T)` (filter) and `x is T`, `x.is(T)` (test).
    case typeFilter(FHIRPathExpression, String, isTest: Bool)
    case function(FHIRPathExpression, String, [FHIRPathExpression])
    case string(String)
    case boolean(Bool)
    case number(String)
}

/// Why an expression could not be read, with the character offset.
public struct FHIRPathSyntaxError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var offset: Int
    public var description: String { "FHIRPath: \(message) at character \(offset)" }
}

/// Reads the FHIRPath subset of ``FHIRPathExpression``, with FHIRPath's precedence: `.`/`[]`, then `is`/`as`,
/// then `|`, then `=`/`!=`, then `and`, then `or`.
public struct FHIRPathParser {
    private enum Token: Equatable {
        case identifier(String), string(String), number(String), symbol(String), end
    }

    private var tokens: [(token: Token, offset: Int)] = []
    private var position = 0

    /// The functions the evaluator knows; any other name is a syntax error, so an unsupported form is found when
    /// the table is read, not when a resource is indexed.
    static let functions: Set<String> = ["where", "exists", "resolve", "as", "is", "ofType", "first", "empty", "not"]

    public static func parse(_ text: String) throws(FHIRPathSyntaxError) -> FHIRPathExpression {
        var p = FHIRPathParser()
        try p.tokenize(Array(text.unicodeScalars))
        let e = try p.parseOr()
        guard p.peek == .end else { throw p.error("unexpected \(p.peek)") }
        return e
    }

    private var peek: Token { tokens[position].token }

    private func error(_ message: String) -> FHIRPathSyntaxError {
        FHIRPathSyntaxError(message: message, offset: tokens[min(position, tokens.count - 1)].offset)
    }

    private mutating func tokenize(_ s: [Unicode.Scalar]) throws(FHIRPathSyntaxError) {
        var i = 0
        func isIdent(_ c: Unicode.Scalar) -> Bool { c.properties.isAlphabetic || c == "_" || ("0"..."9").contains(c) }
        while i < s.count {
            let c = s[i]
            if c == " " || c == "\t" || c == "\n" || c == "\r" { i += 1; continue }
            let start = i
            if c == "'" {
                var text = ""
                i += 1
                while i < s.count && s[i] != "'" {
                    if s[i] == "\\" && i + 1 < s.count { i += 1 }
                    text.unicodeScalars.append(s[i])
                    i += 1
                }
                guard i < s.count else { throw FHIRPathSyntaxError(message: "unterminated string", offset: start) }
                i += 1
                tokens.append((.string(text), start))
            } else if ("0"..."9").contains(c) {
                var text = ""
                while i < s.count && (("0"..."9").contains(s[i]) || s[i] == ".") { text.unicodeScalars.append(s[i]); i += 1 }
                tokens.append((.number(text), start))
            } else if isIdent(c) || c == "$" {
                var text = String(c)
                i += 1
                while i < s.count && isIdent(s[i]) { text.unicodeScalars.append(s[i]); i += 1 }
                tokens.append((.identifier(text), start))
            } else if c == "!" && i + 1 < s.count && s[i + 1] == "=" {
                tokens.append((.symbol("!="), start))
                i += 2
            } else if "().[]|=,".unicodeScalars.contains(c) {
                tokens.append((.symbol(String(c)), start))
                i += 1
            } else {
                throw FHIRPathSyntaxError(message: "unexpected character \(c)", offset: start)
            }
        }
        tokens.append((.end, s.count))
    }

    private mutating func take(_ symbol: String) -> Bool {
        guard peek == .symbol(symbol) else { return false }
        position += 1
        return true
    }

    private mutating func takeWord(_ word: String) -> Bool {
        guard peek == .identifier(word) else { return false }
        position += 1
        return true
    }

    private mutating func expect(_ symbol: String) throws(FHIRPathSyntaxError) {
        guard take(symbol) else { throw error("expected \(symbol)") }
    }

    private mutating func parseOr() throws(FHIRPathSyntaxError) -> FHIRPathExpression {
        var e = try parseAnd()
        while takeWord("or") { e = .or(e, try parseAnd()) }
        return e
    }

    private mutating func parseAnd() throws(FHIRPathSyntaxError) -> FHIRPathExpression {
        var e = try parseEquality()
        while takeWord("and") { e = .and(e, try parseEquality()) }
        return e
    }

    private mutating func parseEquality() throws(FHIRPathSyntaxError) -> FHIRPathExpression {
        let e = try parseUnion()
        if take("=") { return .equals(e, try parseUnion(), negated: false) }
        if take("!=") { return .equals(e, try parseUnion(), negated: true) }
        return e
    }

    private mutating func parseUnion() throws(FHIRPathSyntaxError) -> FHIRPathExpression {
        var e = try parseTypeOperator()
        while take("|") { e = .union(e, try parseTypeOperator()) }
        return e
    }

    private mutating func parseTypeOperator() throws(FHIRPathSyntaxError) -> FHIRPathExpression {
        let e = try parsePostfix(try parseTerm())
        if takeWord("is") { return .typeFilter(e, try typeName(), isTest: true) }
        if takeWord("as") { return .typeFilter(e, try typeName(), isTest: false) }
        return e
    }

    private mutating func typeName() throws(FHIRPathSyntaxError) -> String {
        guard case .identifier(var name) = peek else { throw error("expected a type name") }
        position += 1
        // `FHIR.Patient`, `System.String`: the namespace is dropped.
        while take(".") {
            guard case .identifier(let next) = peek else { throw error("expected a type name") }
            position += 1
            name = next
        }
        return name
    }

    private mutating func parsePostfix(_ start: FHIRPathExpression) throws(FHIRPathSyntaxError) -> FHIRPathExpression {
        var e = start
        while true {
            if take(".") {
                guard case .identifier(let name) = peek else { throw error("expected a name after '.'") }
                position += 1
                e = take("(") ? try call(name, on: e) : .member(e, name)
            } else if take("[") {
                guard case .number(let n) = peek, let i = Int(n) else { throw error("expected an index") }
                position += 1
                try expect("]")
                e = .index(e, i)
            } else {
                return e
            }
        }
    }

    /// A function call whose `(` was read.
    private mutating func call(_ name: String, on focus: FHIRPathExpression) throws(FHIRPathSyntaxError) -> FHIRPathExpression {
        guard Self.functions.contains(name) else { throw error("the function \(name)() is not supported") }
        if name == "as" || name == "is" || name == "ofType" {
            let type = try typeName()
            try expect(")")
            return .typeFilter(focus, type, isTest: name == "is")
        }
        var arguments: [FHIRPathExpression] = []
        if !take(")") {
            repeat { arguments.append(try parseOr()) } while take(",")
            try expect(")")
        }
        return .function(focus, name, arguments)
    }

    private mutating func parseTerm() throws(FHIRPathSyntaxError) -> FHIRPathExpression {
        let token = peek
        position += 1
        switch token {
        case .symbol("("):
            let e = try parseOr()
            try expect(")")
            return e
        case .string(let s): return .string(s)
        case .number(let n): return .number(n)
        case .identifier("true"): return .boolean(true)
        case .identifier("false"): return .boolean(false)
        case .identifier("$this"): return .this
        case .identifier(let name):
            if take("(") { return try call(name, on: .this) }
            // A capitalised leading name is a type (`Patient.name`); a lower-case one a member of the focus.
            if let first = name.unicodeScalars.first, first.properties.isUppercase { return .typeRoot(name) }
            return .member(.this, name)
        default:
            position -= 1
            throw error("unexpected \(token)")
        }
    }
}
