/// A JSON value as ``JSONSyntax`` read it, with where it starts in the text (for errors).
struct JSONValue: Sendable {
    enum Kind: Sendable {
        case object([String: JSONValue])
        case array([JSONValue])
        case string(String)
        /// An integer, the only numbers the formats we define contain: its sign and magnitude.
        case integer(negative: Bool, magnitude: UInt64)
        case bool(Bool)
        case null
    }

    var kind: Kind
    /// The byte offset (from 0), line and column (from 1; the column in bytes) of the value's first byte.
    var offset: Int
    var line: Int
    var column: Int
}

/// A strict reading of a JSON text (RFC 8259) in one of the formats we define (receipts, consent proofs) into a
/// ``JSONValue`` tree. It says where a text is truncated or malformed (byte, line, column and the member being
/// read), and refuses what those formats never contain: nesting deeper than a limit, a member name twice in one
/// object (readers could each pick another value), numbers that are not integers of at most 64 bits (a reader
/// would round them), and invalid UTF-8 or lone surrogates. The reader that follows (``JSONMember``) only has
/// types and shapes to check.
struct JSONSyntax {
    /// A step of the path to a value.
    enum Step: Sendable, Hashable {
        case member(String)
        case index(Int)
    }

    private let bytes: [UInt8]
    private let subject: String
    private let maxDepth: Int
    private var i = 0
    private var depth = 0
    /// The current line (from 1) and the offset its first byte has; JSON has line breaks only between tokens.
    private var line = 1
    private var lineStart = 0
    private var path: [Step] = []

    /// Reads `bytes` as one JSON object and nothing else, within `maxDepth`; `subject` names it in errors.
    static func parse(_ bytes: [UInt8], subject: String, maxDepth: Int = ReceiptLimits.maxDepth) throws(ReceiptDecodingError) -> JSONValue {
        var parser = JSONSyntax(bytes: bytes, subject: subject, maxDepth: maxDepth)
        return try parser.document()
    }

    private init(bytes: [UInt8], subject: String, maxDepth: Int) {
        self.bytes = bytes
        self.subject = subject
        self.maxDepth = maxDepth
    }

    /// The RFC 6901 JSON pointer of `steps` (`/lightPath/2/commit/round`); "" is the whole document.
    static func pointer(_ steps: [Step]) -> String {
        var s = ""
        for step in steps {
            switch step {
            case .member(let name):
                s += "/"
                for c in name {
                    switch c {
                    case "~": s += "~0"
                    case "/": s += "~1"
                    default: s.append(c)
                    }
                }
            case .index(let n): s += "/\(n)"
            }
        }
        return s
    }

    // MARK: Grammar

    private mutating func document() throws(ReceiptDecodingError) -> JSONValue {
        skipWhitespace()
        guard i < bytes.count else {
            throw ReceiptDecodingError(.truncated, subject: subject, offset: i, line: line, column: i - lineStart + 1, reason: "it is empty")
        }
        guard bytes[i] == UInt8(ascii: "{") else { throw malformed("it is not a JSON object (it starts with \(quoted(bytes[i])))") }
        let root = try value()
        skipWhitespace()
        guard i == bytes.count else { throw malformed("\(quoted(bytes[i])) after the end of the top-level object") }
        return root
    }

    private mutating func value() throws(ReceiptDecodingError) -> JSONValue {
        skipWhitespace()
        guard i < bytes.count else { throw truncated() }
        let (offset, line, column) = (i, line, i - lineStart + 1)
        let kind: JSONValue.Kind
        switch bytes[i] {
        case UInt8(ascii: "{"): kind = .object(try object())
        case UInt8(ascii: "["): kind = .array(try array())
        case UInt8(ascii: "\""): kind = .string(String(decoding: try string(), as: UTF8.self))
        case UInt8(ascii: "t"): kind = try literal("true", .bool(true))
        case UInt8(ascii: "f"): kind = try literal("false", .bool(false))
        case UInt8(ascii: "n"): kind = try literal("null", .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): kind = try number()
        default: throw malformed("\(quoted(bytes[i])) where a value belongs")
        }
        return JSONValue(kind: kind, offset: offset, line: line, column: column)
    }

    private mutating func object() throws(ReceiptDecodingError) -> [String: JSONValue] {
        try enter()
        i += 1
        var members: [String: JSONValue] = [:]
        skipWhitespace()
        if i < bytes.count, bytes[i] == UInt8(ascii: "}") {
            i += 1
            depth -= 1
            return members
        }
        while true {
            skipWhitespace()
            guard i < bytes.count else { throw truncated() }
            guard bytes[i] == UInt8(ascii: "\"") else { throw malformed("\(quoted(bytes[i])) where a member name belongs") }
            let nameStart = i
            let name = String(decoding: try string(), as: UTF8.self)
            guard members[name] == nil else {
                i = nameStart
                throw malformed("the member \"\(name)\" appears twice in one object")
            }
            skipWhitespace()
            guard i < bytes.count else { throw truncated() }
            guard bytes[i] == UInt8(ascii: ":") else { throw malformed("\(quoted(bytes[i])) where ':' belongs after a member name") }
            i += 1
            path.append(.member(name))
            members[name] = try value()
            path.removeLast()
            skipWhitespace()
            guard i < bytes.count else { throw truncated() }
            switch bytes[i] {
            case UInt8(ascii: ","): i += 1
            case UInt8(ascii: "}"):
                i += 1
                depth -= 1
                return members
            default: throw malformed("\(quoted(bytes[i])) where ',' or '}' belongs")
            }
        }
    }

    private mutating func array() throws(ReceiptDecodingError) -> [JSONValue] {
        try enter()
        i += 1
        var elements: [JSONValue] = []
        skipWhitespace()
        if i < bytes.count, bytes[i] == UInt8(ascii: "]") {
            i += 1
            depth -= 1
            return elements
        }
        while true {
            path.append(.index(elements.count))
            elements.append(try value())
            path.removeLast()
            skipWhitespace()
            guard i < bytes.count else { throw truncated() }
            switch bytes[i] {
            case UInt8(ascii: ","): i += 1
            case UInt8(ascii: "]"):
                i += 1
                depth -= 1
                return elements
            default: throw malformed("\(quoted(bytes[i])) where ',' or ']' belongs")
            }
        }
    }

    private mutating func enter() throws(ReceiptDecodingError) {
        depth += 1
        guard depth <= maxDepth else {
            throw ReceiptDecodingError(.tooDeep, subject: subject, pointer: Self.pointer(path), offset: i, line: line, column: i - lineStart + 1,
                                       reason: "objects and arrays nest deeper than \(maxDepth) levels")
        }
    }

    /// The UTF-8 bytes of the string whose opening quote is at `i`, escapes decoded.
    private mutating func string() throws(ReceiptDecodingError) -> [UInt8] {
        i += 1
        var value: [UInt8] = []
        while true {
            guard i < bytes.count else { throw truncated() }
            let c = bytes[i]
            switch c {
            case UInt8(ascii: "\""):
                i += 1
                return value
            case UInt8(ascii: "\\"):
                try escape(into: &value)
            case 0..<0x20:
                throw malformed("a control character (0x\(String(c, radix: 16, uppercase: true))) in a string; it must be escaped")
            case 0x80...:
                let length = try utf8Sequence()
                value.append(contentsOf: bytes[i..<i + length])
                i += length
            default:
                value.append(c)
                i += 1
            }
        }
    }

    /// The escape at `i` (a backslash), appended to `value` as UTF-8.
    private mutating func escape(into value: inout [UInt8]) throws(ReceiptDecodingError) {
        let start = i
        i += 1
        guard i < bytes.count else { throw truncated() }
        let e = bytes[i]
        i += 1
        switch e {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): value.append(e)
        case UInt8(ascii: "b"): value.append(8)
        case UInt8(ascii: "f"): value.append(12)
        case UInt8(ascii: "n"): value.append(10)
        case UInt8(ascii: "r"): value.append(13)
        case UInt8(ascii: "t"): value.append(9)
        case UInt8(ascii: "u"):
            var scalar = try hex4()
            let lone = "a lone surrogate \\u\(String(scalar, radix: 16, uppercase: true)) in a string"
            if (0xD800...0xDBFF).contains(scalar) {
                // RFC 8259 §7: a scalar above U+FFFF is a surrogate pair; a high surrogate needs its low one.
                guard i + 1 < bytes.count else { throw truncated() }
                guard bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u") else { throw malformed(lone, at: start) }
                i += 2
                let low = try hex4()
                guard (0xDC00...0xDFFF).contains(low) else { throw malformed(lone, at: start) }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            } else if (0xDC00...0xDFFF).contains(scalar) {
                throw malformed(lone, at: start)
            }
            guard let u = Unicode.Scalar(scalar) else { throw malformed("an invalid \\u escape", at: start) }
            value.append(contentsOf: Array(String(Character(u)).utf8))
        default:
            throw malformed("an invalid escape \\\(String(decoding: [e], as: UTF8.self)) in a string", at: start)
        }
    }

    /// Four hex digits after `\u`.
    private mutating func hex4() throws(ReceiptDecodingError) -> UInt32 {
        var v: UInt32 = 0
        for _ in 0..<4 {
            guard i < bytes.count else { throw truncated() }
            let c = bytes[i]
            let d: UInt32
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(c - UInt8(ascii: "A") + 10)
            default: throw malformed("\(quoted(c)) where a hex digit of a \\u escape belongs")
            }
            v = v << 4 | d
            i += 1
        }
        return v
    }

    /// The length of the well-formed UTF-8 sequence of a non-ASCII scalar at `i` (RFC 3629 §4: no overlongs, no
    /// surrogates, nothing above U+10FFFF).
    private func utf8Sequence() throws(ReceiptDecodingError) -> Int {
        let lead = bytes[i]
        let length: Int
        var low: UInt8 = 0x80, high: UInt8 = 0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; low = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; high = 0x9F
        case 0xF0: length = 4; low = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; high = 0x8F
        default: throw malformed("invalid UTF-8 (byte 0x\(String(lead, radix: 16, uppercase: true)))")
        }
        for k in 1..<length {
            guard i + k < bytes.count else { throw truncated() }
            let c = bytes[i + k]
            let (lo, hi) = k == 1 ? (low, high) : (UInt8(0x80), UInt8(0xBF))
            guard (lo...hi).contains(c) else { throw malformed("invalid UTF-8 (byte 0x\(String(c, radix: 16, uppercase: true)))", at: i + k) }
        }
        return length
    }

    /// A number: only integers, within Int64.min…UInt64.max.
    private mutating func number() throws(ReceiptDecodingError) -> JSONValue.Kind {
        let start = i
        let negative = bytes[i] == UInt8(ascii: "-")
        if negative { i += 1 }
        guard i < bytes.count else { throw truncated() }
        guard isDigit(bytes[i]) else { throw malformed("\(quoted(bytes[i])) where a digit belongs") }
        var magnitude: UInt64 = 0
        var overflow = false
        if bytes[i] == UInt8(ascii: "0") {
            i += 1
        } else {
            while i < bytes.count, isDigit(bytes[i]) {
                let (m, o1) = magnitude.multipliedReportingOverflow(by: 10)
                let (s, o2) = m.addingReportingOverflow(UInt64(bytes[i] - UInt8(ascii: "0")))
                overflow = overflow || o1 || o2
                magnitude = s
                i += 1
            }
        }
        var fraction = false
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
            fraction = true
            i += 1
            guard i < bytes.count else { throw truncated() }
            guard isDigit(bytes[i]) else { throw malformed("\(quoted(bytes[i])) where a digit belongs") }
            while i < bytes.count, isDigit(bytes[i]) { i += 1 }
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            fraction = true
            i += 1
            if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
            guard i < bytes.count else { throw truncated() }
            guard isDigit(bytes[i]) else { throw malformed("\(quoted(bytes[i])) where a digit belongs") }
            while i < bytes.count, isDigit(bytes[i]) { i += 1 }
        }
        let lexeme = String(decoding: bytes[start..<min(i, start + 40)], as: UTF8.self) + (i - start > 40 ? "…" : "")
        if fraction { throw member("is not an integer (found \(lexeme)); every number in a \(subject) is one", at: start) }
        if overflow || (negative && magnitude > UInt64(Int64.max) + 1) {
            throw member("is out of range (found \(lexeme); integers are \(Int64.min) to \(UInt64.max))", at: start)
        }
        return .integer(negative: negative && magnitude != 0, magnitude: magnitude)
    }

    private mutating func literal(_ word: StaticString, _ kind: JSONValue.Kind) throws(ReceiptDecodingError) -> JSONValue.Kind {
        let expected = word.withUTF8Buffer { Array($0) }
        for (k, c) in expected.enumerated() {
            guard i + k < bytes.count else { throw truncated() }
            guard bytes[i + k] == c else { throw malformed("\(quoted(bytes[i])) where a value belongs") }
        }
        i += expected.count
        return kind
    }

    private func isDigit(_ c: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(c) }

    private mutating func skipWhitespace() {
        while i < bytes.count {
            switch bytes[i] {
            case 0x20, 0x09, 0x0D: i += 1
            case 0x0A:
                i += 1
                line += 1
                lineStart = i
            default: return
            }
        }
    }

    // MARK: Errors

    /// The text ends before the value being read does (always at the end of the input).
    private func truncated() -> ReceiptDecodingError {
        let inside = path.isEmpty ? "it ends inside the top-level object" : "it ends inside member \(Self.pointer(path))"
        let at = bytes.count
        return ReceiptDecodingError(.truncated, subject: subject, pointer: Self.pointer(path), offset: at, line: line, column: at - lineStart + 1,
                                    reason: inside)
    }

    /// Malformed at `offset` (default: `i`), which is on the current line: strings hold no raw line breaks.
    private func malformed(_ reason: String, at offset: Int? = nil) -> ReceiptDecodingError {
        let at = offset ?? i
        return ReceiptDecodingError(.malformed, subject: subject, pointer: Self.pointer(path), offset: at, line: line, column: at - lineStart + 1,
                                    reason: reason)
    }

    private func member(_ reason: String, at offset: Int) -> ReceiptDecodingError {
        ReceiptDecodingError(.member, subject: subject, pointer: Self.pointer(path), offset: offset, line: line, column: offset - lineStart + 1,
                             reason: reason)
    }

    private func quoted(_ c: UInt8) -> String {
        (0x21..<0x7F).contains(c) ? "'\(Character(Unicode.Scalar(c)))'" : "byte 0x\(String(c, radix: 16, uppercase: true))"
    }
}
