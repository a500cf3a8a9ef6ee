/// A FHIR value in the shape of FHIR JSON, keeping everything that was read.
///
/// This is the resource tree every codec produces and consumes. It is untyped on purpose: unknown
/// elements, `_name` primitive extensions, element ids, contained resources and the xhtml narrative are
/// all kept as they came. Numbers keep their lexical form (`1.50` stays `1.50`, integers beyond 2^53 stay
/// exact). Type knowledge (cardinality, element order, primitive types) lives in ``TypeTable`` and is
/// applied by the XML codec and the validator.
public enum FHIRValue: Sendable, Equatable {
    /// JSON `null`: only meaningful inside primitive arrays aligned with their `_name` twin.
    case null
    case bool(Bool)
    /// A number exactly as written in the source.
    case number(FHIRNumber)
    case string(String)
    case array([FHIRValue])
    case object(FHIRObject)
}

/// A JSON number kept as its lexical form, because in FHIR `4.50` and `4.5` differ in precision.
public struct FHIRNumber: Sendable, Hashable, CustomStringConvertible {
    /// The number exactly as written, e.g. `"1.50"`, `"-0.0"`, `"12345678901234567890"`.
    public let lexeme: String

    /// Wraps a lexeme that the caller has already checked against the JSON number grammar.
    public init(uncheckedLexeme lexeme: String) {
        self.lexeme = lexeme
    }

    /// Wraps a lexeme, returning nil unless it is a JSON number (RFC 8259 §6).
    public init?(_ lexeme: String) {
        guard FHIRNumber.isJSONNumber(lexeme.utf8) else { return nil }
        self.lexeme = lexeme
    }

    public init(_ value: Int) {
        self.lexeme = String(value)
    }

    public var description: String { lexeme }

    /// RFC 8259 §6: `-? (0 | [1-9][0-9]*) (\.[0-9]+)? ([eE][+-]?[0-9]+)?`.
    public static func isJSONNumber(_ bytes: some Collection<UInt8>) -> Bool {
        var it = bytes.makeIterator()
        var c = it.next()
        if c == UInt8(ascii: "-") { c = it.next() }
        guard let first = c else { return false }
        if first == UInt8(ascii: "0") {
            c = it.next()
        } else if first >= UInt8(ascii: "1") && first <= UInt8(ascii: "9") {
            repeat { c = it.next() } while c.map(isDigit) == true
        } else {
            return false
        }
        if c == UInt8(ascii: ".") {
            c = it.next()
            guard c.map(isDigit) == true else { return false }
            repeat { c = it.next() } while c.map(isDigit) == true
        }
        if c == UInt8(ascii: "e") || c == UInt8(ascii: "E") {
            c = it.next()
            if c == UInt8(ascii: "+") || c == UInt8(ascii: "-") { c = it.next() }
            guard c.map(isDigit) == true else { return false }
            repeat { c = it.next() } while c.map(isDigit) == true
        }
        return c == nil
    }

    private static func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }
}

extension FHIRValue {
    /// The object, if this is one.
    public var objectValue: FHIRObject? {
        if case .object(let o) = self { return o }
        return nil
    }

    /// The array, if this is one.
    public var arrayValue: [FHIRValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    /// The string, if this is one.
    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// A short name of the JSON kind, for error messages.
    public var kindName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .number: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }
}
