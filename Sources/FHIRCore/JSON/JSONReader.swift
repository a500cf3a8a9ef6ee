/// Reads FHIR JSON into the resource tree, keeping everything: member order, number lexemes, `_name`
/// primitive extensions, unknown members.
///
/// A hand-written RFC 8259 parser over raw bytes: it validates UTF-8 itself, refuses duplicate member
/// names (FHIR forbids them, and the canonical form would be ambiguous), and enforces ``FHIRLimits``.
/// Errors carry the line, column and the JSON pointer of the value being read.
public struct JSONReader: Sendable {
    public var limits: FHIRLimits

    public init(limits: FHIRLimits = .default) {
        self.limits = limits
    }

    /// Parses one JSON value (a whole document, or one NDJSON line).
    public func readValue(_ bytes: UnsafeRawBufferPointer) throws(FHIRError) -> FHIRValue {
        guard bytes.count <= limits.maxDocumentBytes else {
            throw FHIRError(.tooLarge, "the document is \(bytes.count) bytes; the limit is \(limits.maxDocumentBytes) bytes", at: SourceLocation(line: 1, column: 1))
        }
        let buffer = bytes.bindMemory(to: UInt8.self)
        guard let base = buffer.baseAddress, !buffer.isEmpty else {
            throw FHIRError(.malformedJSON, "the input is empty", at: SourceLocation(line: 1, column: 1))
        }
        var parser = JSONParser(base: base, count: buffer.count, limits: limits)
        do {
            return try parser.parseDocument()
        } catch let failure {
            let (line, column) = SourceLocation.lineAndColumn(of: failure.offset, in: buffer)
            let pointer = failure.path.reversed().map { "/" + SourceLocation.escapePointerToken($0) }.joined()
            throw FHIRError(failure.code, failure.reason, at: SourceLocation(line: line, column: column, pointer: pointer))
        }
    }

    /// Parses one JSON value from a byte array.
    public func readValue(_ bytes: [UInt8]) throws(FHIRError) -> FHIRValue {
        let result = bytes.withUnsafeBytes { raw in Result { () throws(FHIRError) in try readValue(raw) } }
        return try result.get()
    }

    /// Parses a resource: a JSON object with a `resourceType`.
    public func read(_ bytes: [UInt8]) throws(FHIRError) -> Resource {
        try Resource(readValue(bytes))
    }

    /// Parses a resource from raw bytes.
    public func read(_ bytes: UnsafeRawBufferPointer) throws(FHIRError) -> Resource {
        try Resource(readValue(bytes))
    }
}

/// A parse failure before it is turned into a ``FHIRError``: the byte offset, and the path from the
/// failing value up to the root (innermost first, appended while unwinding).
struct JSONParseFailure: Error {
    var code: FHIRError.Code
    var reason: String
    var offset: Int
    var path: [String] = []
}

/// The recursive-descent parser. One instance reads one document.
struct JSONParser {
    let base: UnsafePointer<UInt8>
    let count: Int
    let limits: FHIRLimits
    var pos = 0
    var depth = 0
    /// Scratch buffer for strings with escapes, reused across strings.
    var scratch: [UInt8] = []

    init(base: UnsafePointer<UInt8>, count: Int, limits: FHIRLimits) {
        self.base = base
        self.count = count
        self.limits = limits
    }

    mutating func parseDocument() throws(JSONParseFailure) -> FHIRValue {
        // A UTF-8 byte order mark may be ignored (RFC 8259 §8.1).
        if count >= 3 && base[0] == 0xEF && base[1] == 0xBB && base[2] == 0xBF { pos = 3 }
        skipWhitespace()
        let value = try parseValue()
        skipWhitespace()
        guard pos == count else {
            throw fail(.malformedJSON, "unexpected \(describe(pos)) after the end of the JSON value")
        }
        return value
    }

    @inline(__always)
    mutating func skipWhitespace() {
        // Pretty-printed exports are mostly indentation: skip runs of spaces 8 bytes at a time.
        while pos + 8 <= count && UnsafeRawPointer(base + pos).loadUnaligned(as: UInt64.self) == 0x2020_2020_2020_2020 {
            pos += 8
        }
        while pos < count {
            let c = base[pos]
            guard c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 else { return }
            pos += 1
        }
    }

    func fail(_ code: FHIRError.Code, _ reason: String, at offset: Int? = nil) -> JSONParseFailure {
        JSONParseFailure(code: code, reason: reason, offset: offset ?? pos)
    }

    func describe(_ offset: Int) -> String {
        guard offset < count else { return "end of input" }
        let c = base[offset]
        if c >= 0x21 && c < 0x7F { return "'\(Character(Unicode.Scalar(c)))'" }
        return "byte 0x\(String(c, radix: 16, uppercase: true))"
    }

    mutating func parseValue() throws(JSONParseFailure) -> FHIRValue {
        guard pos < count else { throw fail(.malformedJSON, "the JSON ends where a value was expected (truncated input?)") }
        switch base[pos] {
        case UInt8(ascii: "{"): return .object(try parseObject())
        case UInt8(ascii: "["): return .array(try parseArray())
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expectLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectLiteral("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumber())
        default: throw fail(.malformedJSON, "unexpected \(describe(pos)) where a JSON value was expected")
        }
    }

    mutating func expectLiteral(_ word: StaticString) throws(JSONParseFailure) {
        let n = word.utf8CodeUnitCount
        let p = word.utf8Start
        guard pos + n <= count else { throw fail(.malformedJSON, "the JSON ends inside the literal '\(word)' (truncated input?)") }
        for i in 0..<n where base[pos + i] != p[i] {
            throw fail(.malformedJSON, "invalid literal: expected '\(word)'")
        }
        pos += n
    }

    mutating func enter() throws(JSONParseFailure) {
        depth += 1
        if depth > limits.maxDepth {
            throw fail(.tooDeep, "nesting is deeper than \(limits.maxDepth) levels")
        }
    }

    mutating func parseObject() throws(JSONParseFailure) -> FHIRObject {
        try enter()
        pos += 1  // {
        var members: [FHIRObject.Member] = []
        members.reserveCapacity(6)
        skipWhitespace()
        if pos < count && base[pos] == UInt8(ascii: "}") {
            pos += 1
            depth -= 1
            return FHIRObject(members: members)
        }
        while true {
            skipWhitespace()
            guard pos < count else { throw fail(.malformedJSON, "the JSON ends inside an object (truncated input?)") }
            guard base[pos] == UInt8(ascii: "\"") else {
                throw fail(.malformedJSON, "expected a member name in double quotes, found \(describe(pos))")
            }
            let nameOffset = pos
            let name = try parseString()
            skipWhitespace()
            guard pos < count, base[pos] == UInt8(ascii: ":") else {
                throw fail(.malformedJSON, "expected ':' after member name \"\(name)\", found \(describe(pos))")
            }
            pos += 1
            skipWhitespace()
            let value: FHIRValue
            do {
                value = try parseValue()
            } catch var failure {
                failure.path.append(name)
                throw failure
            }
            for m in members where m.name == name {
                throw fail(.duplicateMember, "the member \"\(name)\" appears twice in one object", at: nameOffset)
            }
            members.append(FHIRObject.Member(name: name, value: value))
            skipWhitespace()
            guard pos < count else { throw fail(.malformedJSON, "the JSON ends inside an object (truncated input?)") }
            let c = base[pos]
            pos += 1
            if c == UInt8(ascii: ",") { continue }
            if c == UInt8(ascii: "}") { break }
            throw fail(.malformedJSON, "expected ',' or '}' in an object, found \(describe(pos - 1))", at: pos - 1)
        }
        depth -= 1
        return FHIRObject(members: members)
    }

    mutating func parseArray() throws(JSONParseFailure) -> [FHIRValue] {
        try enter()
        pos += 1  // [
        var items: [FHIRValue] = []
        skipWhitespace()
        if pos < count && base[pos] == UInt8(ascii: "]") {
            pos += 1
            depth -= 1
            return items
        }
        while true {
            skipWhitespace()
            do {
                items.append(try parseValue())
            } catch var failure {
                failure.path.append(String(items.count))
                throw failure
            }
            skipWhitespace()
            guard pos < count else { throw fail(.malformedJSON, "the JSON ends inside an array (truncated input?)") }
            let c = base[pos]
            pos += 1
            if c == UInt8(ascii: ",") { continue }
            if c == UInt8(ascii: "]") { break }
            throw fail(.malformedJSON, "expected ',' or ']' in an array, found \(describe(pos - 1))", at: pos - 1)
        }
        depth -= 1
        return items
    }

    mutating func parseNumber() throws(JSONParseFailure) -> FHIRNumber {
        let start = pos
        if base[pos] == UInt8(ascii: "-") { pos += 1 }
        guard pos < count else { throw fail(.malformedJSON, "the JSON ends inside a number") }
        if base[pos] == UInt8(ascii: "0") {
            pos += 1
        } else if isDigit(base[pos]) {
            while pos < count && isDigit(base[pos]) { pos += 1 }
        } else {
            throw fail(.malformedJSON, "invalid number: expected a digit, found \(describe(pos))")
        }
        if pos < count && base[pos] == UInt8(ascii: ".") {
            pos += 1
            guard pos < count && isDigit(base[pos]) else { throw fail(.malformedJSON, "invalid number: expected a digit after '.'") }
            while pos < count && isDigit(base[pos]) { pos += 1 }
        }
        if pos < count && (base[pos] == UInt8(ascii: "e") || base[pos] == UInt8(ascii: "E")) {
            pos += 1
            if pos < count && (base[pos] == UInt8(ascii: "+") || base[pos] == UInt8(ascii: "-")) { pos += 1 }
            guard pos < count && isDigit(base[pos]) else { throw fail(.malformedJSON, "invalid number: expected a digit in the exponent") }
            while pos < count && isDigit(base[pos]) { pos += 1 }
        }
        if pos - start > 1024 { throw fail(.tooLarge, "a number of \(pos - start) characters is not a FHIR number", at: start) }
        let lexeme = String(decoding: UnsafeBufferPointer(start: base + start, count: pos - start), as: UTF8.self)
        return FHIRNumber(uncheckedLexeme: lexeme)
    }

    @inline(__always)
    func isDigit(_ c: UInt8) -> Bool { c &- UInt8(ascii: "0") < 10 }

    /// Reads a string starting at its opening quote. The fast path (no escapes) makes one String straight
    /// from the input bytes after validating them.
    mutating func parseString() throws(JSONParseFailure) -> String {
        pos += 1  // opening quote
        let start = pos
        let maxEnd = min(count, start &+ limits.maxStringBytes)
        while pos < maxEnd {
            // Plain ASCII runs go 8 bytes at a time.
            if pos + 8 <= maxEnd && !SWAR.hasStringSpecial(UnsafeRawPointer(base + pos).loadUnaligned(as: UInt64.self)) {
                pos += 8
                continue
            }
            let c = base[pos]
            if c == UInt8(ascii: "\"") {
                let s = String(decoding: UnsafeBufferPointer(start: base + start, count: pos - start), as: UTF8.self)
                pos += 1
                return s
            }
            if c == UInt8(ascii: "\\") { return try parseEscapedString(from: start) }
            if c < 0x20 { throw fail(.malformedJSON, "control character 0x\(String(c, radix: 16, uppercase: true)) must be escaped inside a string") }
            if c < 0x80 {
                pos += 1
            } else {
                try skipUTF8Sequence()
            }
        }
        if maxEnd < count { throw fail(.tooLarge, "a string is longer than \(limits.maxStringBytes) bytes", at: start - 1) }
        throw fail(.malformedJSON, "the JSON ends inside a string (truncated input or missing closing quote)", at: start - 1)
    }

    /// The slow path: copies into `scratch`, decoding escapes.
    mutating func parseEscapedString(from start: Int) throws(JSONParseFailure) -> String {
        scratch.removeAll(keepingCapacity: true)
        scratch.append(contentsOf: UnsafeBufferPointer(start: base + start, count: pos - start))
        while pos < count {
            if scratch.count > limits.maxStringBytes { throw fail(.tooLarge, "a string is longer than \(limits.maxStringBytes) bytes", at: start - 1) }
            let c = base[pos]
            if c == UInt8(ascii: "\"") {
                pos += 1
                return String(decoding: scratch, as: UTF8.self)
            }
            if c == UInt8(ascii: "\\") {
                pos += 1
                guard pos < count else { break }
                let e = base[pos]
                pos += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): scratch.append(e)
                case UInt8(ascii: "b"): scratch.append(0x08)
                case UInt8(ascii: "f"): scratch.append(0x0C)
                case UInt8(ascii: "n"): scratch.append(0x0A)
                case UInt8(ascii: "r"): scratch.append(0x0D)
                case UInt8(ascii: "t"): scratch.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if scalar >= 0xD800 && scalar < 0xDC00 {
                        guard pos + 1 < count, base[pos] == UInt8(ascii: "\\"), base[pos + 1] == UInt8(ascii: "u") else {
                            throw fail(.invalidUTF8, "a \\u escape encodes a lone high surrogate, which is not a Unicode character")
                        }
                        pos += 2
                        let low = try hex4()
                        guard low >= 0xDC00 && low < 0xE000 else {
                            throw fail(.invalidUTF8, "a \\u escape encodes a high surrogate not followed by a low surrogate")
                        }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if scalar >= 0xDC00 && scalar < 0xE000 {
                        throw fail(.invalidUTF8, "a \\u escape encodes a lone low surrogate, which is not a Unicode character")
                    }
                    appendUTF8(scalar)
                default:
                    throw fail(.malformedJSON, "invalid escape '\\\(Character(Unicode.Scalar(e)))' in a string", at: pos - 2)
                }
                continue
            }
            if c < 0x20 { throw fail(.malformedJSON, "control character 0x\(String(c, radix: 16, uppercase: true)) must be escaped inside a string") }
            if c < 0x80 {
                scratch.append(c)
                pos += 1
            } else {
                let s = pos
                try skipUTF8Sequence()
                scratch.append(contentsOf: UnsafeBufferPointer(start: base + s, count: pos - s))
            }
        }
        throw fail(.malformedJSON, "the JSON ends inside a string (truncated input or missing closing quote)", at: start - 1)
    }

    mutating func hex4() throws(JSONParseFailure) -> UInt32 {
        guard pos + 4 <= count else { throw fail(.malformedJSON, "the JSON ends inside a \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = base[pos]
            let d: UInt32
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(c - UInt8(ascii: "A") + 10)
            default: throw fail(.malformedJSON, "invalid hex digit \(describe(pos)) in a \\u escape")
            }
            v = v << 4 | d
            pos += 1
        }
        return v
    }

    mutating func appendUTF8(_ scalar: UInt32) {
        switch scalar {
        case 0..<0x80:
            scratch.append(UInt8(scalar))
        case 0x80..<0x800:
            scratch.append(UInt8(0xC0 | scalar >> 6))
            scratch.append(UInt8(0x80 | scalar & 0x3F))
        case 0x800..<0x10000:
            scratch.append(UInt8(0xE0 | scalar >> 12))
            scratch.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            scratch.append(UInt8(0x80 | scalar & 0x3F))
        default:
            scratch.append(UInt8(0xF0 | scalar >> 18))
            scratch.append(UInt8(0x80 | scalar >> 12 & 0x3F))
            scratch.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            scratch.append(UInt8(0x80 | scalar & 0x3F))
        }
    }

    /// Validates one multi-byte UTF-8 sequence at `pos` (Unicode 15 Table 3-7: no overlongs, no
    /// surrogates, nothing above U+10FFFF) and steps over it.
    @inline(__always)
    mutating func skipUTF8Sequence() throws(JSONParseFailure) {
        let c0 = base[pos]
        let n: Int
        var lo: UInt8 = 0x80
        var hi: UInt8 = 0xBF
        switch c0 {
        case 0xC2...0xDF: n = 2
        case 0xE0: n = 3; lo = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: n = 3
        case 0xED: n = 3; hi = 0x9F
        case 0xF0: n = 4; lo = 0x90
        case 0xF1...0xF3: n = 4
        case 0xF4: n = 4; hi = 0x8F
        default: throw fail(.invalidUTF8, "invalid UTF-8: byte 0x\(String(c0, radix: 16, uppercase: true)) cannot start a character")
        }
        guard pos + n <= count else { throw fail(.invalidUTF8, "invalid UTF-8: a character is cut off by the end of the input") }
        let c1 = base[pos + 1]
        guard c1 >= lo && c1 <= hi else { throw fail(.invalidUTF8, "invalid UTF-8: bad continuation byte 0x\(String(c1, radix: 16, uppercase: true))", at: pos + 1) }
        var i = 2
        while i < n {
            let c = base[pos + i]
            guard c & 0xC0 == 0x80 else { throw fail(.invalidUTF8, "invalid UTF-8: bad continuation byte 0x\(String(c, radix: 16, uppercase: true))", at: pos + i) }
            i += 1
        }
        pos += n
    }
}
