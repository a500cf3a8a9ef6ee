/// A linear pre-scan for the one shape libxml2 2.9 handles in quadratic time: very many attributes (or
/// namespace declarations) on one element, where each new attribute is compared with all earlier ones. A 1 MB
/// start tag with 100,000 attributes takes seconds; a 64 MB one would take hours.
///
/// The scan only counts quoted values per start tag (skipping text, comments, CDATA sections and processing
/// instructions) and runs 8 bytes at a time over the long runs; libxml2 still does all the real parsing.
enum XMLAttributeScan {
    /// The byte offset of the first start tag with more than `limit` attributes, or nil.
    static func firstCrowdedTag(_ bytes: UnsafeRawBufferPointer, limit: Int) -> Int? {
        guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return nil }
        let n = bytes.count
        var i = 0
        while i < n {
            i = index(of: UInt8(ascii: "<"), in: base, from: i, to: n)
            guard i + 1 < n else { return nil }
            let tagStart = i
            i += 1
            switch base[i] {
            case UInt8(ascii: "!"):
                if matches(base, i, n, "!--") {
                    i = end(of: "-->", in: base, from: i + 3, to: n)
                } else if matches(base, i, n, "![CDATA[") {
                    i = end(of: "]]>", in: base, from: i + 8, to: n)
                } else {
                    return nil  // a DOCTYPE (refused by the parser at its start) or not XML at all
                }
            case UInt8(ascii: "?"):
                i = end(of: "?>", in: base, from: i + 1, to: n)
            case UInt8(ascii: "/"):
                i = index(of: UInt8(ascii: ">"), in: base, from: i, to: n) + 1
            default:
                var count = 0
                while i < n {
                    let c = base[i]
                    if c == UInt8(ascii: ">") {
                        i += 1
                        break
                    }
                    if c == UInt8(ascii: "\"") || c == UInt8(ascii: "'") {
                        count += 1
                        if count > limit { return tagStart }
                        i = index(of: c, in: base, from: i + 1, to: n) + 1
                    } else if c == UInt8(ascii: "<") {
                        break  // malformed: let the parser say so
                    } else {
                        i += 1
                    }
                }
            }
        }
        return nil
    }

    /// The index of the first `byte` in `base[from..<to]`, or `to`. Eight bytes at a time (SWAR).
    @inline(__always)
    static func index(of byte: UInt8, in base: UnsafePointer<UInt8>, from: Int, to n: Int) -> Int {
        var i = from
        let ones: UInt64 = 0x0101_0101_0101_0101
        let pattern = UInt64(byte) &* ones
        while i + 8 <= n {
            let word = UInt64(littleEndian: UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)) ^ pattern
            let found = (word &- ones) & ~word & (ones &<< 7)
            if found != 0 { return i + found.trailingZeroBitCount >> 3 }
            i += 8
        }
        while i < n && base[i] != byte { i += 1 }
        return i
    }

    /// The index just after the first `terminator` at or after `from`, or `n`.
    private static func end(of terminator: StaticString, in base: UnsafePointer<UInt8>, from: Int, to n: Int) -> Int {
        let first = terminator.utf8Start[0]
        var i = from
        while true {
            i = index(of: first, in: base, from: i, to: n)
            if i >= n { return n }
            if matches(base, i, n, terminator) { return i + terminator.utf8CodeUnitCount }
            i += 1
        }
    }

    private static func matches(_ base: UnsafePointer<UInt8>, _ i: Int, _ n: Int, _ s: StaticString) -> Bool {
        let count = s.utf8CodeUnitCount
        guard i + count <= n else { return false }
        for k in 0..<count where base[i + k] != s.utf8Start[k] { return false }
        return true
    }
}
