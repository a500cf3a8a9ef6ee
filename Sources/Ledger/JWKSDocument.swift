/// The structural check a client's JWKS (RFC 7517 §5) passes before it goes on the ledger: strict JSON (RFC 8259,
/// UTF-8, no duplicate member names, nesting bounded), an object whose `keys` member is an array of 1 to
/// ``maxKeys`` objects, each with a non-empty string `kty`. Public keys only: a key with a private member (`d`,
/// `p`, `q`, `dp`, `dq`, `qi`, `oth`, `k`) or a symmetric one (`kty` `oct`) is refused, since the ledger is replicated
/// to every provider. Whether a key is usable for an algorithm is the token endpoint's concern, not the ledger's.
///
/// The parser is our own so that every validator decides alike, whatever its Foundation version.
public enum JWKSDocument {
    public static let maxBytes = 16 << 10
    public static let maxKeys = 16
    static let maxDepth = 16
    static let privateMembers: Set<String> = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"]

    /// Why `bytes` is not an acceptable public JWKS, or nil.
    public static func problem(_ bytes: [UInt8]) -> String? {
        guard !bytes.isEmpty, bytes.count <= maxBytes else { return "a JWKS is 1 to \(maxBytes) bytes, found \(bytes.count)" }
        var parser = Parser(bytes: bytes)
        let root: Node
        do throws(Parser.Failure) {
            root = try parser.document()
        } catch {
            return "not JSON: \(error.reason) at byte \(error.offset)"
        }
        guard case .object(let members) = root else { return "a JWKS is a JSON object" }
        guard case .array(let keys)? = members.first(where: { $0.0 == "keys" })?.1 else { return "a JWKS has a \"keys\" array" }
        guard (1...maxKeys).contains(keys.count) else { return "a JWKS has 1 to \(maxKeys) keys, found \(keys.count)" }
        for (n, key) in keys.enumerated() {
            guard case .object(let fields) = key else { return "keys[\(n)] is not an object" }
            guard case .string(let kty)? = fields.first(where: { $0.0 == "kty" })?.1, !kty.isEmpty else {
                return "keys[\(n)] has no \"kty\" string"
            }
            guard kty != "oct" else { return "keys[\(n)] is a symmetric (oct) key, a secret: a client registers public keys only" }
            if let member = fields.map(\.0).first(where: privateMembers.contains) {
                return "keys[\(n)] has the private member \"\(member)\": a client registers public keys only"
            }
        }
        return nil
    }

    /// A parsed JSON value: only what the check looks at is kept.
    enum Node {
        case object([(String, Node)])
        case array([Node])
        case string(String)
        case scalar
    }

    /// RFC 8259 §2–§7, strictly.
    struct Parser {
        struct Failure: Error {
            let reason: String
            let offset: Int
        }

        let bytes: [UInt8]
        var offset = 0

        mutating func document() throws(Failure) -> Node {
            guard String(validating: bytes, as: UTF8.self) != nil else { throw Failure(reason: "not UTF-8", offset: 0) }
            let node = try value(depth: 1)
            skipSpace()
            guard offset == bytes.count else { throw fail("bytes after the value") }
            return node
        }

        func fail(_ reason: String) -> Failure { Failure(reason: reason, offset: offset) }

        mutating func skipSpace() {
            while offset < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[offset]) { offset += 1 }
        }

        mutating func expect(_ literal: String) throws(Failure) {
            let l = Array(literal.utf8)
            guard bytes.count - offset >= l.count, Array(bytes[offset..<offset + l.count]) == l else { throw fail("expected \(literal)") }
            offset += l.count
        }

        mutating func value(depth: Int) throws(Failure) -> Node {
            guard depth <= JWKSDocument.maxDepth else { throw fail("nested deeper than \(JWKSDocument.maxDepth) levels") }
            skipSpace()
            guard offset < bytes.count else { throw fail("the input ends where a value is expected") }
            switch bytes[offset] {
            case UInt8(ascii: "{"): return try object(depth: depth)
            case UInt8(ascii: "["): return try array(depth: depth)
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): try expect("true"); return .scalar
            case UInt8(ascii: "f"): try expect("false"); return .scalar
            case UInt8(ascii: "n"): try expect("null"); return .scalar
            default: try number(); return .scalar
            }
        }

        mutating func object(depth: Int) throws(Failure) -> Node {
            offset += 1
            var members: [(String, Node)] = []
            var names: Set<String> = []
            skipSpace()
            if offset < bytes.count, bytes[offset] == UInt8(ascii: "}") {
                offset += 1
                return .object(members)
            }
            while true {
                skipSpace()
                guard offset < bytes.count, bytes[offset] == UInt8(ascii: "\"") else { throw fail("expected a member name") }
                let at = offset
                let name = try string()
                // Names compare as their bytes (the escapes resolved): "a" and "\u0061" are one name.
                guard names.insert(name).inserted else { throw Failure(reason: "the member \"\(name)\" appears twice", offset: at) }
                skipSpace()
                try expect(":")
                members.append((name, try value(depth: depth + 1)))
                skipSpace()
                guard offset < bytes.count else { throw fail("the input ends inside an object") }
                if bytes[offset] == UInt8(ascii: ",") { offset += 1; continue }
                try expect("}")
                return .object(members)
            }
        }

        mutating func array(depth: Int) throws(Failure) -> Node {
            offset += 1
            var items: [Node] = []
            skipSpace()
            if offset < bytes.count, bytes[offset] == UInt8(ascii: "]") {
                offset += 1
                return .array(items)
            }
            while true {
                items.append(try value(depth: depth + 1))
                skipSpace()
                guard offset < bytes.count else { throw fail("the input ends inside an array") }
                if bytes[offset] == UInt8(ascii: ",") { offset += 1; continue }
                try expect("]")
                return .array(items)
            }
        }

        /// A string, its escapes resolved; the input is known to be UTF-8.
        mutating func string() throws(Failure) -> String {
            offset += 1
            var scalars = String.UnicodeScalarView()
            var raw: [UInt8] = []
            func flush() {
                scalars.append(contentsOf: String(decoding: raw, as: UTF8.self).unicodeScalars)
                raw.removeAll()
            }
            while offset < bytes.count {
                let b = bytes[offset]
                switch b {
                case UInt8(ascii: "\""):
                    offset += 1
                    flush()
                    return String(scalars)
                case UInt8(ascii: "\\"):
                    flush()
                    offset += 1
                    guard offset < bytes.count else { throw fail("the input ends inside an escape") }
                    let e = bytes[offset]
                    offset += 1
                    switch e {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): scalars.append(Unicode.Scalar(e))
                    case UInt8(ascii: "b"): scalars.append("\u{08}")
                    case UInt8(ascii: "f"): scalars.append("\u{0C}")
                    case UInt8(ascii: "n"): scalars.append("\n")
                    case UInt8(ascii: "r"): scalars.append("\r")
                    case UInt8(ascii: "t"): scalars.append("\t")
                    case UInt8(ascii: "u"): scalars.append(try unicodeEscape())
                    default: throw fail("an unknown escape")
                    }
                case 0x00..<0x20:
                    throw fail("a control character inside a string")
                default:
                    raw.append(b)
                    offset += 1
                }
            }
            throw fail("the input ends inside a string")
        }

        mutating func hex4() throws(Failure) -> UInt32 {
            guard bytes.count - offset >= 4 else { throw fail("a \\u escape needs four hex digits") }
            var v: UInt32 = 0
            for b in bytes[offset..<offset + 4] {
                let d: UInt32
                switch b {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(b - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(b - UInt8(ascii: "a") + 10)
                case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(b - UInt8(ascii: "A") + 10)
                default: throw fail("a \\u escape needs four hex digits")
                }
                v = v << 4 | d
            }
            offset += 4
            return v
        }

        /// `\uXXXX`, a surrogate pair taken whole; a lone surrogate is refused.
        mutating func unicodeEscape() throws(Failure) -> Unicode.Scalar {
            let high = try hex4()
            if (0xDC00...0xDFFF).contains(high) { throw fail("a lone low surrogate") }
            if (0xD800...0xDBFF).contains(high) {
                guard bytes.count - offset >= 2, bytes[offset] == UInt8(ascii: "\\"), bytes[offset + 1] == UInt8(ascii: "u") else {
                    throw fail("a high surrogate without its low half")
                }
                offset += 2
                let low = try hex4()
                guard (0xDC00...0xDFFF).contains(low) else { throw fail("a high surrogate without its low half") }
                // Always a valid scalar: U+10000 to U+10FFFF.
                return Unicode.Scalar(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)) ?? "\u{FFFD}"
            }
            return Unicode.Scalar(high) ?? "\u{FFFD}"
        }

        /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
        mutating func number() throws(Failure) {
            func digits() -> Int {
                let start = offset
                while offset < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[offset]) { offset += 1 }
                return offset - start
            }
            if offset < bytes.count, bytes[offset] == UInt8(ascii: "-") { offset += 1 }
            guard offset < bytes.count else { throw fail("expected a value") }
            if bytes[offset] == UInt8(ascii: "0") {
                offset += 1
            } else {
                guard digits() > 0 else { throw fail("expected a value") }
            }
            if offset < bytes.count, bytes[offset] == UInt8(ascii: ".") {
                offset += 1
                guard digits() > 0 else { throw fail("a decimal point needs digits after it") }
            }
            if offset < bytes.count, bytes[offset] == UInt8(ascii: "e") || bytes[offset] == UInt8(ascii: "E") {
                offset += 1
                if offset < bytes.count, bytes[offset] == UInt8(ascii: "+") || bytes[offset] == UInt8(ascii: "-") { offset += 1 }
                guard digits() > 0 else { throw fail("an exponent needs digits") }
            }
        }
    }
}
