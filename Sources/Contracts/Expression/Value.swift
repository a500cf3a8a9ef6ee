/// A value of the expression language (a subset of CEL): 64-bit integers, exact rationals (this subset's
/// replacement for CEL's doubles), strings, booleans, lists and maps. Claim attributes are values too.
public enum Value: Sendable, Hashable {
    case int(Int64)
    /// Boxed: a rational is 32 bytes, and held inline it would make every value 33, passed and returned through
    /// memory; boxed, a value fits in registers, which makes the evaluator about a fifth faster on ints (the
    /// commonest priorities) for a few percent more on rational arithmetic.
    indirect case rational(Rational)
    case string(String)
    case bool(Bool)
    case list([Value])
    /// Keys are ints, strings or booleans (CEL map keys). Never iterated for a result without sorting.
    case map([Value: Value])

    /// The number as a rational, for ints and rationals.
    public var number: Rational? {
        switch self {
        case .int(let i): Rational(integer: i)
        case .rational(let r): r
        default: nil
        }
    }

    /// CEL's type name ("int", "string", …; "rational" for this subset's exact numbers).
    public var typeName: String {
        switch self {
        case .int: "int"
        case .rational: "rational"
        case .string: "string"
        case .bool: "bool"
        case .list: "list"
        case .map: "map"
        }
    }
}

extension Value: CustomStringConvertible {
    /// CEL-like text, with map entries sorted by key text so that it is the same everywhere.
    public var description: String {
        switch self {
        case .int(let i): "\(i)"
        case .rational(let r): r.isInteger ? "\(r)" : "rational(\"\(r)\")"
        case .string(let s): "\"\(s)\""
        case .bool(let b): b ? "true" : "false"
        case .list(let items): "[" + items.map(\.description).joined(separator: ", ") + "]"
        case .map(let entries):
            "{" + entries.map { "\($0.key.description): \($0.value.description)" }.sorted().joined(separator: ", ") + "}"
        }
    }
}

extension Value: Codable {
    /// JSON form: integers as numbers, booleans, strings; a string "p/q" or a decimal string stays a string (an
    /// attribute that should be a rational is written `"7/2"` and read as one by ``Claim``); lists and objects.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let b = try? c.decode(Bool.self) { self = .bool(b); return }
        if let i = try? c.decode(Int64.self) { self = .int(i); return }
        if let s = try? c.decode(String.self) { self = .string(s); return }
        if let l = try? c.decode([Value].self) { self = .list(l); return }
        if let m = try? c.decode([String: Value].self) {
            var out: [Value: Value] = [:]
            for (k, v) in m { out[.string(k)] = v }
            self = .map(out)
            return
        }
        throw DecodingError.dataCorruptedError(in: c, debugDescription: "a value is an integer, a boolean, a string, a list or an object (no floating point: write \"7/2\")")
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .int(let i): try c.encode(i)
        case .rational(let r): try c.encode(r)
        case .string(let s): try c.encode(s)
        case .bool(let b): try c.encode(b)
        case .list(let l): try c.encode(l)
        case .map(let m):
            var out: [String: Value] = [:]
            for (k, v) in m {
                if case .string(let s) = k { out[s] = v } else { out[k.description] = v }
            }
            try c.encode(out)
        }
    }
}
