/// Writes the resource tree as FHIR R4 XML, by the rules of the FHIR "XML Representation" page.
///
/// Elements come in the type table's definition order whatever the JSON member order was; primitives carry
/// `value` attributes (numbers as their exact lexeme) with their `_name` id and extensions merged back in;
/// arrays become repeated elements; element ids and `Extension.url` are attributes; contained resources are
/// wrapped; the narrative div is checked to be well-formed and written as XHTML. Members the type table does
/// not know are written after the known ones, best effort, so nothing is lost silently; what cannot be written
/// at all is an error with its JSON pointer.
public struct XMLWriter: Sendable {
    /// Indent with two spaces, one element per line.
    public let pretty: Bool
    let schema: XMLSchema

    /// A writer for `table`. It learns the table's XML shape as it writes, so keep one writer for many resources.
    public init(table: TypeTable = .r4, pretty: Bool = true) {
        self.pretty = pretty
        self.schema = XMLSchema(table: table)
    }

    /// A writer for FHIR R4 sharing the process-wide view of the R4 table. (`XMLWriter()` and
    /// `XMLWriter(pretty:)` resolve here.)
    public init(pretty: Bool = true) {
        self.pretty = pretty
        self.schema = XMLSchema.r4
    }

    /// The XML bytes of a resource: `<?xml version="1.0" encoding="UTF-8"?>` and the resource element.
    public func write(_ resource: Resource) throws(FHIRError) -> [UInt8] {
        var emitter = XMLEmitter(schema: schema, pretty: pretty)
        XMLEscape.append("<?xml version=\"1.0\" encoding=\"UTF-8\"?>", to: &emitter.out)
        emitter.newline()
        try emitter.writeResource(resource.object, indent: 0, declareNamespace: true)
        emitter.newline()
        return emitter.out
    }
}

/// One write: the output buffer and the path to the value being written (for error pointers).
struct XMLEmitter {
    let schema: XMLSchema
    let pretty: Bool
    var out: [UInt8] = []
    private var path: [PathToken] = []

    enum PathToken {
        case name(String)
        case index(Int)
    }

    init(schema: XMLSchema, pretty: Bool) {
        self.schema = schema
        self.pretty = pretty
        out.reserveCapacity(8192)
    }

    /// The JSON pointer of the value being written.
    var pointer: String {
        var p = ""
        for t in path {
            switch t {
            case .name(let n): p += "/" + SourceLocation.escapePointerToken(n)
            case .index(let i): p += "/\(i)"
            }
        }
        return p
    }

    private func error(_ code: FHIRError.Code, _ reason: String) -> FHIRError {
        FHIRError(code, reason, at: SourceLocation(pointer: pointer))
    }

    mutating func newline() {
        if pretty { out.append(0x0A) }
    }

    private mutating func indent(_ level: Int) {
        if pretty && level > 0 { out.append(contentsOf: repeatElement(UInt8(ascii: " "), count: level * 2)) }
    }

    // MARK: - Resources and objects

    /// A resource element (`<Patient>…</Patient>`), named by the object's `resourceType`.
    mutating func writeResource(_ object: FHIRObject, indent level: Int, declareNamespace: Bool) throws(FHIRError) {
        guard case .string(let type)? = object["resourceType"] else {
            throw error(.notAResource, "the object has no resourceType, so it cannot be written as a FHIR resource")
        }
        guard schema.isResourceType(type), let node = schema.node(type) else {
            throw error(.unknownResourceType, "\"\(type)\" is not a FHIR R4 resource type")
        }
        try writeElement(Array(type.utf8), node: node, object: object, leading: [], indent: level,
                         declareNamespace: declareNamespace, isResource: true)
    }

    /// One element of a complex, backbone, resource or primitive type: `leading` attributes (a primitive's
    /// `value`), then the object's attribute members (`id`, `url`), then its children in definition order.
    private mutating func writeElement(_ name: [UInt8], node: XMLTypeNode, object: FHIRObject?, leading: [(String, [UInt8])],
                                       indent level: Int, declareNamespace: Bool = false, isResource: Bool = false) throws(FHIRError) {
        var attributes = leading
        var entries: [Entry] = []
        if let object {
            for (index, m) in object.members.enumerated() {
                if isResource && m.name == "resourceType" { continue }
                var info: XMLChildInfo
                var isExtra = false
                if m.name.utf8.count > 1 && m.name.utf8.first == UInt8(ascii: "_") {
                    // `_name`: a primitive's id and extensions. Any other `_x` is just an unknown member.
                    info = node.child(String(m.name.dropFirst()))
                    if case .primitive = info.kind { isExtra = true } else { info = node.child(m.name) }
                } else {
                    info = node.child(m.name)
                }
                if case .attribute = info.kind, !isExtra {
                    path.append(.name(m.name))
                    let bytes = try attributeBytes(m.value)
                    path.removeLast()
                    if attributes.contains(where: { $0.0 == m.name }) {
                        throw error(.duplicateMember, "\"\(m.name)\" would be written twice as an attribute")
                    }
                    attributes.append((m.name, bytes))
                    continue
                }
                if let k = entries.firstIndex(where: { $0.info === info }) {
                    if isExtra { entries[k].extra = m.value } else { entries[k].value = m.value }
                } else {
                    entries.append(Entry(info: info, index: index, value: isExtra ? nil : m.value, extra: isExtra ? m.value : nil))
                }
            }
        }
        // Definition order; unknown members after the known ones, in source order.
        entries.sort { a, b in a.info.order == b.info.order ? a.index < b.index : a.info.order < b.info.order }
        for (a, b) in zip(entries, entries.dropFirst()) where a.info.isChoice && b.info.isChoice && a.info.order == b.info.order {
            path.append(.name(b.info.jsonName))
            defer { path.removeLast() }
            throw error(.invalidChoice, "\(a.info.jsonName) and \(b.info.jsonName) are both given for \(a.info.elementName), which takes one type")
        }

        indent(level)
        out.append(UInt8(ascii: "<"))
        out.append(contentsOf: name)
        if declareNamespace {
            XMLEscape.append(" xmlns=\"http://hl7.org/fhir\"", to: &out)
        }
        for (n, v) in attributes {
            out.append(UInt8(ascii: " "))
            out.append(contentsOf: n.utf8)
            XMLEscape.append("=\"", to: &out)
            out.append(contentsOf: v)
            out.append(UInt8(ascii: "\""))
        }
        if entries.isEmpty {
            XMLEscape.append("/>", to: &out)
            return
        }
        out.append(UInt8(ascii: ">"))
        newline()
        for entry in entries {
            try writeEntry(entry, indent: level + 1)
        }
        indent(level)
        XMLEscape.append("</", to: &out)
        out.append(contentsOf: name)
        out.append(UInt8(ascii: ">"))
    }

    /// One JSON member (with its `_name` twin) of an object being written.
    private struct Entry {
        let info: XMLChildInfo
        let index: Int
        var value: FHIRValue?
        var extra: FHIRValue?
    }

    private mutating func writeEntry(_ entry: Entry, indent level: Int) throws(FHIRError) {
        let info = entry.info
        switch info.kind {
        case .primitive:
            guard let node = info.node else { return }
            try writePrimitive(info, node: node, value: entry.value, extra: entry.extra, indent: level)
        case .complex:
            guard let value = entry.value, let node = info.node else { return }
            path.append(.name(info.jsonName))
            defer { path.removeLast() }
            try forEachOccurrence(value, info) { (this: inout XMLEmitter, item) throws(FHIRError) in
                guard case .object(let o) = item else {
                    throw this.error(.wrongValueKind, "\(info.jsonName) is a \(node.name), so it must be an object, not a \(item.kindName)")
                }
                try this.writeElement(info.nameBytes, node: node, object: o, leading: [], indent: level)
                this.newline()
            }
        case .resource:
            guard let value = entry.value else { return }
            path.append(.name(info.jsonName))
            defer { path.removeLast() }
            try forEachOccurrence(value, info) { (this: inout XMLEmitter, item) throws(FHIRError) in
                guard case .object(let o) = item else {
                    throw this.error(.wrongValueKind, "\(info.jsonName) holds a resource, so it must be an object, not a \(item.kindName)")
                }
                this.indent(level)
                this.out.append(UInt8(ascii: "<"))
                this.out.append(contentsOf: info.nameBytes)
                this.out.append(UInt8(ascii: ">"))
                this.newline()
                try this.writeResource(o, indent: level + 1, declareNamespace: false)
                this.newline()
                this.indent(level)
                XMLEscape.append("</", to: &this.out)
                this.out.append(contentsOf: info.nameBytes)
                this.out.append(UInt8(ascii: ">"))
                this.newline()
            }
        case .xhtml:
            guard let value = entry.value else { return }
            path.append(.name(info.jsonName))
            defer { path.removeLast() }
            guard case .string(let div) = value else {
                throw error(.wrongValueKind, "the narrative div must be a string of XHTML, not a \(value.kindName)")
            }
            try writeNarrative(div, indent: level)
        case .attribute:
            break  // written in the start tag
        case .unknown:
            guard let value = entry.value else { return }
            try writeUnknown(info.jsonName, value, indent: level)
        }
    }

    /// Calls `body` for each occurrence: every item of an array for a repeating element, the value itself otherwise.
    private mutating func forEachOccurrence(_ value: FHIRValue, _ info: XMLChildInfo,
                                            _ body: (inout XMLEmitter, FHIRValue) throws(FHIRError) -> Void) throws(FHIRError) {
        if case .array(let items) = value {
            guard info.isArray else {
                throw error(.cardinality, "\(info.jsonName) allows one value, but the tree has an array")
            }
            guard !items.isEmpty else {
                throw error(.emptyValue, "\(info.jsonName) is an empty array, which has no XML form (and FHIR forbids)")
            }
            for (i, item) in items.enumerated() {
                path.append(.index(i))
                try body(&self, item)
                path.removeLast()
            }
        } else {
            try body(&self, value)
        }
    }

    // MARK: - Primitives

    private mutating func writePrimitive(_ info: XMLChildInfo, node: XMLTypeNode, value: FHIRValue?, extra: FHIRValue?, indent level: Int) throws(FHIRError) {
        let values: [FHIRValue?]
        let extras: [FHIRValue?]
        if info.isArray {
            path.append(.name(info.jsonName))
            values = try items(value)
            path.removeLast()
            path.append(.name(info.extraName))
            extras = try items(extra)
            path.removeLast()
            if !values.isEmpty && !extras.isEmpty && values.count != extras.count {
                path.append(.name(info.extraName))
                defer { path.removeLast() }
                throw error(.cardinality, "\(info.jsonName) has \(values.count) values but \(info.extraName) has \(extras.count) entries; they must line up")
            }
        } else {
            if case .array? = value {
                path.append(.name(info.jsonName))
                defer { path.removeLast() }
                throw error(.cardinality, "\(info.jsonName) allows one value, but the tree has an array")
            }
            if case .array? = extra {
                path.append(.name(info.extraName))
                defer { path.removeLast() }
                throw error(.cardinality, "\(info.extraName) belongs to an element that allows one value, but the tree has an array")
            }
            values = value.map { [$0] } ?? []
            extras = extra.map { [$0] } ?? []
        }
        let count = max(values.count, extras.count)
        for i in 0..<count {
            let v = i < values.count ? values[i] : nil
            let e = i < extras.count ? extras[i] : nil
            var leading: [(String, [UInt8])] = []
            if let v, v != .null {
                path.append(.name(info.jsonName))
                if info.isArray { path.append(.index(i)) }
                leading.append(("value", try attributeBytes(v)))
                if info.isArray { path.removeLast() }
                path.removeLast()
            }
            var extraObject: FHIRObject?
            if let e, e != .null {
                path.append(.name(info.extraName))
                if info.isArray { path.append(.index(i)) }
                guard case .object(let o) = e else {
                    throw error(.wrongValueKind, "\(info.extraName) must hold objects (id and extension), not a \(e.kindName)")
                }
                extraObject = o
            }
            try writeElement(info.nameBytes, node: node, object: extraObject, leading: leading, indent: level)
            if extraObject != nil {
                if info.isArray { path.removeLast() }
                path.removeLast()
            }
            newline()
        }
    }

    /// The items of a repeating primitive or its `_name` twin: `null` entries are nil.
    private func items(_ value: FHIRValue?) throws(FHIRError) -> [FHIRValue?] {
        guard let value else { return [] }
        guard case .array(let a) = value else { return [value] }
        guard !a.isEmpty else {
            throw error(.emptyValue, "an empty array has no XML form (and FHIR forbids it)")
        }
        return a.map { $0 == .null ? nil : $0 }
    }

    /// The escaped text of a JSON scalar for an XML attribute.
    private func attributeBytes(_ value: FHIRValue) throws(FHIRError) -> [UInt8] {
        var bytes: [UInt8] = []
        switch value {
        case .string(let s):
            guard XMLEscape.appendCheckedAttribute(s, to: &bytes) else {
                throw error(.invalidPrimitive, "the string contains a control character that XML cannot carry")
            }
        case .number(let n):
            bytes.append(contentsOf: n.lexeme.utf8)
        case .bool(let b):
            bytes.append(contentsOf: (b ? "true" : "false").utf8)
        case .null, .array, .object:
            throw error(.wrongValueKind, "a primitive value must be a string, number or boolean, not a \(value.kindName)")
        }
        return bytes
    }

    /// Whether every character of `s` is allowed in XML 1.0 (no C0 controls other than tab, LF, CR; no U+FFFE/U+FFFF).
    static func isXMLText(_ s: String) -> Bool {
        var s = s
        return s.withUTF8 { u in u.baseAddress.map { XMLEscape.isXMLText($0, u.count) } ?? true }
    }

    // MARK: - Narrative

    /// The div as XHTML: verified well-formed (and safe) by libxml2, in the XHTML namespace, then written as is.
    private mutating func writeNarrative(_ div: String, indent level: Int) throws(FHIRError) {
        let root: XHTML.RootInfo
        do {
            root = try XHTML.verify(div)
        } catch {
            throw FHIRError(error.code, "the narrative div is not well-formed XHTML: \(error.reason)", at: SourceLocation(line: error.location?.line, column: error.location?.column, pointer: pointer))
        }
        var bytes = Array(div.utf8)
        var start = 0
        while start < bytes.count, bytes[start] == 0x20 || bytes[start] == 0x0A || bytes[start] == 0x09 || bytes[start] == 0x0D { start += 1 }
        let openDiv = Array("<div".utf8)
        let opensWithDiv = bytes.count >= start + 5 && Array(bytes[start..<start + 4]) == openDiv
            && [UInt8(ascii: " "), UInt8(ascii: ">"), UInt8(ascii: "/"), 0x0A, 0x09, 0x0D].contains(bytes[start + 4])
        guard root.localName == "div", opensWithDiv else {
            throw error(.invalidNarrative, "the narrative must be a single <div> element (it is <\(root.localName)>, or has content before it)")
        }
        switch root.namespace {
        case XHTML.namespace?:
            break
        case nil:
            bytes.insert(contentsOf: " xmlns=\"http://www.w3.org/1999/xhtml\"".utf8, at: start + 4)
        case let other?:
            throw error(.invalidNarrative, "the narrative div is in the namespace \(other), not \(XHTML.namespace)")
        }
        indent(level)
        out.append(contentsOf: bytes[start...])
        newline()
    }

    // MARK: - Unknown members

    /// Best effort for members the type table does not know: scalars as `value` attributes, objects as elements
    /// with children, arrays as repeated elements.
    private mutating func writeUnknown(_ name: String, _ value: FHIRValue, indent level: Int) throws(FHIRError) {
        path.append(.name(name))
        defer { path.removeLast() }
        guard XMLEmitter.isNCName(name) else {
            throw error(.unknownElement, "\"\(name)\" is not known to FHIR and is not a valid XML element name, so it cannot be written as XML")
        }
        let nameBytes = Array(name.utf8)
        if case .array(let items) = value {
            guard !items.isEmpty else { throw error(.emptyValue, "an empty array has no XML form (and FHIR forbids it)") }
            for (i, item) in items.enumerated() {
                path.append(.index(i))
                try writeUnknownOne(nameBytes, item, indent: level)
                path.removeLast()
            }
        } else {
            try writeUnknownOne(nameBytes, value, indent: level)
        }
    }

    private mutating func writeUnknownOne(_ name: [UInt8], _ value: FHIRValue, indent level: Int) throws(FHIRError) {
        indent(level)
        out.append(UInt8(ascii: "<"))
        out.append(contentsOf: name)
        switch value {
        case .string, .number, .bool:
            XMLEscape.append(" value=\"", to: &out)
            out.append(contentsOf: try attributeBytes(value))
            XMLEscape.append("\"/>", to: &out)
            newline()
            return
        case .null:
            throw error(.unknownElement, "a null value of an unknown element has no XML form")
        case .array:
            throw error(.unknownElement, "an array nested in an array has no XML form")
        case .object(let o):
            guard !o.members.isEmpty else {
                XMLEscape.append("/>", to: &out)
                newline()
                return
            }
            out.append(UInt8(ascii: ">"))
            // Text content read from an unknown element comes back as `#text`.
            if case .string(let text)? = o["#text"] {
                guard XMLEmitter.isXMLText(text) else {
                    throw error(.invalidPrimitive, "the text contains a control character that XML cannot carry")
                }
                var t = text
                t.withUTF8 { u in
                    if let base = u.baseAddress { XMLEscape.appendText(base, u.count, to: &out) }
                }
            }
            newline()
            for m in o.members where m.name != "#text" {
                try writeUnknown(m.name, m.value, indent: level + 1)
            }
            indent(level)
            XMLEscape.append("</", to: &out)
            out.append(contentsOf: name)
            out.append(UInt8(ascii: ">"))
            newline()
        }
    }

    /// An XML name without a colon (letters, digits, `-`, `_`, `.`, non-ASCII; not starting with a digit, `-` or `.`).
    static func isNCName(_ name: String) -> Bool {
        guard let first = name.utf8.first else { return false }
        let isStart = { (c: UInt8) -> Bool in
            (c | 0x20) >= UInt8(ascii: "a") && (c | 0x20) <= UInt8(ascii: "z") || c == UInt8(ascii: "_") || c >= 0x80
        }
        guard isStart(first) else { return false }
        for c in name.utf8.dropFirst() {
            let ok = isStart(c) || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c == UInt8(ascii: "-") || c == UInt8(ascii: ".")
            if !ok { return false }
        }
        return true
    }
}
