/// A parsed C-CDA document: every element and text run in document order, in flat arrays.
///
/// Node `i` is the `i`-th element or text run of the document; an element's descendants are exactly the nodes
/// `i + 1 ... end`, so "is inside" is two comparisons and an element's text is a slice of the array. Elements link
/// to their first element child and next element sibling; text runs are not linked (they are found by range).
/// Built once per conversion by ``CCDAXMLParser``; every path of the mapping is evaluated on it.
struct CCDADocument: Sendable {
    /// The namespaces a mapping path can name. Elements without a prefix in a path are `cda`.
    enum Namespace: UInt8, Sendable {
        /// `urn:hl7-org:v3`, the CDA namespace (written without a prefix, or `cda:`).
        case cda
        /// `urn:hl7-org:sdtc`, the SDTC extensions (`sdtc:raceCode`).
        case sdtc
        /// `http://www.w3.org/2001/XMLSchema-instance` (`@xsi:type`).
        case xsi
        /// No namespace (attributes without a prefix).
        case none
        /// Any other namespace: never matched by a mapping path.
        case other

        static let cdaURI = "urn:hl7-org:v3"
        static let sdtcURI = "urn:hl7-org:sdtc"
        static let xsiURI = "http://www.w3.org/2001/XMLSchema-instance"

        /// The namespace a path prefix stands for (nil: no such prefix).
        init?(prefix: String?, isAttribute: Bool) {
            switch prefix {
            case nil: self = isAttribute ? .none : .cda
            case "cda": self = .cda
            case "sdtc": self = .sdtc
            case "xsi": self = .xsi
            default: return nil
            }
        }
    }

    /// Plain integers only, so reading a node copies no string: the name is an id in ``names``, a text run's
    /// characters an index in ``texts``.
    struct Node: Sendable {
        /// The local name of an element, as its id in ``names``; 0 (the empty name) for a text run.
        var name: Int32
        var namespace: Namespace
        var isText: Bool
        var parent: Int32
        var firstChild: Int32 = -1
        var nextSibling: Int32 = -1
        /// The index of the last node inside this one (itself for text and empty elements).
        var end: Int32
        /// The line the element starts on (1-based).
        var line: Int32
        var firstAttribute: Int32
        var attributeCount: Int32
        /// A text run's characters, as an index in ``texts``; -1 for an element.
        var text: Int32
    }

    struct Attribute: Sendable {
        /// The local name, as its id in ``names``.
        var name: Int32
        var namespace: Namespace
        /// The value; `xsi:type` keeps only its local part (`PQ` for `cda:PQ`).
        var value: String
    }

    var nodes: [Node] = []
    var attributes: [Attribute] = []
    /// Element and attribute local names, each once; a name's id is its index. Id 0 is the empty name.
    var names: [String] = [""]
    var nameIds: [String: Int32] = ["": 0]
    /// The characters of the text runs.
    var texts: [String] = []
    /// The narrative's `ID` attributes → the element carrying each (the first one, if repeated).
    var ids: [String: Int32] = [:]

    static let root: Int32 = 0

    /// The id of a name, adding it when new.
    mutating func intern(_ name: String) -> Int32 {
        if let id = nameIds[name] { return id }
        let id = Int32(names.count)
        names.append(name)
        nameIds[name] = id
        return id
    }

    /// An element's local name ("" for a text run).
    func name(of node: Int32) -> String { names[Int(nodes[Int(node)].name)] }

    func attribute(_ name: String, _ namespace: Namespace = .none, of node: Int32) -> String? {
        guard let a = attributeIndex(name, namespace, of: node) else { return nil }
        return attributes[Int(a)].value
    }

    /// The element children of `node` named `name` (any name when nil) in that namespace.
    func children(of node: Int32, named name: String?, _ namespace: Namespace = .cda) -> [Int32] {
        var out: [Int32] = []
        let id: Int32? = name.map { nameIds[$0] ?? -1 }
        var c = nodes[Int(node)].firstChild
        while c >= 0 {
            let child = nodes[Int(c)]
            if id == nil || (child.name == id && child.namespace == namespace) { out.append(c) }
            c = child.nextSibling
        }
        return out
    }

    func child(of node: Int32, named name: String, _ namespace: Namespace = .cda) -> Int32? {
        guard let id = nameIds[name] else { return nil }
        var c = nodes[Int(node)].firstChild
        while c >= 0 {
            let child = nodes[Int(c)]
            if child.name == id && child.namespace == namespace { return c }
            c = child.nextSibling
        }
        return nil
    }

    /// Whether `node` is `ancestor` or inside it.
    func isWithin(_ node: Int32, _ ancestor: Int32) -> Bool {
        node >= ancestor && node <= nodes[Int(ancestor)].end
    }

    /// An element with a `nullFlavor` stands for no value.
    func isNull(_ node: Int32) -> Bool {
        attribute("nullFlavor", of: node) != nil
    }

    /// All the text inside `node`, in document order (XPath's string value), unnormalised.
    func stringValue(_ node: Int32) -> String {
        let n = nodes[Int(node)]
        if n.isText { return texts[Int(n.text)] }
        var out = ""
        var i = Int(node) + 1
        let end = Int(n.end)
        while i <= end {
            if nodes[i].isText { out += texts[Int(nodes[i].text)] }
            i += 1
        }
        return out
    }

    /// The text inside `node` with runs of whitespace made one space and the ends trimmed; nil when empty.
    func normalizedText(_ node: Int32) -> String? {
        CCDADocument.normalize(stringValue(node))
    }

    static func normalize(_ text: String) -> String? {
        // Most values (codes, ids, times) are already normal: no tab, line break, no-break space, nor a space at
        // an end or next to another.
        var clean = !text.isEmpty
        var previousSpace = true
        for b in text.utf8 {
            if b == 0x20 {
                if previousSpace { clean = false; break }
                previousSpace = true
            } else if b == 0x0A || b == 0x09 || b == 0x0D || b == 0xC2 {
                clean = false
                break
            } else {
                previousSpace = false
            }
        }
        if clean, !previousSpace { return text }
        var out = ""
        var pendingSpace = false
        for scalar in text.unicodeScalars {
            if scalar == " " || scalar == "\n" || scalar == "\t" || scalar == "\r" || scalar == "\u{A0}" {
                pendingSpace = !out.isEmpty
            } else {
                if pendingSpace { out.unicodeScalars.append(" ") }
                pendingSpace = false
                out.unicodeScalars.append(scalar)
            }
        }
        return out.isEmpty ? nil : out
    }

    /// Whether two elements hold the same names, attributes and text throughout.
    func sameContent(_ a: Int32, _ b: Int32) -> Bool {
        let lengthA = nodes[Int(a)].end - a
        guard lengthA == nodes[Int(b)].end - b else { return false }
        for k in 0...Int(lengthA) {
            let x = nodes[Int(a) + k]
            let y = nodes[Int(b) + k]
            guard x.isText == y.isText, x.name == y.name, x.namespace == y.namespace,
                  !x.isText || texts[Int(x.text)] == texts[Int(y.text)],
                  x.attributeCount == y.attributeCount else { return false }
            for i in 0..<Int(x.attributeCount) {
                let p = Int(x.firstAttribute) + i
                let q = Int(y.firstAttribute) + i
                guard attributes[p].name == attributes[q].name, attributes[p].namespace == attributes[q].namespace,
                      attributes[p].value == attributes[q].value else { return false }
            }
        }
        return true
    }

    /// Where a node is, for warnings: `line 123`.
    func place(_ node: Int32) -> String { "line \(nodes[Int(node)].line)" }

    /// A short path to an element for messages: `section/entry/observation`.
    func describe(_ node: Int32) -> String {
        var names: [String] = []
        var n = node
        while n >= 0, names.count < 4 {
            names.append(name(of: n))
            n = nodes[Int(n)].parent
        }
        return names.reversed().joined(separator: "/")
    }
}
