/// Recognises narrative divs that are already in Canonical XML 1.0 form, so the canonical form can take
/// them as they are instead of parsing them with libxml2.
///
/// Most narratives (every Synthea one, and most that CareLedger itself writes) are plain XHTML whose
/// spelling is already canonical. The check is conservative: it accepts only a small, unambiguous subset —
/// unprefixed element and attribute names, attributes in strictly ascending name order in double quotes,
/// explicit end tags, the canonical escapes, the XHTML namespace declared once on the div and nowhere else —
/// and answers false for anything else (comments, CDATA, entities, `/>`, CR, tabs in attributes…), which then
/// goes through libxml2's C14N. For an accepted string, C14N(string) == string; the tests check this against
/// libxml2 on every narrative in the corpus.
enum CanonicalXHTMLCheck {
    private static let openDiv = Array(#"<div xmlns="http://www.w3.org/1999/xhtml">"#.utf8)
    /// Deepest element nesting the check follows before deferring to libxml2.
    private static let maxDepth = 64

    static func isCanonical(_ xhtml: String) -> Bool {
        var s = xhtml
        return s.withUTF8 { isCanonical($0) }
    }

    static func isCanonical(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
        let n = b.count
        guard n > openDiv.count + 6 else { return false }
        for i in 0..<openDiv.count where b[i] != openDiv[i] { return false }
        // Stack of open element names as (start, length) in `b`.
        var stack: [(Int, Int)] = [(1, 3)]
        var i = openDiv.count
        while i < n {
            let c = b[i]
            if c == UInt8(ascii: "<") {
                i += 1
                guard i < n else { return false }
                if b[i] == UInt8(ascii: "/") {
                    // End tag: must close the innermost open element, with no whitespace.
                    i += 1
                    guard let (start, len) = stack.last, i + len < n else { return false }
                    for k in 0..<len where b[i + k] != b[start + k] { return false }
                    i += len
                    guard b[i] == UInt8(ascii: ">") else { return false }
                    i += 1
                    stack.removeLast()
                    if stack.isEmpty { return i == n }
                    continue
                }
                // Start tag.
                let nameStart = i
                guard scanName(b, &i), i < n else { return false }
                stack.append((nameStart, i - nameStart))
                guard stack.count <= maxDepth else { return false }
                var previousAttr: (Int, Int)? = nil
                while i < n && b[i] == UInt8(ascii: " ") {
                    i += 1
                    let attrStart = i
                    guard scanName(b, &i) else { return false }
                    let attr = (attrStart, i - attrStart)
                    // xmlns declarations below the div change C14N output; defer to libxml2.
                    if attr.1 == 5 && matches(b, attr.0, "xmlns") { return false }
                    if let p = previousAttr, !precedes(b, p, attr) { return false }
                    previousAttr = attr
                    guard i + 1 < n, b[i] == UInt8(ascii: "="), b[i + 1] == UInt8(ascii: "\"") else { return false }
                    i += 2
                    // Attribute value: C14N escapes &, <, " and tab/LF/CR as character references.
                    while i < n && b[i] != UInt8(ascii: "\"") {
                        let v = b[i]
                        if v == UInt8(ascii: "&") {
                            guard let len = canonicalReference(b, i, inAttribute: true) else { return false }
                            i += len
                        } else if v == UInt8(ascii: "<") || v < 0x20 || v == 0x7F {
                            return false
                        } else {
                            i += 1
                        }
                    }
                    guard i < n else { return false }
                    i += 1
                }
                guard i < n, b[i] == UInt8(ascii: ">") else { return false }
                i += 1
                continue
            }
            // Character data: C14N escapes &, <, > and CR; other control characters are not XML.
            if c == UInt8(ascii: "&") {
                guard let len = canonicalReference(b, i, inAttribute: false) else { return false }
                i += len
            } else if c == UInt8(ascii: ">") || c == 0x0D || (c < 0x20 && c != 0x0A && c != 0x09) || c == 0x7F {
                return false
            } else if c >= 0x80 {
                // Non-ASCII text is fine only if it is an ordinary character; defer anything unusual
                // (C1 controls, U+FFFE/U+FFFF) to libxml2 by refusing lead bytes that could start them.
                if c == 0xC2 && i + 1 < n && b[i + 1] < 0xA0 { return false }
                if c == 0xEF && i + 2 < n && b[i + 1] == 0xBF && b[i + 2] >= 0xBE { return false }
                i += 1
            } else {
                i += 1
            }
        }
        return false
    }

    /// Element/attribute names: ASCII letters, digits, `-`, `_`, `.`, starting with a letter; no prefixes.
    private static func scanName(_ b: UnsafeBufferPointer<UInt8>, _ i: inout Int) -> Bool {
        let start = i
        while i < b.count {
            let c = b[i]
            let isLetter = (c | 0x20) >= UInt8(ascii: "a") && (c | 0x20) <= UInt8(ascii: "z")
            let isOther = (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c == UInt8(ascii: "-") || c == UInt8(ascii: "_") || c == UInt8(ascii: ".")
            if isLetter || (i > start && isOther) { i += 1 } else { break }
        }
        return i > start
    }

    private static func matches(_ b: UnsafeBufferPointer<UInt8>, _ at: Int, _ word: String) -> Bool {
        var k = at
        for w in word.utf8 {
            guard k < b.count, b[k] == w else { return false }
            k += 1
        }
        return true
    }

    /// Whether attribute name `a` sorts strictly before `b` (C14N orders unprefixed attributes by name).
    private static func precedes(_ b: UnsafeBufferPointer<UInt8>, _ x: (Int, Int), _ y: (Int, Int)) -> Bool {
        let len = min(x.1, y.1)
        for k in 0..<len {
            let p = b[x.0 + k]
            let q = b[y.0 + k]
            if p != q { return p < q }
        }
        return x.1 < y.1
    }

    /// The length of the reference at `i` if it is one C14N itself writes there, else nil.
    private static func canonicalReference(_ b: UnsafeBufferPointer<UInt8>, _ i: Int, inAttribute: Bool) -> Int? {
        let allowed = inAttribute ? ["&amp;", "&lt;", "&quot;", "&#x9;", "&#xA;", "&#xD;"] : ["&amp;", "&lt;", "&gt;", "&#xD;"]
        for ref in allowed where matches(b, i, ref) { return ref.utf8.count }
        return nil
    }
}
