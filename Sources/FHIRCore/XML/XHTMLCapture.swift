/// Serialises the narrative `<div>` subtree of a FHIR XML document back to XHTML text while it is parsed:
/// the JSON value of `Narrative.div`.
///
/// The div always declares `xmlns="http://www.w3.org/1999/xhtml"`; namespace declarations inside it are kept,
/// and prefixes declared outside it (on the FHIR root) are declared where first used, so the string stands on
/// its own. Attributes are written in Canonical XML order with canonical escapes, empty elements as `<br/>`.
struct XHTMLCapture {
    /// Open elements inside the capture; 0 when not capturing.
    private(set) var depth = 0
    /// The parent's slot that receives the finished string.
    private(set) var slotIndex = -1
    private var out: [UInt8] = []
    /// The last start tag still lacks its `>` (it becomes `/>` if the element turns out empty).
    private var openTagPending = false
    /// Namespace declarations written so far (prefix empty for the default namespace), with the depth that wrote them.
    private var declared: [(depth: Int, prefix: [UInt8], uri: [UInt8])] = []
    /// Qualified names of the open elements, for the end tags.
    private var names: [[UInt8]] = []

    static let xhtmlNamespace: [UInt8] = Array("http://www.w3.org/1999/xhtml".utf8)

    var isCapturing: Bool { depth > 0 }

    static func isXHTML(_ uri: UnsafePointer<UInt8>) -> Bool {
        XMLTreeState.equals(uri, xhtmlNamespace)
    }

    mutating func begin(slotIndex: Int) {
        self.slotIndex = slotIndex
        out.removeAll(keepingCapacity: true)
        declared.removeAll(keepingCapacity: true)
        names.removeAll(keepingCapacity: true)
        openTagPending = false
        depth = 0
    }

    /// Why a start tag could not be captured.
    enum Refusal {
        /// The captured text exceeds the string limit.
        case tooLarge
        /// The element or one of its attributes is not allowed in a narrative (``NarrativePolicy``).
        case notAllowed(String)
    }

    /// Why the element may not be in a narrative, nil when it may (``NarrativePolicy``, FHIR txt-1).
    static func policyProblem(_ localname: UnsafePointer<UInt8>, _ uri: UnsafePointer<UInt8>?,
                              _ nbAttributes: Int, _ attributes: UnsafeMutablePointer<UnsafePointer<UInt8>?>?) -> String? {
        let name = NarrativePolicy.buffer(localname)
        if let problem = NarrativePolicy.elementProblem(localName: name, namespace: uri.map(NarrativePolicy.buffer)) {
            return problem
        }
        guard let attributes, nbAttributes > 0 else { return nil }
        for i in 0..<nbAttributes {
            let a = attributes + i * 5
            guard let local = a[0], let start = a[3], let end = a[4] else { continue }
            if let problem = NarrativePolicy.attributeProblem(localName: NarrativePolicy.buffer(local), namespace: a[2].map(NarrativePolicy.buffer),
                                                              value: UnsafeBufferPointer(start: start, count: end - start), element: name) {
                return problem
            }
        }
        return nil
    }

    /// A start tag inside (or of) the div. Returns why it was refused: an element or attribute the narrative
    /// may not hold, or captured text beyond `maxBytes`.
    mutating func start(_ localname: UnsafePointer<UInt8>, _ prefix: UnsafePointer<UInt8>?, _ uri: UnsafePointer<UInt8>?,
                        _ nbNamespaces: Int, _ namespaces: UnsafeMutablePointer<UnsafePointer<UInt8>?>?,
                        _ nbAttributes: Int, _ attributes: UnsafeMutablePointer<UnsafePointer<UInt8>?>?, maxBytes: Int) -> Refusal? {
        if let problem = XHTMLCapture.policyProblem(localname, uri, nbAttributes, attributes) { return .notAllowed(problem) }
        closePendingTag()
        depth += 1
        var qname: [UInt8] = []
        if let prefix {
            XMLEscape.append(cString: prefix, to: &qname)
            qname.append(UInt8(ascii: ":"))
        }
        XMLEscape.append(cString: localname, to: &qname)
        out.append(UInt8(ascii: "<"))
        out.append(contentsOf: qname)
        names.append(qname)

        // Namespace declarations: the element's own, plus whatever its names need that is not in scope.
        var decls: [(prefix: [UInt8], uri: [UInt8])] = []
        if let namespaces {
            for i in 0..<nbNamespaces {
                var p: [UInt8] = []
                var u: [UInt8] = []
                if let pp = namespaces[2 * i] { XMLEscape.append(cString: pp, to: &p) }
                if let uu = namespaces[2 * i + 1] { XMLEscape.append(cString: uu, to: &u) }
                decls.append((p, u))
            }
        }
        func need(_ prefix: [UInt8], _ uri: [UInt8]) {
            if decls.contains(where: { $0.prefix == prefix }) { return }
            if let inScope = declared.last(where: { $0.prefix == prefix }) {
                if inScope.uri == uri { return }
            } else if uri.isEmpty {
                return  // no namespace, and none declared: nothing to undo
            }
            decls.append((prefix, uri))
        }
        var elementURI: [UInt8] = []
        if let uri { XMLEscape.append(cString: uri, to: &elementURI) }
        var elementPrefix: [UInt8] = []
        if let prefix { XMLEscape.append(cString: prefix, to: &elementPrefix) }
        if depth == 1 {
            need([], XHTMLCapture.xhtmlNamespace)
        }
        need(elementPrefix, elementURI)

        var attrs: [(uri: [UInt8], name: [UInt8], value: UnsafeBufferPointer<UInt8>)] = []
        if let attributes, nbAttributes > 0 {
            for i in 0..<nbAttributes {
                let a = attributes + i * 5
                guard let local = a[0], let start = a[3], let end = a[4] else { continue }
                var name: [UInt8] = []
                var attrURI: [UInt8] = []
                if let ap = a[1] {
                    var p: [UInt8] = []
                    XMLEscape.append(cString: ap, to: &p)
                    if let au = a[2] { XMLEscape.append(cString: au, to: &attrURI) }
                    if p != Array("xml".utf8) { need(p, attrURI) }
                    name = p
                    name.append(UInt8(ascii: ":"))
                }
                XMLEscape.append(cString: local, to: &name)
                attrs.append((attrURI, name, UnsafeBufferPointer(start: start, count: end - start)))
            }
        }
        // Canonical XML order: the default namespace first, then by prefix; attributes by (namespace URI, name).
        decls.sort { a, b in a.prefix.lexicographicallyPrecedes(b.prefix) }
        for d in decls {
            XMLEscape.append(" xmlns", to: &out)
            if !d.prefix.isEmpty {
                out.append(UInt8(ascii: ":"))
                out.append(contentsOf: d.prefix)
            }
            XMLEscape.append("=\"", to: &out)
            d.uri.withUnsafeBufferPointer { u in
                if let base = u.baseAddress { XMLEscape.appendAttribute(base, u.count, to: &out) }
            }
            out.append(UInt8(ascii: "\""))
            declared.append((depth, d.prefix, d.uri))
        }
        if attrs.count > 1 {
            attrs.sort { a, b in
                a.uri == b.uri ? a.name.lexicographicallyPrecedes(b.name) : a.uri.lexicographicallyPrecedes(b.uri)
            }
        }
        for a in attrs {
            out.append(UInt8(ascii: " "))
            out.append(contentsOf: a.name)
            XMLEscape.append("=\"", to: &out)
            if a.value.contains(UInt8(ascii: "&")) {
                // libxml2 reports `&` in attribute values as `&#38;` (see XMLTreeState.decodeAmpersands).
                XMLTreeState.decodeAmpersands(a.value).withUnsafeBufferPointer { d in
                    if let base = d.baseAddress { XMLEscape.appendAttribute(base, d.count, to: &out) }
                }
            } else if let base = a.value.baseAddress {
                XMLEscape.appendAttribute(base, a.value.count, to: &out)
            }
            out.append(UInt8(ascii: "\""))
        }
        openTagPending = true
        return out.count <= maxBytes ? nil : .tooLarge
    }

    /// An end tag. Returns the finished div string when this closes the div.
    mutating func end() -> String? {
        let qname = names.popLast() ?? []
        if openTagPending {
            XMLEscape.append("/>", to: &out)
            openTagPending = false
        } else {
            XMLEscape.append("</", to: &out)
            out.append(contentsOf: qname)
            out.append(UInt8(ascii: ">"))
        }
        while let last = declared.last, last.depth == depth { declared.removeLast() }
        depth -= 1
        guard depth == 0 else { return nil }
        return String(decoding: out, as: UTF8.self)
    }

    /// Character data inside the div. Returns false when the captured text exceeds `maxBytes`.
    mutating func text(_ p: UnsafePointer<UInt8>, _ count: Int, maxBytes: Int) -> Bool {
        closePendingTag()
        XMLEscape.appendText(p, count, to: &out)
        return out.count <= maxBytes
    }

    private mutating func closePendingTag() {
        if openTagPending {
            out.append(UInt8(ascii: ">"))
            openTagPending = false
        }
    }
}
