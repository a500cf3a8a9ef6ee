import Ledger

/// A value of a receipt or consent proof at its place in the document, with strict readers: each says which member
/// is wrong (its JSON pointer, line and column) and why — `true` is not an integer, a string is not base64, a list
/// is longer than its limit, a member is missing.
struct JSONMember {
    let value: JSONValue
    /// The steps from the document to this value.
    let path: [JSONSyntax.Step]
    /// "receipt" or "consent proof", for errors.
    let subject: String

    /// The document `bytes`, read by ``JSONSyntax`` (truncation, nesting, duplicate names, numbers) and no larger
    /// than ``ReceiptLimits/maxBytes``.
    static func document(_ bytes: [UInt8], subject: String) throws(ReceiptDecodingError) -> JSONMember {
        guard bytes.count <= ReceiptLimits.maxBytes else { throw ReceiptDecodingError.tooLarge(subject: subject) }
        return JSONMember(value: try JSONSyntax.parse(bytes, subject: subject), path: [], subject: subject)
    }

    var pointer: String { JSONSyntax.pointer(path) }

    /// An error about this value.
    func fail(_ reason: String) -> ReceiptDecodingError {
        ReceiptDecodingError(.member, subject: subject, pointer: pointer, offset: value.offset, line: value.line, column: value.column, reason: reason)
    }

    /// What this value is, for errors: `true`, `null`, `a string`, `an array`, `-5`…
    var found: String {
        switch value.kind {
        case .object: "an object"
        case .array: "an array"
        case .string: "a string"
        case .integer(let negative, let magnitude): "\(negative ? "-" : "")\(magnitude)"
        case .bool(let b): "\(b)"
        case .null: "null"
        }
    }

    // MARK: Objects

    private func members() throws(ReceiptDecodingError) -> [String: JSONValue] {
        guard case .object(let members) = value.kind else { throw fail("is not an object (found \(found))") }
        return members
    }

    /// The member `name` of this object; missing (or this not an object) is an error.
    func member(_ name: String) throws(ReceiptDecodingError) -> JSONMember {
        guard let m = try optionalMember(name) else {
            throw ReceiptDecodingError(.member, subject: subject, pointer: JSONSyntax.pointer(path + [.member(name)]), offset: value.offset,
                                       line: value.line, column: value.column, reason: "is missing")
        }
        return m
    }

    /// The member `name` of this object, or nil when it has none (a `null` member is present: its reader refuses it).
    func optionalMember(_ name: String) throws(ReceiptDecodingError) -> JSONMember? {
        guard let v = try members()[name] else { return nil }
        return JSONMember(value: v, path: path + [.member(name)], subject: subject)
    }

    /// Whether this object has a member `name`.
    func has(_ name: String) throws(ReceiptDecodingError) -> Bool { try members()[name] != nil }

    // MARK: Scalars

    func string() throws(ReceiptDecodingError) -> String {
        guard case .string(let s) = value.kind else { throw fail("is not a string (found \(found))") }
        return s
    }

    /// An integer of type `T`; `true`/`false`, strings and numbers outside `T` are refused by name.
    func integer<T: FixedWidthInteger>(_ type: T.Type) throws(ReceiptDecodingError) -> T {
        guard case .integer(let negative, let magnitude) = value.kind else { throw fail("is not an integer (found \(found))") }
        // JSONSyntax bounds a negative magnitude by 2^63, so the signed value is an Int64.
        let v: T? = negative ? T(exactly: magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)) : T(exactly: magnitude)
        guard let v else { throw fail("is out of range (found \(found); \(T.min) to \(T.max))") }
        return v
    }

    func base64() throws(ReceiptDecodingError) -> [UInt8] {
        guard let bytes = Base64.decode(try string()) else { throw fail("is not base64") }
        return bytes
    }

    func hex() throws(ReceiptDecodingError) -> [UInt8] {
        guard let bytes = Hex.decode(try string()) else { throw fail("is not hexadecimal") }
        return bytes
    }

    func publicKey() throws(ReceiptDecodingError) -> PublicKey {
        guard let key = try? PublicKey(bytes: try base64()) else { throw fail("is not an Ed25519 public key (32 bytes, base64)") }
        return key
    }

    // MARK: Lists

    /// The elements of this array, at most `max`.
    func elements(max: Int) throws(ReceiptDecodingError) -> [JSONMember] {
        guard case .array(let list) = value.kind else { throw fail("is not an array (found \(found))") }
        guard list.count <= max else { throw fail("has \(list.count) entries; at most \(max) are allowed") }
        return list.enumerated().map { JSONMember(value: $1, path: path + [.index($0)], subject: subject) }
    }

    /// An array of strings, at most `max`.
    func strings(max: Int) throws(ReceiptDecodingError) -> [String] {
        var out: [String] = []
        for e in try elements(max: max) { out.append(try e.string()) }
        return out
    }

    /// An array of base64 strings, at most `max`.
    func base64List(max: Int) throws(ReceiptDecodingError) -> [[UInt8]] {
        var out: [[UInt8]] = []
        for e in try elements(max: max) { out.append(try e.base64()) }
        return out
    }

    /// An array of hex strings, at most `max`.
    func hexList(max: Int) throws(ReceiptDecodingError) -> [[UInt8]] {
        var out: [[UInt8]] = []
        for e in try elements(max: max) { out.append(try e.hex()) }
        return out
    }
}
