/// One token of an expression's source, with the column (1-based, in Unicode scalars) where it starts.
struct Token: Sendable, Equatable {
    enum Kind: Sendable, Equatable {
        /// A decimal or hexadecimal integer literal, as its magnitude: `-9223372036854775808` is a minus and 2^63,
        /// which only the parser's negation of a literal accepts.
        case int(UInt64)
        case string(String)
        case identifier(String)
        /// An operator or punctuation: `+ - * / % == != < <= > >= && || ! ? : . , ( ) [ ] { }`.
        case symbol(String)
        case end
    }

    let kind: Kind
    let column: Int
}

/// Splits an expression's source into tokens (CEL's lexical grammar, minus what the subset leaves out: a float, an
/// unsigned or a bytes literal is refused here, saying what to write instead).
struct Lexer {
    private let scalars: [Unicode.Scalar]
    private var i = 0

    init(_ source: String) { scalars = Array(source.unicodeScalars) }

    static func tokens(_ source: String) throws(ContractFailure) -> [Token] {
        var lexer = Lexer(source)
        var out: [Token] = []
        while true {
            let t = try lexer.next()
            out.append(t)
            if t.kind == .end { return out }
        }
    }

    private func peek(_ offset: Int = 0) -> Unicode.Scalar? {
        i + offset < scalars.count ? scalars[i + offset] : nil
    }

    private func fail(_ column: Int, _ message: String) -> ContractFailure {
        ContractFailure(.syntax, "at column \(column): \(message)")
    }

    /// CEL's reserved words, which cannot name a binding.
    static let reserved: Set<String> = [
        "as", "break", "const", "continue", "else", "for", "function", "if", "import", "let", "loop", "package",
        "namespace", "return", "var", "void", "while",
    ]

    private mutating func next() throws(ContractFailure) -> Token {
        skipSpaceAndComments()
        let column = i + 1
        guard let c = peek() else { return Token(kind: .end, column: column) }

        if isDigit(c) { return try number(column) }
        if c == ".", let d = peek(1), isDigit(d) {
            throw fail(column, "floating-point numbers are not in the language: write an exact rational, e.g. rational(1, 2)")
        }
        if isIdentifierStart(c) {
            // String prefixes: r"raw", b"bytes".
            if let q = peek(1), q == "\"" || q == "'" {
                if c == "r" || c == "R" { i += 1; return Token(kind: .string(try string(column, raw: true)), column: column) }
                if c == "b" || c == "B" { throw fail(column, "bytes literals are not in the language") }
            }
            if let q = peek(2), q == "\"" || q == "'", let p = peek(1),
               Set([String(c).lowercased(), String(p).lowercased()]) == ["r", "b"] {
                throw fail(column, "bytes literals are not in the language")
            }
            var name = ""
            while let d = peek(), isIdentifierStart(d) || isDigit(d) {
                name.unicodeScalars.append(d)
                i += 1
            }
            return Token(kind: .identifier(name), column: column)
        }
        if c == "\"" || c == "'" { return Token(kind: .string(try string(column, raw: false)), column: column) }

        let two = peek(1).map { String(c) + String($0) } ?? ""
        if ["==", "!=", "<=", ">=", "&&", "||"].contains(two) {
            i += 2
            return Token(kind: .symbol(two), column: column)
        }
        if "+-*/%<>!?:.,()[]{}".unicodeScalars.contains(c) {
            i += 1
            return Token(kind: .symbol(String(c)), column: column)
        }
        if c == "=" { throw fail(column, "'=' is not an operator: compare with '=='") }
        if c == "&" || c == "|" { throw fail(column, "'\(c)' is not an operator: write '\(c)\(c)'") }
        throw fail(column, "unexpected character '\(c.escaped(asASCII: true))'")
    }

    private mutating func skipSpaceAndComments() {
        while let c = peek() {
            if c == " " || c == "\t" || c == "\n" || c == "\r" || c == "\u{0C}" {
                i += 1
            } else if c == "/", peek(1) == "/" {
                while let d = peek(), d != "\n" { i += 1 }
            } else {
                return
            }
        }
    }

    private func isDigit(_ c: Unicode.Scalar) -> Bool { c.value >= 0x30 && c.value <= 0x39 }

    private func isIdentifierStart(_ c: Unicode.Scalar) -> Bool {
        (c.value >= 0x41 && c.value <= 0x5A) || (c.value >= 0x61 && c.value <= 0x7A) || c == "_"
    }

    private mutating func number(_ column: Int) throws(ContractFailure) -> Token {
        var value: UInt64 = 0
        var hex = false
        if peek() == "0", let x = peek(1), x == "x" || x == "X" {
            hex = true
            i += 2
        }
        var digits = 0
        while let c = peek() {
            let d: UInt64
            if isDigit(c) {
                d = UInt64(c.value - 0x30)
            } else if hex, let h = hexDigit(c) {
                d = UInt64(h)
            } else {
                break
            }
            let (m, o1) = value.multipliedReportingOverflow(by: hex ? 16 : 10)
            let (s, o2) = m.addingReportingOverflow(d)
            guard !o1, !o2, s <= UInt64(Int64.max) + 1 else { throw fail(column, "the integer does not fit in 64 bits") }
            value = s
            digits += 1
            i += 1
        }
        if digits == 0 { throw fail(column, "a hexadecimal literal needs digits") }
        if let c = peek() {
            if c == "." || c == "e" || c == "E", !hex {
                let next = peek(1)
                if c != "." || next.map(isDigit) == true {
                    throw fail(column, "floating-point numbers are not in the language: write an exact rational, e.g. rational(7, 2)")
                }
            }
            if c == "u" || c == "U" { throw fail(column, "unsigned integers are not in the language") }
            if isIdentifierStart(c) { throw fail(i + 1, "a number runs into a name") }
        }
        return Token(kind: .int(value), column: column)
    }

    private func hexDigit(_ c: Unicode.Scalar) -> UInt32? {
        switch c.value {
        case 0x30...0x39: c.value - 0x30
        case 0x41...0x46: c.value - 0x41 + 10
        case 0x61...0x66: c.value - 0x61 + 10
        default: nil
        }
    }

    /// A quoted string, single or triple quoted, raw or with CEL's escapes.
    private mutating func string(_ column: Int, raw: Bool) throws(ContractFailure) -> String {
        guard let quote = peek() else { throw fail(column, "a string is not closed") }
        let triple = peek(1) == quote && peek(2) == quote
        i += triple ? 3 : 1
        var out = String.UnicodeScalarView()
        while true {
            guard let c = peek() else { throw fail(column, "a string is not closed") }
            if c == quote {
                if !triple { i += 1; return String(out) }
                if peek(1) == quote, peek(2) == quote { i += 3; return String(out) }
            }
            if !triple, c == "\n" || c == "\r" { throw fail(column, "a string is not closed on its line") }
            if c == "\\", !raw {
                out.append(try escape(column))
                continue
            }
            if c == "\\", raw {
                // A raw string keeps the backslash, but an escaped quote does not end it.
                out.append(c)
                i += 1
                if let n = peek(), n == quote || n == "\\" { out.append(n); i += 1 }
                continue
            }
            out.append(c)
            i += 1
        }
    }

    private mutating func escape(_ column: Int) throws(ContractFailure) -> Unicode.Scalar {
        let at = i + 1
        i += 1
        guard let e = peek() else { throw fail(column, "a string is not closed") }
        i += 1
        switch e {
        case "a": return "\u{07}"
        case "b": return "\u{08}"
        case "f": return "\u{0C}"
        case "n": return "\n"
        case "r": return "\r"
        case "t": return "\t"
        case "v": return "\u{0B}"
        case "\\", "'", "\"", "`", "?": return e
        case "x", "X", "u", "U":
            let count = (e == "x" || e == "X") ? 2 : (e == "u" ? 4 : 8)
            var v: UInt32 = 0
            for _ in 0..<count {
                guard let c = peek(), let h = hexDigit(c) else { throw fail(at, "a \\\(e) escape needs \(count) hexadecimal digits") }
                v = v * 16 + h
                i += 1
            }
            guard let s = Unicode.Scalar(v) else { throw fail(at, "the escape is not a Unicode scalar value") }
            return s
        case "0"..."3":
            var v = e.value - 0x30
            for _ in 0..<2 {
                guard let c = peek(), c.value >= 0x30, c.value <= 0x37 else { throw fail(at, "an octal escape needs three digits") }
                v = v * 8 + (c.value - 0x30)
                i += 1
            }
            guard let s = Unicode.Scalar(v) else { throw fail(at, "the escape is not a Unicode scalar value") }
            return s
        default:
            throw fail(at, "unknown escape '\\\(e.escaped(asASCII: true))'")
        }
    }
}
