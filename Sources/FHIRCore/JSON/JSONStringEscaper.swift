/// Writes a JSON string the way RFC 8785 (JCS) §3.2.2.2 does: UTF-8 as is, except `"` and `\` and the
/// control characters U+0000–U+001F, which become `\"`, `\\`, `\b \t \n \f \r` or `\u00xx` (lowercase hex).
///
/// Shared by ``JSONWriter`` and the canonical form, so both escape identically.
enum JSONStringEscaper {
    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    @inline(__always)
    static func needsEscape(_ c: UInt8) -> Bool {
        c < 0x20 || c == UInt8(ascii: "\"") || c == UInt8(ascii: "\\")
    }

    /// Appends `"…"` for `string` to `out`.
    static func append(_ string: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var s = string
        s.withUTF8 { bytes in appendEscaped(bytes, to: &out) }
        out.append(UInt8(ascii: "\""))
    }

    static func appendEscaped(_ bytes: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        var runStart = 0
        var i = 0
        let n = bytes.count
        let base = UnsafeRawPointer(bytes.baseAddress)
        while i < n {
            // Skip 8 bytes at a time while none of them needs escaping.
            if let base, i + 8 <= n, !SWAR.hasEscapeCandidate(base.loadUnaligned(fromByteOffset: i, as: UInt64.self)) {
                i += 8
                continue
            }
            let c = bytes[i]
            if needsEscape(c) {
                if runStart < i { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<i])) }
                out.append(UInt8(ascii: "\\"))
                switch c {
                case UInt8(ascii: "\""): out.append(UInt8(ascii: "\""))
                case UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\"))
                case 0x08: out.append(UInt8(ascii: "b"))
                case 0x09: out.append(UInt8(ascii: "t"))
                case 0x0A: out.append(UInt8(ascii: "n"))
                case 0x0C: out.append(UInt8(ascii: "f"))
                case 0x0D: out.append(UInt8(ascii: "r"))
                default:
                    out.append(contentsOf: [UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(c >> 4)], hex[Int(c & 0xF)]])
                }
                runStart = i + 1
            }
            i += 1
        }
        if runStart < n { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<n])) }
    }
}

/// Eight bytes at a time ("SIMD within a register") tests for the JSON string scanners.
enum SWAR {
    private static let ones: UInt64 = 0x0101_0101_0101_0101
    private static let highs: UInt64 = 0x8080_8080_8080_8080

    /// Whether any byte of `w` is zero.
    @inline(__always)
    static func hasZeroByte(_ w: UInt64) -> Bool {
        (w &- ones) & ~w & highs != 0
    }

    /// Whether any byte is `"`, `\` or below 0x20 (may also say yes for bytes ≥ 0x80; callers then look closer).
    @inline(__always)
    static func hasEscapeCandidate(_ w: UInt64) -> Bool {
        hasZeroByte(w ^ 0x2222_2222_2222_2222) || hasZeroByte(w ^ 0x5C5C_5C5C_5C5C_5C5C) || (w &- 0x2020_2020_2020_2020) & ~w & highs != 0
    }

    /// Whether any byte is `"`, `\`, below 0x20, or at least 0x80 (non-ASCII needs UTF-8 validation).
    @inline(__always)
    static func hasStringSpecial(_ w: UInt64) -> Bool {
        w & highs != 0 || hasEscapeCandidate(w)
    }
}
