/// XML escaping, spelled as Canonical XML 1.0 spells it, so that serialised narratives are usually already
/// canonical (and attribute values survive attribute-value normalisation).
enum XMLEscape {
    /// Character data: `&` `<` `>` and CR (which a parser would otherwise turn into LF).
    @inline(__always)
    static func appendText(_ p: UnsafePointer<UInt8>, _ count: Int, to out: inout [UInt8]) {
        var runStart = 0
        for i in 0..<count {
            let c = p[i]
            let replacement: StaticString
            switch c {
            case UInt8(ascii: "&"): replacement = "&amp;"
            case UInt8(ascii: "<"): replacement = "&lt;"
            case UInt8(ascii: ">"): replacement = "&gt;"
            case 0x0D: replacement = "&#xD;"
            default: continue
            }
            if i > runStart { out.append(contentsOf: UnsafeBufferPointer(start: p + runStart, count: i - runStart)) }
            out.append(contentsOf: UnsafeBufferPointer(start: replacement.utf8Start, count: replacement.utf8CodeUnitCount))
            runStart = i + 1
        }
        if count > runStart { out.append(contentsOf: UnsafeBufferPointer(start: p + runStart, count: count - runStart)) }
    }

    /// An attribute value in double quotes: `&` `<` `"` and tab, LF, CR as character references.
    @inline(__always)
    static func appendAttribute(_ p: UnsafePointer<UInt8>, _ count: Int, to out: inout [UInt8]) {
        var runStart = 0
        for i in 0..<count {
            let c = p[i]
            let replacement: StaticString
            switch c {
            case UInt8(ascii: "&"): replacement = "&amp;"
            case UInt8(ascii: "<"): replacement = "&lt;"
            case UInt8(ascii: "\""): replacement = "&quot;"
            case 0x09: replacement = "&#x9;"
            case 0x0A: replacement = "&#xA;"
            case 0x0D: replacement = "&#xD;"
            default: continue
            }
            if i > runStart { out.append(contentsOf: UnsafeBufferPointer(start: p + runStart, count: i - runStart)) }
            out.append(contentsOf: UnsafeBufferPointer(start: replacement.utf8Start, count: replacement.utf8CodeUnitCount))
            runStart = i + 1
        }
        if count > runStart { out.append(contentsOf: UnsafeBufferPointer(start: p + runStart, count: count - runStart)) }
    }

    static func appendAttribute(_ s: String, to out: inout [UInt8]) {
        var s = s
        s.withUTF8 { u in
            if let base = u.baseAddress { appendAttribute(base, u.count, to: &out) }
        }
    }

    /// Appends `s` escaped for an attribute value; false (with nothing appended) when `s` holds a character
    /// XML 1.0 cannot carry at all: a C0 control other than tab, LF and CR, or U+FFFE/U+FFFF.
    static func appendCheckedAttribute(_ s: String, to out: inout [UInt8]) -> Bool {
        var s = s
        return s.withUTF8 { u in
            guard let base = u.baseAddress else { return true }
            guard isXMLText(base, u.count) else { return false }
            appendAttribute(base, u.count, to: &out)
            return true
        }
    }

    /// Whether the UTF-8 bytes hold only characters allowed in XML 1.0.
    @inline(__always)
    static func isXMLText(_ p: UnsafePointer<UInt8>, _ count: Int) -> Bool {
        var i = 0
        while i < count {
            let c = p[i]
            if c < 0x20 {
                if c != 0x09 && c != 0x0A && c != 0x0D { return false }
            } else if c == 0xEF && i + 2 < count && p[i + 1] == 0xBF && p[i + 2] >= 0xBE {
                return false
            }
            i += 1
        }
        return true
    }

    @inline(__always)
    static func append(_ literal: StaticString, to out: inout [UInt8]) {
        out.append(contentsOf: UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
    }

    /// Appends a NUL-terminated C string.
    @inline(__always)
    static func append(cString p: UnsafePointer<UInt8>, to out: inout [UInt8]) {
        var i = 0
        while p[i] != 0 { i += 1 }
        out.append(contentsOf: UnsafeBufferPointer(start: p, count: i))
    }
}
