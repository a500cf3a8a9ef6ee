/// The one canonical binary encoding of everything the ledger hashes or signs (docs/ledger-encoding.md).
///
/// - Unsigned integers: fixed width, big-endian (`u8`, `u16`, `u32`, `u64`); signed `i64` as two's complement.
/// - `bool`: one byte, `0x00` or `0x01`.
/// - `bytes` and `string` (UTF-8): a `u32` length, then the bytes.
/// - fixed-size byte strings (hashes, keys, signatures): the bytes alone; their size is part of the type.
/// - `list<T>`: a `u32` count, then the items.
/// - `optional<T>`: `0x00`, or `0x01` then the value.
/// - a struct: its fields in their documented order, nothing between them; an enum: a `u8` tag, then its fields.
///
/// The reader is strict, so every value has exactly one encoding: a non-0/1 boolean or option byte, invalid
/// UTF-8, an unknown tag, a length over its bound or bytes left over are all errors.
public struct LedgerWriter: Sendable {
    public private(set) var bytes: [UInt8] = []

    public init() {}

    public mutating func u8(_ v: UInt8) { bytes.append(v) }
    public mutating func u16(_ v: UInt16) { bigEndian(UInt64(v), 2) }
    public mutating func u32(_ v: UInt32) { bigEndian(UInt64(v), 4) }
    public mutating func u64(_ v: UInt64) { bigEndian(v, 8) }
    public mutating func i64(_ v: Int64) { bigEndian(UInt64(bitPattern: v), 8) }
    public mutating func bool(_ v: Bool) { bytes.append(v ? 1 : 0) }

    private mutating func bigEndian(_ v: UInt64, _ width: Int) {
        for i in stride(from: width - 1, through: 0, by: -1) { bytes.append(UInt8(truncatingIfNeeded: v >> UInt64(8 * i))) }
    }

    /// A length-prefixed byte string.
    public mutating func byteString(_ v: [UInt8]) {
        u32(UInt32(truncatingIfNeeded: v.count))
        bytes.append(contentsOf: v)
    }

    /// A byte string whose size the type fixes (a hash, a key, a signature): no prefix.
    public mutating func fixed(_ v: [UInt8]) { bytes.append(contentsOf: v) }

    public mutating func string(_ v: String) { byteString(Array(v.utf8)) }

    public mutating func list<T>(_ items: [T], _ each: (inout LedgerWriter, T) -> Void) {
        u32(UInt32(truncatingIfNeeded: items.count))
        for item in items { each(&self, item) }
    }

    public mutating func strings(_ items: [String]) { list(items) { $0.string($1) } }

    public mutating func optional<T>(_ v: T?, _ each: (inout LedgerWriter, T) -> Void) {
        if let v {
            u8(1)
            each(&self, v)
        } else {
            u8(0)
        }
    }

    public mutating func value(_ v: some LedgerEncodable) { v.encode(to: &self) }
}

/// Why bytes are not a canonical encoding, and where.
public struct LedgerDecodingError: Error, Sendable, Hashable, CustomStringConvertible {
    public let reason: String
    /// Byte offset in the input.
    public let offset: Int

    public init(_ reason: String, at offset: Int) {
        self.reason = reason
        self.offset = offset
    }

    public var description: String { "\(reason) (at byte \(offset))" }
}

/// Reads the canonical encoding back, strictly. Limits bound what a hostile input can make it allocate.
public struct LedgerReader: Sendable {
    public let input: [UInt8]
    public private(set) var offset = 0
    /// The longest byte string or string accepted.
    public var maxBytes = 1 << 20
    /// The most items in one list.
    public var maxItems = 1 << 16

    public init(_ input: [UInt8]) {
        self.input = input
    }

    public var isAtEnd: Bool { offset == input.count }

    func fail(_ reason: String) -> LedgerDecodingError { LedgerDecodingError(reason, at: offset) }

    private mutating func take(_ n: Int) throws(LedgerDecodingError) -> ArraySlice<UInt8> {
        guard n >= 0, input.count - offset >= n else { throw fail("the input ends inside a value (\(n) more bytes expected)") }
        defer { offset += n }
        return input[offset..<offset + n]
    }

    private mutating func bigEndian(_ width: Int) throws(LedgerDecodingError) -> UInt64 {
        var v: UInt64 = 0
        for b in try take(width) { v = v << 8 | UInt64(b) }
        return v
    }

    public mutating func u8() throws(LedgerDecodingError) -> UInt8 { UInt8(try bigEndian(1)) }
    public mutating func u16() throws(LedgerDecodingError) -> UInt16 { UInt16(try bigEndian(2)) }
    public mutating func u32() throws(LedgerDecodingError) -> UInt32 { UInt32(try bigEndian(4)) }
    public mutating func u64() throws(LedgerDecodingError) -> UInt64 { try bigEndian(8) }
    public mutating func i64() throws(LedgerDecodingError) -> Int64 { Int64(bitPattern: try bigEndian(8)) }

    public mutating func bool() throws(LedgerDecodingError) -> Bool {
        switch try u8() {
        case 0: return false
        case 1: return true
        case let b: throw LedgerDecodingError("a boolean is 0x00 or 0x01, found 0x\(String(b, radix: 16))", at: offset - 1)
        }
    }

    public mutating func byteString() throws(LedgerDecodingError) -> [UInt8] {
        let n = Int(try u32())
        guard n <= maxBytes else { throw LedgerDecodingError("a byte string of \(n) bytes is over the limit of \(maxBytes)", at: offset - 4) }
        return Array(try take(n))
    }

    public mutating func fixed(_ n: Int) throws(LedgerDecodingError) -> [UInt8] { Array(try take(n)) }

    public mutating func string() throws(LedgerDecodingError) -> String {
        let start = offset
        let raw = try byteString()
        guard let s = String(validating: raw, as: UTF8.self) else { throw LedgerDecodingError("a string is not valid UTF-8", at: start) }
        return s
    }

    public mutating func list<T>(_ each: (inout LedgerReader) throws(LedgerDecodingError) -> T) throws(LedgerDecodingError) -> [T] {
        let n = Int(try u32())
        guard n <= maxItems else { throw LedgerDecodingError("a list of \(n) items is over the limit of \(maxItems)", at: offset - 4) }
        var out: [T] = []
        out.reserveCapacity(min(n, 1024))
        for _ in 0..<n { out.append(try each(&self)) }
        return out
    }

    public mutating func strings() throws(LedgerDecodingError) -> [String] { try list { (r) throws(LedgerDecodingError) in try r.string() } }

    public mutating func optional<T>(_ each: (inout LedgerReader) throws(LedgerDecodingError) -> T) throws(LedgerDecodingError) -> T? {
        switch try u8() {
        case 0: return nil
        case 1: return try each(&self)
        case let b: throw LedgerDecodingError("an option is 0x00 or 0x01, found 0x\(String(b, radix: 16))", at: offset - 1)
        }
    }

    public mutating func value<T: LedgerEncodable>(_ type: T.Type = T.self) throws(LedgerDecodingError) -> T {
        try T.decode(from: &self)
    }

    /// Fails unless every byte was read.
    public func finish() throws(LedgerDecodingError) {
        guard isAtEnd else { throw fail("\(input.count - offset) bytes are left over after the value") }
    }
}

/// A value with a canonical encoding.
public protocol LedgerEncodable: Sendable {
    func encode(to writer: inout LedgerWriter)
    static func decode(from reader: inout LedgerReader) throws(LedgerDecodingError) -> Self
}

extension LedgerEncodable {
    /// The canonical bytes.
    public var encoded: [UInt8] {
        var w = LedgerWriter()
        encode(to: &w)
        return w.bytes
    }

    /// Decodes exactly one value from `bytes` (nothing may be left over).
    public init(encoded bytes: [UInt8]) throws(LedgerDecodingError) {
        var r = LedgerReader(bytes)
        self = try Self.decode(from: &r)
        try r.finish()
    }
}
