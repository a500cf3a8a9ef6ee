import CLibXML2

extension XMLTreeState {
    /// One open element.
    struct Frame {
        enum Kind { case object, primitive, wrapper, unknown }
        var kind: Kind
        /// The element's type (objects and primitives); the schema keeps every node alive.
        var nodeRef: Unmanaged<XMLTypeNode>?
        /// The parent's slot that receives this element's value (-1 for the root and wrapped resources).
        var slotIndex: Int
        /// This element's first slot in `slots`.
        var slotStart: Int
        var isResource = false
        /// Whether an unknown child or attribute could collide with another member name.
        var mayCollide = false
        /// A primitive's value; a wrapper's resource.
        var value: FHIRValue?
        /// A primitive's `id` attribute.
        var id: String?
        /// Members from attributes: `id`/`url` of complex types, unknown attributes.
        var attributes: [FHIRObject.Member] = []
        /// An unknown element's text content.
        var text: [UInt8] = []

        /// The element's type, for messages and other slow paths.
        var node: XMLTypeNode? { nodeRef?.takeUnretainedValue() }

        init(kind: Kind, node: Unmanaged<XMLTypeNode>?, slotIndex: Int, slotStart: Int, isResource: Bool = false) {
            self.kind = kind
            self.nodeRef = node
            self.slotIndex = slotIndex
            self.slotStart = slotStart
            self.isResource = isResource
        }
    }

    /// The values seen so far for one child name of one open element.
    struct Slot {
        /// The child's info; the schema (or the parse's unknown list) keeps it alive.
        let handle: Unmanaged<XMLChildInfo>
        var info: XMLChildInfo { handle.takeUnretainedValue() }
        var count = 0
        var arrayMode: Bool
        var hasValue = false
        var hasExtra = false
        var single: FHIRValue = .null
        var singleExtra: FHIRValue?
        var values: [FHIRValue] = []
        var extras: [FHIRValue] = []

        init(handle: Unmanaged<XMLChildInfo>, isArray: Bool) {
            self.handle = handle
            self.arrayMode = isArray
        }

        /// Adds one occurrence: `value` nil when the element had no value, `extra` the `_name` object if any.
        @inline(__always)
        mutating func add(_ value: FHIRValue?, _ extra: FHIRValue?) {
            if !arrayMode && count == 1 {
                // An unknown element seen twice becomes an array.
                arrayMode = true
                values = [single]
                if let e = singleExtra {
                    extras = [e]
                    singleExtra = nil
                }
            }
            if arrayMode {
                if let extra {
                    if !hasExtra {
                        extras = Array(repeating: .null, count: values.count)
                        hasExtra = true
                    }
                    extras.append(extra)
                } else if hasExtra {
                    extras.append(.null)
                }
                if let value {
                    values.append(value)
                    hasValue = true
                } else {
                    values.append(.null)
                }
            } else {
                if let value {
                    single = value
                    hasValue = true
                }
                if let extra {
                    singleExtra = extra
                    hasExtra = true
                }
            }
            count += 1
        }
    }

    /// Open-addressing map (parent type, element name pointer) → child info, for one parse. libxml2 interns
    /// names in its dictionary, so one name has one pointer for the whole parse.
    struct ChildTable {
        private struct Entry {
            var node: UInt = 0
            var name: UInt = 0
            var info: Unmanaged<XMLChildInfo>?
        }
        private var entries = [Entry](repeating: Entry(), count: 64)
        private var count = 0

        @inline(__always)
        private static func hash(_ node: UInt, _ name: UInt) -> Int {
            let h = (node &* 0x9E37_79B9_7F4A_7C15) ^ (name &* 0xC2B2_AE3D_27D4_EB4F)
            return Int(truncatingIfNeeded: h >> 17 ^ h)
        }

        @inline(__always)
        func find(_ node: UInt, _ name: UInt) -> Unmanaged<XMLChildInfo>? {
            let mask = entries.count - 1
            var i = ChildTable.hash(node, name) & mask
            while true {
                let e = entries[i]
                if e.name == name && e.node == node { return e.info }
                if e.name == 0 { return nil }
                i = (i + 1) & mask
            }
        }

        mutating func insert(_ node: UInt, _ name: UInt, _ info: Unmanaged<XMLChildInfo>) {
            if (count + 1) * 2 > entries.count {
                let old = entries
                entries = [Entry](repeating: Entry(), count: old.count * 2)
                count = 0
                for e in old where e.name != 0 {
                    if let i = e.info { insert(e.node, e.name, i) }
                }
            }
            let mask = entries.count - 1
            var i = ChildTable.hash(node, name) & mask
            while entries[i].name != 0 && !(entries[i].name == name && entries[i].node == node) {
                i = (i + 1) & mask
            }
            if entries[i].name == 0 { count += 1 }
            entries[i] = Entry(node: node, name: name, info: info)
        }
    }

    // MARK: - Failures

    /// Records a failure and stops the parser (only from start and end tags, where libxml2 expects it).
    mutating func fail(_ error: FHIRError) {
        session._withUnsafeGuaranteedRef { $0.record(error) }
        stopRequested = true
        if let ctxt { xmlStopParser(ctxt) }
    }

    /// Records a failure without stopping the parser (from text callbacks); it stops at the next tag.
    mutating func record(_ error: FHIRError) {
        session._withUnsafeGuaranteedRef { $0.record(error) }
        stopRequested = true
    }

    func narrativeTooLarge() -> FHIRError {
        FHIRError(.tooLarge, "the narrative div exceeds \(limits.maxStringBytes) bytes", at: location)
    }

    /// The failure for a narrative start tag that could not be captured, at the tag, with the div's pointer.
    func narrativeRefusal(_ refusal: XHTMLCapture.Refusal) -> FHIRError {
        switch refusal {
        case .tooLarge:
            return narrativeTooLarge()
        case .notAllowed(let reason):
            // While a div is captured no frame is pushed: the top frame is the div's parent (a Narrative).
            let divPointer = pointer(of: frames.count - 1, asParent: true) + "/div"
            return FHIRError(.unsafeNarrative, reason, at: elementLocation(pointer: divPointer))
        }
    }

    /// The failure for an element outside the FHIR namespace (outside a narrative), at its start tag.
    func foreignElement(_ localname: UnsafePointer<UInt8>, _ prefix: UnsafePointer<UInt8>?, _ uri: UnsafePointer<UInt8>?, parent: Int) -> FHIRError {
        let ns = uri.map { "the namespace \(String(cString: $0))" } ?? "no namespace"
        let at = pointer(of: parent, asParent: true) + "/" + SourceLocation.escapePointerToken(String(cString: localname))
        return FHIRError(.foreignNamespace, "\(qualifiedName(localname, prefix)) is in \(ns), so it is not a FHIR element: FHIR XML elements are in the namespace \(XMLTreeState.fhirNamespace) (and the narrative div in XHTML)", at: elementLocation(pointer: at))
    }

    /// Whether a namespaced attribute of a FHIR element is one FHIR XML tolerates: `xsi:schemaLocation` on a
    /// resource's element (it names the schema and carries no content). Any other is refused: FHIR elements
    /// carry only `value`, `id` and `url`.
    static func isToleratedNamespacedAttribute(_ a: UnsafeMutablePointer<UnsafePointer<UInt8>?>, onResource: Bool) -> Bool {
        guard onResource, let name = a[0], let uri = a[2] else { return false }
        return equals(name, "schemaLocation") && equals(uri, "http://www.w3.org/2001/XMLSchema-instance")
    }

    /// The failure for a namespaced attribute on a FHIR element.
    func foreignAttribute(_ a: UnsafeMutablePointer<UnsafePointer<UInt8>?>, at location: SourceLocation) -> FHIRError {
        let name = a[0].map { String(cString: $0) } ?? ""
        let qualified = a[1].map { String(cString: $0) + ":" + name } ?? name
        let ns = a[2].map { String(cString: $0) } ?? ""
        return FHIRError(.foreignNamespace, "the attribute \(qualified) (namespace \(ns)) is not FHIR: FHIR elements carry only value, id and url attributes", at: location)
    }

    // MARK: - Attributes

    /// `value` and `id` of the pending primitive element; other attributes are kept as unknown members.
    mutating func readPrimitiveAttributes(_ count: Int, _ attributes: UnsafeMutablePointer<UnsafePointer<UInt8>?>?, _ kind: TypeDefinition.JSONKind) {
        guard let attributes else { return }
        for i in 0..<count {
            let a = attributes + i * 5
            guard let name = a[0], let start = a[3], let end = a[4] else { continue }
            guard a[2] == nil else {
                fail(foreignAttribute(a, at: openingLocation()))
                return
            }
            guard let text = attributeText(start, end) else { return }
            if XMLTreeState.equals(name, "value") {
                guard let v = primitiveValue(text, start, end, kind) else { return }
                pending.value = v
            } else if XMLTreeState.equals(name, "id") {
                pending.id = text
            } else {
                pending.attributes.append(FHIRObject.Member(name: String(cString: name), value: .string(text)))
            }
        }
    }

    /// The attributes of a complex element or resource (the frame on top): `id`, `url`; others kept as unknown
    /// members (the validator names them). Namespaced ones are refused, but for `xsi:schemaLocation` on a resource.
    mutating func readObjectAttributes(_ count: Int, _ attributes: UnsafeMutablePointer<UnsafePointer<UInt8>?>?, isResource: Bool) {
        guard let attributes else { return }
        let top = frames.count - 1
        for i in 0..<count {
            let a = attributes + i * 5
            guard let name = a[0], let start = a[3], let end = a[4] else { continue }
            guard a[2] == nil else {
                if XMLTreeState.isToleratedNamespacedAttribute(a, onResource: isResource) { continue }
                fail(foreignAttribute(a, at: elementLocation(pointer: pointer(of: top))))
                return
            }
            guard let text = attributeText(start, end) else { return }
            let n = String(cString: name)
            if frames[top].nodeRef?.takeUnretainedValue().attributeNames.contains(n) != true { frames[top].mayCollide = true }
            frames[top].attributes.append(FHIRObject.Member(name: n, value: .string(text)))
        }
    }

    mutating func readUnknownAttributes(_ count: Int, _ attributes: UnsafeMutablePointer<UnsafePointer<UInt8>?>?) {
        guard let attributes else { return }
        let top = frames.count - 1
        for i in 0..<count {
            let a = attributes + i * 5
            guard let name = a[0], let start = a[3], let end = a[4] else { continue }
            guard a[2] == nil else {
                fail(foreignAttribute(a, at: elementLocation(pointer: pointer(of: top))))
                return
            }
            guard let text = attributeText(start, end) else { return }
            frames[top].attributes.append(FHIRObject.Member(name: String(cString: name), value: .string(text)))
        }
    }

    /// An attribute value as a String, or nil (and a failure) when it exceeds the string limit.
    mutating func attributeText(_ start: UnsafePointer<UInt8>, _ end: UnsafePointer<UInt8>) -> String? {
        let length = end - start
        guard length <= limits.maxStringBytes else {
            fail(FHIRError(.tooLarge, "an attribute value is \(length) bytes; the limit is \(limits.maxStringBytes) bytes", at: elementLocation(pointer: nil)))
            return nil
        }
        let bytes = UnsafeBufferPointer(start: start, count: length)
        guard bytes.contains(UInt8(ascii: "&")) else { return String(decoding: bytes, as: UTF8.self) }
        return String(decoding: XMLTreeState.decodeAmpersands(bytes), as: UTF8.self)
    }

    /// Without entity substitution (never enabled, for safety), libxml2 reports every `&` of an attribute value
    /// (written `&amp;` or `&#38;`) as the five characters `&#38;`; a raw `&` cannot occur, so this is exact.
    static func decodeAmpersands(_ bytes: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        let n = bytes.count
        while i < n {
            let c = bytes[i]
            out.append(c)
            if c == UInt8(ascii: "&") && i + 4 < n && bytes[i + 1] == UInt8(ascii: "#") && bytes[i + 2] == UInt8(ascii: "3")
                && bytes[i + 3] == UInt8(ascii: "8") && bytes[i + 4] == UInt8(ascii: ";") {
                i += 5
            } else {
                i += 1
            }
        }
        return out
    }

    /// A primitive's `value` attribute as JSON: boolean, number (its exact lexeme) or string.
    mutating func primitiveValue(_ text: String, _ start: UnsafePointer<UInt8>, _ end: UnsafePointer<UInt8>, _ kind: TypeDefinition.JSONKind) -> FHIRValue? {
        switch kind {
        case .string:
            return .string(text)
        case .bool:
            if text == "true" { return .bool(true) }
            if text == "false" { return .bool(false) }
            fail(FHIRError(.invalidPrimitive, "\"\(text)\" is not a valid \(typeName(ofTop: "boolean")) (true or false)", at: openingLocation()))
            return nil
        case .number:
            guard FHIRNumber.isJSONNumber(UnsafeBufferPointer(start: start, count: end - start)) else {
                fail(FHIRError(.invalidPrimitive, "\"\(text)\" is not a valid \(typeName(ofTop: "number"))", at: openingLocation()))
                return nil
            }
            return .number(FHIRNumber(uncheckedLexeme: text))
        }
    }

    /// The type name of the pending primitive (for messages).
    func typeName(ofTop fallback: String) -> String {
        pending.nodeRef?.takeUnretainedValue().name ?? fallback
    }

    // MARK: - Locations

    /// The JSON pointer of the open element `frames[index]`; `asParent` gives the prefix for its children, which
    /// differs for a primitive (`/name/0/_given/1` holds the extensions of `/name/0/given/1`).
    func pointer(of index: Int, asParent: Bool = false) -> String {
        var p = ""
        guard index >= 1 else { return p }
        for j in 1...index {
            let slotIndex = frames[j].slotIndex
            guard slotIndex >= 0 else { continue }  // a resource inside its wrapper element
            let extra = frames[j].kind == .primitive && (j < index || asParent)
            p += "/" + SourceLocation.escapePointerToken(extra ? slots[slotIndex].info.extraName : slots[slotIndex].info.jsonName)
            if slots[slotIndex].arrayMode || slots[slotIndex].count > 0 { p += "/\(slots[slotIndex].count)" }
        }
        return p
    }

    /// The location of the pending primitive (the element being opened), with its JSON pointer.
    func openingLocation() -> SourceLocation {
        let parent = frames.count - 1
        guard parent >= 0, pending.slotIndex >= 0 else { return elementLocation(pointer: nil) }
        let slot = slots[pending.slotIndex]
        let token = pointer(of: parent, asParent: true) + "/" + SourceLocation.escapePointerToken(slot.info.jsonName)
        return elementLocation(pointer: slot.arrayMode || slot.count > 0 ? token + "/\(slot.count)" : token)
    }

    /// Records where a child element that is being opened starts, under its JSON pointer.
    mutating func recordLocation(_ handle: Unmanaged<XMLChildInfo>, slotIndex: Int, parent: Int) {
        let info = handle.takeUnretainedValue()
        let token = pointer(of: parent, asParent: true) + "/" + SourceLocation.escapePointerToken(info.jsonName)
        let slot = slots[slotIndex]
        if info.kind == .unknown && slot.count == 1 {
            // An unknown element seen twice becomes an array: its first occurrence moves to `/0`.
            locations[token + "/0"] = locations[token]
            locations[token] = nil
        }
        let p = slot.arrayMode || slot.count > 0 ? token + "/\(slot.count)" : token
        locations[p] = elementLocation(pointer: p)
    }

    /// The parser's current position.
    var location: SourceLocation {
        guard let input = ctxt?.pointee.input else { return SourceLocation() }
        return SourceLocation(line: Int(input.pointee.line), column: Int(max(input.pointee.col, 1)))
    }

    /// Where the current start tag begins. libxml2 reports the position after the tag (its column counts
    /// characters); walk back to the tag's `<` and count bytes from the start of its line.
    func elementLocation(pointer: String?) -> SourceLocation {
        guard let input = ctxt?.pointee.input?.pointee else { return SourceLocation(pointer: pointer) }
        let line = Int(input.line)
        let column = Int(max(input.col, 1))
        guard let cur = input.cur, let base = input.base, cur > base else {
            return SourceLocation(line: line, column: column, pointer: pointer)
        }
        var p = cur
        var newlines = 0
        var characters = 0
        let floor = cur - min(cur - base, 1 << 16)
        while p > floor {
            p -= 1
            let c = p.pointee
            if c & 0xC0 != 0x80 { characters += 1 }
            if c == UInt8(ascii: "<") {
                // Line start: at most 4 KiB back (beyond that, count from libxml2's column).
                var q = p
                let limit = p - min(p - base, 4096)
                while q > limit && (q - 1).pointee != 0x0A { q -= 1 }
                let atLineStart = q == base ? input.consumed == 0 : (q - 1).pointee == 0x0A
                if atLineStart {
                    return SourceLocation(line: line - newlines, column: p - q + 1, pointer: pointer)
                }
                let approximate = newlines == 0 ? max(column - characters, 1) : nil
                return SourceLocation(line: line - newlines, column: approximate, pointer: pointer)
            }
            if c == 0x0A { newlines += 1 }
        }
        return SourceLocation(line: line, column: column, pointer: pointer)
    }

    // MARK: - Names

    /// The first member name that occurs twice, if any (linear time: hostile input can carry many attributes).
    static func duplicateName(_ members: [FHIRObject.Member]) -> String? {
        if members.count <= 8 {
            for i in members.indices {
                for j in members.index(after: i)..<members.endIndex where members[i].name == members[j].name {
                    return members[i].name
                }
            }
            return nil
        }
        var seen = Set<String>(minimumCapacity: members.count)
        for m in members where !seen.insert(m.name).inserted { return m.name }
        return nil
    }

    /// Whether a namespace URI (from libxml2's dictionary) is the FHIR namespace.
    @inline(__always)
    mutating func isFHIRNamespace(_ uri: UnsafePointer<UInt8>?) -> Bool {
        guard let uri else { return false }
        if uri == fhirNamespacePointer { return true }
        if XMLTreeState.equals(uri, "http://hl7.org/fhir") {
            fhirNamespacePointer = uri
            return true
        }
        return false
    }

    /// Whether a NUL-terminated C string equals an ASCII literal.
    @inline(__always)
    static func equals(_ p: UnsafePointer<UInt8>, _ literal: StaticString) -> Bool {
        let n = literal.utf8CodeUnitCount
        let l = literal.utf8Start
        for i in 0..<n where p[i] != l[i] { return false }
        return p[n] == 0
    }

    /// Whether a NUL-terminated C string equals `bytes`.
    @inline(__always)
    static func equals(_ p: UnsafePointer<UInt8>, _ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBufferPointer { b in
            for i in 0..<b.count where p[i] != b[i] { return false }
            return p[b.count] == 0
        }
    }

    func qualifiedName(_ localname: UnsafePointer<UInt8>, _ prefix: UnsafePointer<UInt8>?) -> String {
        let l = String(cString: localname)
        guard let prefix else { return "<\(l)>" }
        return "<\(String(cString: prefix)):\(l)>"
    }

    /// Unknown-element text without surrounding whitespace, nil when there is none.
    static func trimmedText(_ u: [UInt8]) -> String? {
        var a = 0
        var b = u.count
        func isSpace(_ c: UInt8) -> Bool { c == 0x20 || c == 0x0A || c == 0x09 || c == 0x0D }
        while a < b && isSpace(u[a]) { a += 1 }
        while b > a && isSpace(u[b - 1]) { b -= 1 }
        return a == b ? nil : String(decoding: u[a..<b], as: UTF8.self)
    }
}
