import CLibXML2

/// Builds the resource tree from libxml2 SAX2 events (one per parse), by the FHIR R4 XML rules.
///
/// Open elements are `frames`; the children already seen of every open element are `slots` (one per distinct
/// child name, in first-appearance order), on one shared stack, so that a parse allocates little beyond the
/// tree itself. A child is matched to its slot when it starts (so cardinality errors point at it) and its value
/// is stored there when it ends; an element's JSON object is assembled from its slots when it ends.
struct XMLTreeState {
    let schema: XMLSchema
    let limits: FHIRLimits
    let trackLocations: Bool
    /// Where failures go (the session that owns this state).
    let session: Unmanaged<XMLTreeBuilder>
    /// The parser context of the current callback.
    var ctxt: xmlParserCtxtPtr?
    /// Set once a failure is recorded: later events are ignored and the parser is stopped at the next tag.
    var stopRequested = false
    /// JSON pointer → where that element starts (only with `trackLocations`).
    var locations: [String: SourceLocation] = [:]
    /// The finished root resource.
    var root: FHIRObject?

    var frames = UnsafeStack<Frame>(capacity: 32)
    /// The primitive element just opened, kept out of `frames` until it turns out to have children (most have
    /// none: `<given value="x"/>` becomes a value without a frame ever being pushed).
    var pending = PendingPrimitive()
    /// Slots of the open elements.
    var slots = UnsafeStack<Slot>(capacity: 128)
    var depth = 0
    /// (parent type, element name pointer from libxml2's dictionary) → child info.
    var childTable = ChildTable()
    /// Infos made for unknown elements during this parse (the table does not retain them).
    var unknownInfos: [XMLChildInfo] = []
    /// The narrative being captured, if any.
    var narrative = XHTMLCapture()
    var fhirNamespacePointer: UnsafePointer<UInt8>?

    static let fhirNamespace = "http://hl7.org/fhir"

    init(schema: XMLSchema, limits: FHIRLimits, trackLocations: Bool, session: Unmanaged<XMLTreeBuilder>) {
        self.schema = schema
        self.limits = limits
        self.trackLocations = trackLocations
        self.session = session
    }

    // MARK: - Start tags

    mutating func startElement(_ localname: UnsafePointer<UInt8>, _ prefix: UnsafePointer<UInt8>?, _ uri: UnsafePointer<UInt8>?,
                               _ nbNamespaces: Int, _ namespaces: UnsafeMutablePointer<UnsafePointer<UInt8>?>?,
                               _ nbAttributes: Int, _ attributes: UnsafeMutablePointer<UnsafePointer<UInt8>?>?) {
        if stopRequested {
            if let ctxt { xmlStopParser(ctxt) }
            return
        }
        if pending.active { materializePending() }
        depth += 1
        if depth > limits.maxDepth {
            fail(FHIRError(.tooDeep, "elements are nested more than \(limits.maxDepth) deep", at: elementLocation(pointer: nil)))
            return
        }
        if narrative.isCapturing {
            if let refusal = narrative.start(localname, prefix, uri, nbNamespaces, namespaces, nbAttributes, attributes, maxBytes: limits.maxStringBytes) {
                fail(narrativeRefusal(refusal))
            }
            return
        }
        let parent = frames.count - 1
        guard parent >= 0 else {
            startResource(localname, uri, nbAttributes, attributes, pointer: "")
            return
        }
        let parentKind = frames[parent].kind
        if parentKind == .wrapper {
            if frames[parent].value != nil {
                fail(FHIRError(.cardinality, "\(qualifiedName(localname, prefix)) is a second resource in one resource element, which holds exactly one", at: elementLocation(pointer: pointer(of: parent))))
                return
            }
            startResource(localname, uri, nbAttributes, attributes, pointer: pointer(of: parent))
            return
        }
        let handle = childInfo(parentKind == .unknown ? nil : frames[parent].nodeRef, localname)
        if handle._withUnsafeGuaranteedRef({ $0.kind == .xhtml }) {
            guard let uri, XHTMLCapture.isXHTML(uri) else {
                fail(FHIRError(.invalidNarrative, "the narrative <div> must be in the XHTML namespace (xmlns=\"\(XHTML.namespace)\")", at: elementLocation(pointer: nil)))
                return
            }
        } else if !isFHIRNamespace(uri) {
            // An element in another namespace is not the FHIR element of the same name, and FHIR defines no
            // foreign content outside the narrative: refused, so that nothing unread looks like FHIR.
            fail(foreignElement(localname, prefix, uri, parent: parent))
            return
        }
        let (kind, isArray, valueKind, nodeRef) = handle._withUnsafeGuaranteedRef { info in
            (info.kind, info.isArray, info.valueKind, info.nodeRef)
        }
        guard let slotIndex = claimSlot(handle, isArray: isArray, parent: parent) else { return }
        if trackLocations { recordLocation(handle, slotIndex: slotIndex, parent: parent) }
        let slotStart = slots.count
        switch kind {
        case .primitive:
            pending.active = true
            pending.slotIndex = slotIndex
            pending.nodeRef = nodeRef
            if nbAttributes > 0 { readPrimitiveAttributes(nbAttributes, attributes, valueKind) }
        case .complex:
            frames.append(Frame(kind: .object, node: nodeRef, slotIndex: slotIndex, slotStart: slotStart))
            if nbAttributes > 0 { readObjectAttributes(nbAttributes, attributes, isResource: false) }
        case .resource:
            frames.append(Frame(kind: .wrapper, node: nil, slotIndex: slotIndex, slotStart: slotStart))
        case .xhtml:
            narrative.begin(slotIndex: slotIndex)
            if let refusal = narrative.start(localname, prefix, uri, nbNamespaces, namespaces, nbAttributes, attributes, maxBytes: limits.maxStringBytes) {
                fail(narrativeRefusal(refusal))
            }
        case .attribute, .unknown:
            frames[parent].mayCollide = true
            frames.append(Frame(kind: .unknown, node: nil, slotIndex: slotIndex, slotStart: slotStart))
            if nbAttributes > 0 { readUnknownAttributes(nbAttributes, attributes) }
        }
    }

    /// The root element or the resource inside a wrapper element: must be a FHIR resource type.
    private mutating func startResource(_ localname: UnsafePointer<UInt8>, _ uri: UnsafePointer<UInt8>?, _ nbAttributes: Int,
                                        _ attributes: UnsafeMutablePointer<UnsafePointer<UInt8>?>?, pointer: String) {
        let name = String(cString: localname)
        guard isFHIRNamespace(uri) else {
            let ns = uri.map { "namespace \(String(cString: $0))" } ?? "no namespace"
            fail(FHIRError(.notAResource, "<\(name)> in \(ns) is not a FHIR resource: FHIR XML elements are in the namespace \(XMLTreeState.fhirNamespace)", at: elementLocation(pointer: pointer.isEmpty ? nil : pointer)))
            return
        }
        guard schema.isResourceType(name), let node = schema.node(name) else {
            fail(FHIRError(.unknownResourceType, "<\(name)> is not a FHIR R4 resource type", at: elementLocation(pointer: pointer.isEmpty ? nil : pointer)))
            return
        }
        if trackLocations { locations[pointer] = elementLocation(pointer: pointer) }
        frames.append(Frame(kind: .object, node: Unmanaged.passUnretained(node), slotIndex: -1, slotStart: slots.count, isResource: true))
        if nbAttributes > 0 { readObjectAttributes(nbAttributes, attributes, isResource: true) }
    }

    /// Finds or opens the parent's slot for a child, enforcing cardinality and a single choice type.
    private mutating func claimSlot(_ handle: Unmanaged<XMLChildInfo>, isArray: Bool, parent: Int) -> Int? {
        let start = frames[parent].slotStart
        let key = handle.toOpaque()
        var k = slots.count - 1
        while k >= start {
            if slots[k].handle.toOpaque() == key {
                if !slots[k].arrayMode && handle._withUnsafeGuaranteedRef({ $0.kind != .unknown }) {
                    let info = handle.takeUnretainedValue()
                    let at = elementLocation(pointer: pointer(of: parent, asParent: true) + "/" + SourceLocation.escapePointerToken(info.jsonName))
                    fail(FHIRError(.cardinality, "<\(info.jsonName)> appears more than once, but \(frames[parent].node?.name ?? "its parent") allows at most one", at: at))
                    return nil
                }
                return k
            }
            k -= 1
        }
        if handle._withUnsafeGuaranteedRef({ $0.isChoice }) {
            let info = handle.takeUnretainedValue()
            for j in start..<slots.count where slots[j].info.isChoice && slots[j].info.elementName == info.elementName {
                let at = elementLocation(pointer: pointer(of: parent, asParent: true) + "/" + SourceLocation.escapePointerToken(info.jsonName))
                fail(FHIRError(.invalidChoice, "<\(info.jsonName)> and <\(slots[j].info.jsonName)> are both given for \(info.elementName), which takes one type", at: at))
                return nil
            }
        }
        slots.append(Slot(handle: handle, isArray: isArray))
        return slots.count - 1
    }

    /// The child info for an element name under a parent type (nil: an unknown parent), cached by pointer.
    private mutating func childInfo(_ node: Unmanaged<XMLTypeNode>?, _ localname: UnsafePointer<UInt8>) -> Unmanaged<XMLChildInfo> {
        let nodeKey = node.map { UInt(bitPattern: $0.toOpaque()) } ?? 0
        let nameKey = UInt(bitPattern: localname)
        // libxml2 interns every element name in the parser's dictionary (xmlParseQName → xmlDictLookup), so
        // within one parse a name pointer identifies the name.
        if let hit = childTable.find(nodeKey, nameKey) { return hit }
        let name = String(cString: localname)
        let info = node?.takeUnretainedValue().child(name) ?? XMLChildInfo(unknown: name)
        if info.kind == .unknown { unknownInfos.append(info) }
        let handle = Unmanaged.passUnretained(info)
        childTable.insert(nodeKey, nameKey, handle)
        return handle
    }

    // MARK: - End tags

    mutating func endElement() {
        if stopRequested {
            if let ctxt { xmlStopParser(ctxt) }
            return
        }
        depth -= 1
        if pending.active {
            finishPending()
            return
        }
        if narrative.isCapturing {
            if let div = narrative.end() {
                slots[narrative.slotIndex].add(.string(div), nil)
            }
            return
        }
        guard var frame = frames.popLast() else { return }
        var value: FHIRValue?
        var extra: FHIRValue?
        switch frame.kind {
        case .object:
            guard let object = assemble(&frame, leading: frame.attributes) else { return }
            value = .object(object)
        case .primitive:
            if frame.id != nil || !frame.attributes.isEmpty || slots.count > frame.slotStart {
                var leading: [FHIRObject.Member] = []
                if let id = frame.id { leading.append(FHIRObject.Member(name: "id", value: .string(id))) }
                leading.append(contentsOf: frame.attributes)
                guard let object = assemble(&frame, leading: leading) else { return }
                extra = .object(object)
            }
            value = frame.value
            // An empty primitive element has neither: keep it visible as null for the validator.
            if value == nil && extra == nil { value = .null }
        case .wrapper:
            value = frame.value ?? .object(FHIRObject())
        case .unknown:
            value = unknownValue(&frame)
            if stopRequested { return }
        }
        let parent = frames.count - 1
        guard parent >= 0 else {
            if case .object(let o)? = value { root = o }
            return
        }
        if frames[parent].kind == .wrapper {
            frames[parent].value = value
        } else if frame.slotIndex >= 0 {
            slots[frame.slotIndex].add(value, extra)
        }
    }

    /// The object for a frame: resourceType, `leading` members, then one member (or two: `name` and `_name`)
    /// per slot. Consumes the frame's slots.
    private mutating func assemble(_ frame: inout Frame, leading: __owned [FHIRObject.Member]) -> FHIRObject? {
        var members = leading
        let start = frame.slotStart
        var needed = members.count + (frame.isResource ? 1 : 0)
        for k in start..<slots.count {
            needed += (slots[k].hasValue ? 1 : 0) + (slots[k].hasExtra ? 1 : 0)
        }
        members.reserveCapacity(needed)
        if frame.isResource, let node = frame.nodeRef {
            members.insert(FHIRObject.Member(name: "resourceType", value: .string(node.takeUnretainedValue().name)), at: 0)
        }
        slots.moveOut(from: start) { slot in
            slot.handle._withUnsafeGuaranteedRef { info in
                if slot.arrayMode {
                    if slot.hasValue { members.append(FHIRObject.Member(name: info.jsonName, value: .array(slot.values))) }
                    if slot.hasExtra { members.append(FHIRObject.Member(name: info.extraName, value: .array(slot.extras))) }
                } else {
                    if slot.hasValue { members.append(FHIRObject.Member(name: info.jsonName, value: slot.single)) }
                    if let e = slot.singleExtra { members.append(FHIRObject.Member(name: info.extraName, value: e)) }
                }
            }
        }
        if frame.mayCollide, let name = XMLTreeState.duplicateName(members) {
            fail(FHIRError(.duplicateMember, "\"\(name)\" is given twice (as an attribute or unknown element and as another element)", at: location))
            return nil
        }
        return FHIRObject(members: members)
    }

    /// Best effort for an element the type table does not know: `value` alone → string, text alone → string,
    /// otherwise an object of its attributes, text (`#text`) and children.
    private mutating func unknownValue(_ frame: inout Frame) -> FHIRValue {
        let text = XMLTreeState.trimmedText(frame.text)
        let hasChildren = slots.count > frame.slotStart
        if !hasChildren {
            if text == nil, frame.attributes.count == 1, frame.attributes[0].name == "value" {
                return frame.attributes[0].value
            }
            if frame.attributes.isEmpty, let text { return .string(text) }
        }
        var leading = frame.attributes
        if let text { leading.append(FHIRObject.Member(name: "#text", value: .string(text))) }
        frame.mayCollide = true
        return assemble(&frame, leading: leading).map(FHIRValue.object) ?? .null
    }

    // MARK: - Text

    mutating func characters(_ text: UnsafePointer<UInt8>, _ length: Int) {
        guard !stopRequested else { return }
        if narrative.isCapturing {
            if !narrative.text(text, length, maxBytes: limits.maxStringBytes) {
                record(narrativeTooLarge())
            }
            return
        }
        if pending.active {
            var i = 0
            while i < length {
                let c = text[i]
                if c != 0x20 && c != 0x0A && c != 0x09 && c != 0x0D { break }
                i += 1
            }
            if i == length { return }
            materializePending()
        }
        let top = frames.count - 1
        guard top >= 0 else { return }
        if frames[top].kind == .unknown {
            guard frames[top].text.count + length <= limits.maxStringBytes else {
                record(FHIRError(.tooLarge, "text content exceeds \(limits.maxStringBytes) bytes", at: location))
                return
            }
            frames[top].text.append(contentsOf: UnsafeBufferPointer(start: text, count: length))
            return
        }
        var i = 0
        while i < length {
            let c = text[i]
            if c != 0x20 && c != 0x0A && c != 0x09 && c != 0x0D { break }
            i += 1
        }
        if i == length { return }  // whitespace between elements
        // Never stop the parser from here (libxml2 may still hold pointers into its input): record, and stop
        // at the next tag.
        let name = frames[top].node?.name ?? "element"
        var here = location
        here.pointer = pointer(of: top)
        record(FHIRError(.wrongValueKind, "text content is not allowed in a FHIR \(name) element: FHIR XML carries values in value attributes", at: here))
    }

    // MARK: - Leaf primitives

    /// Pushes the pending primitive as a real frame (it has a child, or text to complain about).
    mutating func materializePending() {
        var frame = Frame(kind: .primitive, node: pending.nodeRef, slotIndex: pending.slotIndex, slotStart: slots.count)
        frame.value = pending.value.take()
        frame.id = pending.id.take()
        if !pending.attributes.isEmpty {
            frame.attributes = pending.attributes
            pending.attributes = []
            frame.mayCollide = true
        }
        pending.active = false
        frames.append(frame)
    }

    /// Ends a primitive element that had no children: its value and `_name` object go to its slot.
    mutating func finishPending() {
        pending.active = false
        var value = pending.value.take()
        var extra: FHIRValue?
        if pending.id != nil || !pending.attributes.isEmpty {
            var members: [FHIRObject.Member] = []
            if let id = pending.id.take() { members.append(FHIRObject.Member(name: "id", value: .string(id))) }
            members.append(contentsOf: pending.attributes)
            pending.attributes = []
            if let name = XMLTreeState.duplicateName(members) {
                fail(FHIRError(.duplicateMember, "the attribute \"\(name)\" is given twice", at: location))
                return
            }
            extra = .object(FHIRObject(members: members))
        }
        // An empty primitive element has neither: keep it visible as null for the validator.
        if value == nil && extra == nil { value = .null }
        slots[pending.slotIndex].add(value, extra)
    }
}

/// A primitive element whose start tag has been read and whose frame has not been pushed (see `pending`).
struct PendingPrimitive {
    var active = false
    var slotIndex = -1
    var nodeRef: Unmanaged<XMLTypeNode>?
    var value: FHIRValue?
    var id: String?
    var attributes: [FHIRObject.Member] = []
}
