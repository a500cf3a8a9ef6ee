/// What a narrative `div` may contain: FHIR R4 txt-1 ("only the basic html formatting elements and attributes
/// … <a> elements (either name or href), images and internally contained style attributes").
///
/// Applied while the XML reader captures a div (so the refusal carries its line and column) and by the
/// validator to every div, JSON strings included (so the refusal carries its JSON pointer). Elements: the
/// XHTML-namespace names the FHIR validator allows, nothing else (no script, style, object, applet, embed,
/// iframe, form, input …). Attributes: the HTML 4.0 ones the FHIR validator allows, and `xml:lang`, `xml:space`;
/// no event handlers (`on*`, named as such); URLs (`href`, `src` …) without an active scheme (`javascript:`,
/// `vbscript:`, `data:` other than a raster image in `src`), read the way browsers read them (leading spaces and
/// controls dropped, tabs and newlines removed, any case, character references already decoded by the XML
/// parser); `style` without CSS that runs code. Everything works on bytes: no strings are made unless something
/// is refused.
enum NarrativePolicy {
    static let xhtmlNamespace: StaticString = "http://www.w3.org/1999/xhtml"
    static let xmlNamespace: StaticString = "http://www.w3.org/XML/1998/namespace"

    /// The elements txt-1 allows (the FHIR validator's list: HTML 4.0 chapters 7–11 and 15, a, img).
    private static let allowedElements: [[UInt8]] = [
        "p", "br", "div", "h1", "h2", "h3", "h4", "h5", "h6", "a", "span", "b", "em", "i", "strong", "small", "big",
        "tt", "dfn", "q", "var", "abbr", "acronym", "cite", "blockquote", "hr", "address", "bdo", "kbd", "sub", "sup",
        "ul", "ol", "li", "dl", "dt", "dd", "pre", "table", "caption", "colgroup", "col", "thead", "tr", "tfoot",
        "tbody", "th", "td", "code", "samp", "img", "map", "area",
    ].map { Array($0.utf8) }

    /// The attributes txt-1 allows on every element (the FHIR validator's list: HTML 4.0 core, i18n and table
    /// cell attributes).
    private static let commonAttributes: [[UInt8]] = [
        "title", "style", "class", "id", "lang", "dir", "accesskey", "tabindex",
        "span", "width", "align", "valign", "char", "charoff", "abbr", "axis", "headers", "scope", "rowspan", "colspan",
    ].map { Array($0.utf8) }

    /// The attributes txt-1 allows on one element only, as `element.attribute` (links, images, image maps,
    /// quotations, table layout).
    private static let elementAttributes: [[UInt8]] = [
        "a.href", "a.name", "a.charset", "a.type", "a.hreflang", "a.rel", "a.rev", "a.shape", "a.coords",
        "img.src", "img.alt", "img.longdesc", "img.height", "img.width", "img.usemap", "img.ismap", "img.border",
        "map.name", "area.shape", "area.coords", "area.href", "area.nohref", "area.alt",
        "blockquote.cite", "q.cite", "table.summary", "table.width", "table.border", "table.frame", "table.rules",
        "table.cellspacing", "table.cellpadding", "td.nowrap", "th.nowrap",
    ].map { Array($0.utf8) }

    /// Attributes whose value a browser follows or loads as a URL.
    private static let urlAttributes: [[UInt8]] = [
        "href", "src", "cite", "longdesc", "usemap", "action", "background", "codebase", "data", "formaction",
        "poster", "profile", "dynsrc", "lowsrc", "classid", "archive", "manifest", "icon", "base", "srcset",
    ].map { Array($0.utf8) }

    /// URL schemes that run code or carry a document of their own.
    private static let activeSchemes: [[UInt8]] = ["javascript", "vbscript", "livescript", "mocha", "data"].map { Array($0.utf8) }

    /// CSS (lowercased, comments and white space removed) that runs code in some browser.
    private static let activeCSS: [[UInt8]] = [
        "expression(", "javascript:", "vbscript:", "-moz-binding", "behavior:", "@import", "\\",
    ].map { Array($0.utf8) }

    /// Why an element may not appear inside a narrative div, nil when it may.
    static func elementProblem(localName: UnsafeBufferPointer<UInt8>, namespace: UnsafeBufferPointer<UInt8>?) -> String? {
        guard let namespace, equals(namespace, xhtmlNamespace) else {
            let ns = namespace.map { "the namespace \(string($0))" } ?? "no namespace"
            return "<\(string(localName))> in \(ns) is not allowed in a narrative: every element of the div is XHTML (\(xhtmlNamespace))"
        }
        if allowedElements.contains(where: { equals(localName, $0) }) { return nil }
        return "<\(string(localName))> is not allowed in a narrative: FHIR txt-1 allows only basic XHTML formatting, "
            + "tables, lists, links and images (no script, style, object, embed, iframe, form or input)"
    }

    /// Why an attribute may not appear on an element inside a narrative div, nil when it may. `value` as the
    /// XML parser reports it (character references decoded).
    static func attributeProblem(localName: UnsafeBufferPointer<UInt8>, namespace: UnsafeBufferPointer<UInt8>?,
                                 value: UnsafeBufferPointer<UInt8>, element: UnsafeBufferPointer<UInt8>) -> String? {
        if let namespace {
            // xml:base is refused with the rest: it would re-root every relative link of the narrative.
            guard equals(namespace, xmlNamespace), equals(localName, Array("lang".utf8)) || equals(localName, Array("space".utf8)) else {
                return "the attribute \(string(localName)) in the namespace \(string(namespace)) is not allowed in a narrative: only XHTML attributes and xml:lang, xml:space are"
            }
            return nil
        }
        if localName.count >= 2 && lower(localName[0]) == UInt8(ascii: "o") && lower(localName[1]) == UInt8(ascii: "n") {
            return "the event handler \(string(localName)) is not allowed in a narrative: FHIR txt-1 allows no active content"
        }
        if !isAllowedAttribute(localName, on: element) {
            return "the attribute \(string(localName)) on <\(string(element))> is not allowed in a narrative: FHIR txt-1 allows "
                + "only the basic HTML 4.0 attributes (title, style, class, id, lang, dir, table layout; href and name on <a>; src, alt, width, height on <img> …)"
        }
        if urlAttributes.contains(where: { equalsIgnoringCase(localName, $0) }) {
            let isSrcset = equalsIgnoringCase(localName, Array("srcset".utf8))
            let allowImage = equalsIgnoringCase(localName, Array("src".utf8)) || isSrcset
            var start = 0
            while start <= value.count {
                // srcset is a comma-separated list of "URL descriptor"; every other attribute holds one URL.
                var end = value.count
                if isSrcset, let comma = value[start...].firstIndex(of: UInt8(ascii: ",")) { end = comma }
                let candidate = UnsafeBufferPointer(rebasing: value[start..<end])
                if let scheme = activeScheme(candidate, allowImage: allowImage) {
                    return "\(string(localName))=\"\(excerpt(value))\" is not allowed in a narrative: the \(scheme): scheme runs code or carries a document"
                }
                start = end + 1
            }
            return nil
        }
        if equalsIgnoringCase(localName, Array("style".utf8)) {
            var css: [UInt8] = []
            css.reserveCapacity(value.count)
            var i = 0
            while i < value.count {
                let c = value[i]
                if c == UInt8(ascii: "/") && i + 1 < value.count && value[i + 1] == UInt8(ascii: "*") {
                    i += 2
                    while i + 1 < value.count && !(value[i] == UInt8(ascii: "*") && value[i + 1] == UInt8(ascii: "/")) { i += 1 }
                    i += 2
                    continue
                }
                if c > 0x20 { css.append(lower(c)) }
                i += 1
            }
            for word in activeCSS where contains(css, word) {
                return "style=\"\(excerpt(value))\" is not allowed in a narrative: \(string(word)) in CSS can run code"
            }
        }
        return nil
    }

    /// Whether the element is an image, which counts as content for txt-2 as text does.
    static func isImage(_ localName: UnsafeBufferPointer<UInt8>) -> Bool {
        equals(localName, Array("img".utf8))
    }

    /// Whether txt-1 allows the unprefixed attribute `name` on `element` (names compared as XHTML writes them,
    /// in lower case).
    private static func isAllowedAttribute(_ name: UnsafeBufferPointer<UInt8>, on element: UnsafeBufferPointer<UInt8>) -> Bool {
        if commonAttributes.contains(where: { equals(name, $0) }) { return true }
        let qualified = Array(element) + [UInt8(ascii: ".")] + Array(name)
        return elementAttributes.contains(qualified)
    }

    /// The active scheme of a URL (lowercased), nil for a relative URL or a harmless scheme. Reads the URL as
    /// the WHATWG URL parser does: leading and trailing C0 controls and spaces are dropped, tabs and newlines
    /// removed anywhere. `allowImage`: a `data:image/…` URL other than SVG is an image, not active.
    static func activeScheme(_ url: UnsafeBufferPointer<UInt8>, allowImage: Bool) -> String? {
        var scheme: [UInt8] = []
        var i = 0
        while i < url.count && url[i] <= 0x20 { i += 1 }
        var colon = -1
        while i < url.count {
            let c = url[i]
            i += 1
            if c == 0x09 || c == 0x0A || c == 0x0D { continue }
            if c == UInt8(ascii: ":") {
                colon = i
                break
            }
            let l = lower(c)
            let isAlpha = l >= UInt8(ascii: "a") && l <= UInt8(ascii: "z")
            let isOther = (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c == UInt8(ascii: "+") || c == UInt8(ascii: "-") || c == UInt8(ascii: ".")
            guard isAlpha || (!scheme.isEmpty && isOther) else { return nil }
            scheme.append(l)
            if scheme.count > 16 { return nil }
        }
        guard colon >= 0, activeSchemes.contains(scheme) else { return nil }
        if allowImage && scheme == Array("data".utf8) {
            var rest: [UInt8] = []
            while i < url.count && rest.count < 13 {
                let c = url[i]
                i += 1
                if c == 0x09 || c == 0x0A || c == 0x0D { continue }
                rest.append(lower(c))
            }
            if rest.starts(with: Array("image/".utf8)) && !rest.starts(with: Array("image/svg".utf8)) { return nil }
        }
        return String(decoding: scheme, as: UTF8.self)
    }

    // MARK: - Bytes

    @inline(__always)
    private static func lower(_ c: UInt8) -> UInt8 {
        c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z") ? c | 0x20 : c
    }

    private static func equals(_ a: UnsafeBufferPointer<UInt8>, _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        for i in 0..<a.count where a[i] != b[i] { return false }
        return true
    }

    private static func equals(_ a: UnsafeBufferPointer<UInt8>, _ literal: StaticString) -> Bool {
        let n = literal.utf8CodeUnitCount
        guard a.count == n else { return false }
        let l = literal.utf8Start
        for i in 0..<n where a[i] != l[i] { return false }
        return true
    }

    private static func equalsIgnoringCase(_ a: UnsafeBufferPointer<UInt8>, _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        for i in 0..<a.count where lower(a[i]) != b[i] { return false }
        return true
    }

    private static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard haystack.count >= needle.count else { return false }
        for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
            if haystack[start..<start + needle.count].elementsEqual(needle) { return true }
        }
        return false
    }

    private static func string(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        String(decoding: bytes, as: UTF8.self)
    }

    private static func string(_ bytes: [UInt8]) -> String {
        String(decoding: bytes, as: UTF8.self)
    }

    private static func excerpt(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        let s = string(bytes)
        return s.count <= 60 ? s : String(s.prefix(57)) + "..."
    }

    /// A NUL-terminated C string as a buffer (no copy).
    static func buffer(_ p: UnsafePointer<UInt8>) -> UnsafeBufferPointer<UInt8> {
        var n = 0
        while p[n] != 0 { n += 1 }
        return UnsafeBufferPointer(start: p, count: n)
    }
}
