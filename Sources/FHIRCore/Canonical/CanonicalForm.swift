import Crypto

/// The canonical form of a resource (docs/canonical-form.md): the exact bytes that are hashed,
/// committed and anchored.
///
/// RFC 8785 (JCS) member order and string escaping, no whitespace, numbers in their original FHIR lexical
/// form, and the narrative `div` as its W3C Canonical XML 1.0 serialization, so the same resource read from
/// XML or from JSON gives the same bytes.
public enum CanonicalForm {
    /// Recorded in every anchor, so the form can evolve without breaking old receipts.
    public static let version = "careledger-canonical/1"

    /// The canonical bytes of a resource.
    public static func bytes(of resource: Resource) throws(FHIRError) -> [UInt8] {
        try bytes(of: .object(resource.object))
    }

    /// The canonical bytes of any tree value (a resource, or a part of one).
    public static func bytes(of value: FHIRValue, sizeHint: Int = 1 << 16) throws(FHIRError) -> [UInt8] {
        var writer = CanonicalWriter()
        writer.out.reserveCapacity(sizeHint)
        try writer.append(value, isNarrative: false)
        return writer.out
    }

    /// The canonical bytes of a parsed JSON document, written straight from its tape: the same bytes as
    /// `bytes(of: .init(tape.value()))`, without building the tree.
    public static func bytes(of tape: JSONTape) throws(FHIRError) -> [UInt8] {
        try tape.canonicalBytes()
    }

    /// SHA-256 of the canonical bytes: the resource's canonical hash (32 bytes).
    public static func hash(of resource: Resource) throws(FHIRError) -> [UInt8] {
        sha256(try bytes(of: resource))
    }

    /// SHA-256 of some bytes (32 bytes).
    public static func sha256(_ bytes: [UInt8]) -> [UInt8] {
        Array(SHA256.hash(data: bytes))
    }
}

/// Appends canonical JSON to `out`.
struct CanonicalWriter {
    var out: [UInt8] = []
    var path: [String] = []

    mutating func append(_ value: FHIRValue, isNarrative: Bool) throws(FHIRError) {
        switch value {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .number(let n): out.append(contentsOf: n.lexeme.utf8)
        case .string(let s): JSONStringEscaper.append(s, to: &out)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            var first = true
            for item in items {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                try append(item, isNarrative: false)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let object):
            try appendObject(object, isNarrative: isNarrative)
        }
    }

    mutating func appendObject(_ object: FHIRObject, isNarrative: Bool) throws(FHIRError) {
        let members = object.members
        out.append(UInt8(ascii: "{"))
        let n = members.count
        // Sort member indices by name in UTF-16 code-unit order (RFC 8785 §3.2.3), without allocating for
        // small objects. Each name's first 8 bytes are packed big-endian into an integer once, so most
        // comparisons are one integer compare; ties and non-ASCII prefixes fall back to a full comparison.
        try withUnsafeTemporaryAllocation(of: (prefix: UInt64, index: Int).self, capacity: n) { (order) throws(FHIRError) in
            for i in 0..<n { order[i] = (CanonicalWriter.prefix8(members[i].name), i) }
            // Insertion sort: FHIR objects are small.
            var i = 1
            while i < n {
                let key = order[i]
                var j = i - 1
                while j >= 0 && CanonicalWriter.precedes(key, order[j], members) {
                    order[j + 1] = order[j]
                    j -= 1
                }
                order[j + 1] = key
                i += 1
            }
            for k in 0..<n {
                let m = members[order[k].index]
                if k > 0 { out.append(UInt8(ascii: ",")) }
                JSONStringEscaper.append(m.name, to: &out)
                out.append(UInt8(ascii: ":"))
                if isNarrative && m.name == "div", case .string(let xhtml) = m.value {
                    JSONStringEscaper.append(try CanonicalWriter.canonicalNarrative(xhtml), to: &out)
                } else {
                    try append(m.value, isNarrative: m.name == "text")
                }
            }
        }
        out.append(UInt8(ascii: "}"))
    }

    /// The narrative enters as Canonical XML 1.0 of the div, not as it was spelled.
    static func canonicalNarrative(_ xhtml: String) throws(FHIRError) -> String {
        do throws(FHIRError) {
            return CanonicalXHTMLCheck.isCanonical(xhtml) ? xhtml : try XHTML.canonicalize(xhtml)
        } catch {
            throw FHIRError(error.code, "the narrative div cannot be canonicalized: \(error.reason)", at: error.location)
        }
    }

    /// The first 8 UTF-8 bytes of `name`, big-endian, zero-padded.
    @inline(__always)
    static func prefix8(_ name: String) -> UInt64 {
        var p: UInt64 = 0
        var shift: UInt64 = 56
        for b in name.utf8 {
            p |= UInt64(b) << shift
            if shift == 0 { break }
            shift -= 8
        }
        return p
    }

    /// Member order: by packed prefix when that decides it for sure, else by full UTF-16 comparison.
    @inline(__always)
    static func precedes(_ a: (prefix: UInt64, index: Int), _ b: (prefix: UInt64, index: Int), _ members: [FHIRObject.Member]) -> Bool {
        if a.prefix != b.prefix && (a.prefix | b.prefix) & 0x8080_8080_8080_8080 == 0 {
            return a.prefix < b.prefix
        }
        return utf16Precedes(members[a.index].name, members[b.index].name)
    }

    /// Whether `a` sorts before `b` by UTF-16 code units. Byte order agrees with UTF-16 order except when
    /// the first differing bytes are both non-ASCII (supplementary characters vs U+E000–U+FFFF), so only
    /// then is the UTF-16 view consulted.
    static func utf16Precedes(_ a: String, _ b: String) -> Bool {
        var a = a
        var b = b
        let firstDifference: (UInt8, UInt8)? = a.withUTF8 { pa in
            b.withUTF8 { pb in
                let n = min(pa.count, pb.count)
                var i = 0
                while i < n {
                    if pa[i] != pb[i] { return (pa[i], pb[i]) }
                    i += 1
                }
                return pa.count < pb.count ? (0, 1) : (pa.count > pb.count ? (1, 0) : nil)
            }
        }
        guard let (x, y) = firstDifference else { return false }
        if x < 0x80 || y < 0x80 { return x < y }
        return a.utf16.lexicographicallyPrecedes(b.utf16)
    }
}
