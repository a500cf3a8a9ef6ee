/// Reads FHIR JSON, keeping everything: member order, number lexemes, `_name` primitive extensions,
/// unknown members.
///
/// A hand-written RFC 8259 parser over raw bytes: it validates UTF-8 itself, refuses duplicate member
/// names (FHIR forbids them, and the canonical form would be ambiguous), and enforces ``FHIRLimits``.
/// Errors carry the line, column and the JSON pointer of the value being read.
///
/// The parser produces a ``JSONTape`` (one flat array of nodes over the input bytes, no allocation per
/// value); ``readValue(_:)-7w2kz`` builds the resource tree from it, and ``CanonicalForm`` can hash a
/// document straight from the tape.
public struct JSONReader: Sendable {
    public var limits: FHIRLimits

    public init(limits: FHIRLimits = .default) {
        self.limits = limits
    }

    /// Parses one JSON document (a whole file, or one NDJSON line) into a tape.
    public func readTape(_ bytes: [UInt8]) throws(FHIRError) -> JSONTape {
        guard bytes.count <= limits.maxDocumentBytes else {
            throw FHIRError(.tooLarge, "the document is \(bytes.count) bytes; the limit is \(limits.maxDocumentBytes) bytes", at: SourceLocation(line: 1, column: 1))
        }
        guard !bytes.isEmpty else {
            throw FHIRError(.malformedJSON, "the input is empty", at: SourceLocation(line: 1, column: 1))
        }
        let outcome: Result<JSONTape, FHIRError> = bytes.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else {
                return .failure(FHIRError(.malformedJSON, "the input is empty", at: SourceLocation(line: 1, column: 1)))
            }
            var parser = JSONParser(base: base, count: buffer.count, limits: limits)
            do throws(JSONParseFailure) {
                try parser.parseDocument()
                return .success(JSONTape(source: bytes, nodes: parser.nodes, arena: parser.arena))
            } catch let failure {
                let (line, column) = SourceLocation.lineAndColumn(of: failure.offset, in: buffer)
                let pointer = failure.path.reversed().map { "/" + SourceLocation.escapePointerToken($0) }.joined()
                return .failure(FHIRError(failure.code, failure.reason, at: SourceLocation(line: line, column: column, pointer: pointer)))
            }
        }
        return try outcome.get()
    }

    /// Parses one JSON value (a whole document, or one NDJSON line).
    public func readValue(_ bytes: UnsafeRawBufferPointer) throws(FHIRError) -> FHIRValue {
        try readTape(Array(bytes)).value()
    }

    /// Parses one JSON value from a byte array.
    public func readValue(_ bytes: [UInt8]) throws(FHIRError) -> FHIRValue {
        try readTape(bytes).value()
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

/// The recursive-descent parser. One instance reads one document into ``nodes`` and ``arena``.
struct JSONParser {
    let base: UnsafePointer<UInt8>
    let count: Int
    let limits: FHIRLimits
    var pos = 0
    var depth = 0
    /// The tape being built (see ``JSONTape``).
    var nodes: [JSONTape.Node] = []
    /// Decoded bytes of strings that contained escapes.
    var arena: [UInt8] = []

    init(base: UnsafePointer<UInt8>, count: Int, limits: FHIRLimits) {
        self.base = base
        self.count = count
        self.limits = limits
        // Pretty-printed FHIR JSON has roughly one value per 20 bytes.
        nodes.reserveCapacity(count / 16 + 4)
    }

    mutating func parseDocument() throws(JSONParseFailure) {
        // A UTF-8 byte order mark may be ignored (RFC 8259 §8.1).
        if count >= 3 && base[0] == 0xEF && base[1] == 0xBB && base[2] == 0xBF { pos = 3 }
        skipWhitespace()
        try parseValue()
        skipWhitespace()
        guard pos == count else {
            throw fail(.malformedJSON, "unexpected \(describe(pos)) after the end of the JSON value")
        }
    }

    @inline(__always)
    mutating func skipWhitespace() {
        // A local cursor (the parser's own lives in memory), and pretty-printed exports are mostly indentation:
        // runs of spaces go 8 bytes at a time.
        var p = pos
        while p < count {
            let c = base[p]
            if c == 0x20 {
                if p + 8 <= count && UnsafeRawPointer(base + p).loadUnaligned(as: UInt64.self) == 0x2020_2020_2020_2020 {
                    p += 8
                } else {
                    p += 1
                }
            } else if c == 0x0A || c == 0x0D || c == 0x09 {
                p += 1
            } else {
                break
            }
        }
        pos = p
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

    @inline(__always)
    mutating func appendScalar(_ kind: JSONTape.Kind, start: Int, length: Int, escaped: Bool = false) {
        let index = UInt32(truncatingIfNeeded: nodes.count)
        nodes.append(JSONTape.Node(kind: kind, escaped: escaped, start: UInt32(truncatingIfNeeded: start),
                                   length: UInt32(truncatingIfNeeded: length), end: index &+ 1))
    }

    mutating func parseValue() throws(JSONParseFailure) {
        guard pos < count else { throw fail(.malformedJSON, "the JSON ends where a value was expected (truncated input?)") }
        switch base[pos] {
        case UInt8(ascii: "{"): try parseObject()
        case UInt8(ascii: "["): try parseArray()
        case UInt8(ascii: "\""): try parseString()
        case UInt8(ascii: "t"): try expectLiteral("true"); appendScalar(.true, start: pos - 4, length: 4)
        case UInt8(ascii: "f"): try expectLiteral("false"); appendScalar(.false, start: pos - 5, length: 5)
        case UInt8(ascii: "n"): try expectLiteral("null"); appendScalar(.null, start: pos - 4, length: 4)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try parseNumber()
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

    func stringValue(_ index: Int) -> String {
        let node = nodes[index]
        if node.escaped {
            return String(decoding: arena[Int(node.start)..<Int(node.start) + Int(node.length)], as: UTF8.self)
        }
        return String(decoding: UnsafeBufferPointer(start: base + Int(node.start), count: Int(node.length)), as: UTF8.self)
    }

    /// Whether the name node at `a` spells the same name as the one at `b`.
    func sameName(_ a: Int, _ b: Int) -> Bool {
        let x = nodes[a]
        let y = nodes[b]
        guard x.length == y.length else { return false }
        if !x.escaped && !y.escaped {
            let p = base + Int(x.start)
            let q = base + Int(y.start)
            for i in 0..<Int(x.length) where p[i] != q[i] { return false }
            return true
        }
        return stringValue(a) == stringValue(b)
    }

    mutating func parseObject() throws(JSONParseFailure) {
        try enter()
        let objectIndex = nodes.count
        appendScalar(.object, start: pos, length: 0)
        pos += 1  // {
        var memberCount = 0
        skipWhitespace()
        if pos < count && base[pos] == UInt8(ascii: "}") {
            pos += 1
            depth -= 1
            nodes[objectIndex].end = UInt32(truncatingIfNeeded: nodes.count)
            return
        }
        while true {
            skipWhitespace()
            guard pos < count else { throw fail(.malformedJSON, "the JSON ends inside an object (truncated input?)") }
            guard base[pos] == UInt8(ascii: "\"") else {
                throw fail(.malformedJSON, "expected a member name in double quotes, found \(describe(pos))")
            }
            let nameOffset = pos
            let nameIndex = nodes.count
            try parseString()
            skipWhitespace()
            guard pos < count, base[pos] == UInt8(ascii: ":") else {
                throw fail(.malformedJSON, "expected ':' after member name \"\(stringValue(nameIndex))\", found \(describe(pos))")
            }
            pos += 1
            skipWhitespace()
            do {
                try parseValue()
            } catch var failure {
                failure.path.append(stringValue(nameIndex))
                throw failure
            }
            // Earlier members: each name node is followed by its value's subtree.
            var other = objectIndex + 1
            while other < nameIndex {
                if sameName(other, nameIndex) {
                    throw fail(.duplicateMember, "the member \"\(stringValue(nameIndex))\" appears twice in one object", at: nameOffset)
                }
                other = Int(nodes[other + 1].end)
            }
            memberCount += 1
            skipWhitespace()
            guard pos < count else { throw fail(.malformedJSON, "the JSON ends inside an object (truncated input?)") }
            let c = base[pos]
            pos += 1
            if c == UInt8(ascii: ",") { continue }
            if c == UInt8(ascii: "}") { break }
            throw fail(.malformedJSON, "expected ',' or '}' in an object, found \(describe(pos - 1))", at: pos - 1)
        }
        depth -= 1
        nodes[objectIndex].length = UInt32(truncatingIfNeeded: memberCount)
        nodes[objectIndex].end = UInt32(truncatingIfNeeded: nodes.count)
    }

    mutating func parseArray() throws(JSONParseFailure) {
        try enter()
        let arrayIndex = nodes.count
        appendScalar(.array, start: pos, length: 0)
        pos += 1  // [
        var itemCount = 0
        skipWhitespace()
        if pos < count && base[pos] == UInt8(ascii: "]") {
            pos += 1
            depth -= 1
            nodes[arrayIndex].end = UInt32(truncatingIfNeeded: nodes.count)
            return
        }
        while true {
            skipWhitespace()
            do {
                try parseValue()
            } catch var failure {
                failure.path.append(String(itemCount))
                throw failure
            }
            itemCount += 1
            skipWhitespace()
            guard pos < count else { throw fail(.malformedJSON, "the JSON ends inside an array (truncated input?)") }
            let c = base[pos]
            pos += 1
            if c == UInt8(ascii: ",") { continue }
            if c == UInt8(ascii: "]") { break }
            throw fail(.malformedJSON, "expected ',' or ']' in an array, found \(describe(pos - 1))", at: pos - 1)
        }
        depth -= 1
        nodes[arrayIndex].length = UInt32(truncatingIfNeeded: itemCount)
        nodes[arrayIndex].end = UInt32(truncatingIfNeeded: nodes.count)
    }

    mutating func parseNumber() throws(JSONParseFailure) {
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
        appendScalar(.number, start: start, length: pos - start)
    }

    @inline(__always)
    func isDigit(_ c: UInt8) -> Bool { c &- UInt8(ascii: "0") < 10 }

    /// Reads a string starting at its opening quote. The fast path (no escapes) only validates: the node
    /// points at the input bytes.
    mutating func parseString() throws(JSONParseFailure) {
        let start = pos + 1  // after the opening quote
        let maxEnd = min(count, start &+ limits.maxStringBytes)
        var p = start
        while p < maxEnd {
            // Plain ASCII runs go 8 bytes at a time, on a local cursor.
            if p + 8 <= maxEnd && !SWAR.hasStringSpecial(UnsafeRawPointer(base + p).loadUnaligned(as: UInt64.self)) {
                p += 8
                continue
            }
            let c = base[p]
            if c < 0x80 && c != UInt8(ascii: "\"") && c != UInt8(ascii: "\\") && c >= 0x20 {
                p += 1
                continue
            }
            pos = p
            if c == UInt8(ascii: "\"") {
                appendScalar(.string, start: start, length: pos - start)
                pos += 1
                return
            }
            if c == UInt8(ascii: "\\") { return try parseEscapedString(from: start) }
            if c < 0x20 { throw fail(.malformedJSON, "control character 0x\(String(c, radix: 16, uppercase: true)) must be escaped inside a string") }
            try skipUTF8Sequence()
            p = pos
        }
        pos = p
        if maxEnd < count { throw fail(.tooLarge, "a string is longer than \(limits.maxStringBytes) bytes", at: start - 1) }
        throw fail(.malformedJSON, "the JSON ends inside a string (truncated input or missing closing quote)", at: start - 1)
    }

    /// The slow path: decodes the string into the arena.
    mutating func parseEscapedString(from start: Int) throws(JSONParseFailure) {
        let arenaStart = arena.count
        arena.append(contentsOf: UnsafeBufferPointer(start: base + start, count: pos - start))
        while pos < count {
            if arena.count - arenaStart > limits.maxStringBytes { throw fail(.tooLarge, "a string is longer than \(limits.maxStringBytes) bytes", at: start - 1) }
            let c = base[pos]
            if c == UInt8(ascii: "\"") {
                pos += 1
                appendScalar(.string, start: arenaStart, length: arena.count - arenaStart, escaped: true)
                return
            }
            if c == UInt8(ascii: "\\") {
                pos += 1
                guard pos < count else { break }
                let e = base[pos]
                pos += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): arena.append(e)
                case UInt8(ascii: "b"): arena.append(0x08)
                case UInt8(ascii: "f"): arena.append(0x0C)
                case UInt8(ascii: "n"): arena.append(0x0A)
                case UInt8(ascii: "r"): arena.append(0x0D)
                case UInt8(ascii: "t"): arena.append(0x09)
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
                arena.append(c)
                pos += 1
            } else {
                let s = pos
                try skipUTF8Sequence()
                arena.append(contentsOf: UnsafeBufferPointer(start: base + s, count: pos - s))
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
            arena.append(UInt8(scalar))
        case 0x80..<0x800:
            arena.append(UInt8(0xC0 | scalar >> 6))
            arena.append(UInt8(0x80 | scalar & 0x3F))
        case 0x800..<0x10000:
            arena.append(UInt8(0xE0 | scalar >> 12))
            arena.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            arena.append(UInt8(0x80 | scalar & 0x3F))
        default:
            arena.append(UInt8(0xF0 | scalar >> 18))
            arena.append(UInt8(0x80 | scalar >> 12 & 0x3F))
            arena.append(UInt8(0x80 | scalar >> 6 & 0x3F))
            arena.append(UInt8(0x80 | scalar & 0x3F))
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
