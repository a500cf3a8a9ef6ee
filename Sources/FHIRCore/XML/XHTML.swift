import CLibXML2

/// The FHIR narrative (`Narrative.div`): limited XHTML carried as a string in JSON and as markup in XML.
public enum XHTML {
    /// The XHTML namespace every narrative div must be in.
    public static let namespace = "http://www.w3.org/1999/xhtml"

    /// The W3C Canonical XML 1.0 form (without comments) of a narrative div.
    ///
    /// The same div written in XML (`<br/>`, `&#160;`, single-quoted attributes) and as a JSON string gives the
    /// same bytes, which is what the canonical form of a resource hashes. The div is parsed by libxml2 with no
    /// network, no DTD and no entity substitution; a DOCTYPE or entity declaration is refused.
    ///
    /// - Throws: `.forbiddenXMLConstruct` for a DOCTYPE, entity declaration or non-predefined entity reference;
    ///   `.invalidNarrative` when the div is not well-formed XML (with the line and column inside the div).
    public static func canonicalize(_ div: String) throws(FHIRError) -> String {
        try LibXML.withUTF8(div) { (utf8) throws(FHIRError) -> String in
            let doc = try parseDocument(utf8)
            defer { xmlFreeDoc(doc) }
            var out: UnsafeMutablePointer<xmlChar>?
            let (length, message) = LibXML.withSilencedErrors {
                xmlC14NDocDumpMemory(doc, nil, Int32(XML_C14N_1_0.rawValue), nil, 0, &out)
            }
            guard length >= 0, let out else {
                throw FHIRError(.invalidNarrative, "the narrative cannot be canonicalized (Canonical XML 1.0): \(message.map(trimmed) ?? "libxml2 failed")")
            }
            defer { LibXML.free(out) }
            return String(decoding: UnsafeBufferPointer(start: out, count: Int(length)), as: UTF8.self)
        }
    }

    /// `value` with every narrative `div` string replaced by its Canonical XML form, so that two spellings of the
    /// same XHTML (`<br/>` and `<br></br>`, `&#8212;` and `—`) compare equal as trees. A div that cannot be
    /// canonicalized becomes `unparsable(div)` (by default it is kept as it is).
    public static func canonicalizingDivs(in value: FHIRValue, unparsable: (String) -> String = { $0 }) -> FHIRValue {
        switch value {
        case .object(var o):
            for i in o.members.indices {
                if o.members[i].name == "div", case .string(let div) = o.members[i].value {
                    o.members[i].value = .string((try? canonicalize(div)) ?? unparsable(div))
                } else {
                    o.members[i].value = canonicalizingDivs(in: o.members[i].value, unparsable: unparsable)
                }
            }
            return .object(o)
        case .array(let items):
            return .array(items.map { canonicalizingDivs(in: $0, unparsable: unparsable) })
        default:
            return value
        }
    }

    /// What ``verify(_:)`` learnt about a well-formed div.
    struct RootInfo {
        /// The root element's local name (`div` for a valid narrative).
        var localName: String
        /// The root element's namespace URI, nil when it has none.
        var namespace: String?
        /// The first element or attribute FHIR txt-1 does not allow (``NarrativePolicy``), with its line in the
        /// div; nil when there is none.
        var refusal: (reason: String, line: Int)?
        /// Whether the div has text other than white space, or an image (FHIR txt-2).
        var hasContent: Bool
    }

    /// Checks that `div` is well-formed XML under the same security rules as ``canonicalize(_:)``, and reports
    /// the root element's name and namespace.
    static func verify(_ div: String) throws(FHIRError) -> RootInfo {
        try LibXML.withUTF8(div) { (utf8) throws(FHIRError) -> RootInfo in
            let doc = try parseDocument(utf8)
            defer { xmlFreeDoc(doc) }
            guard let root = xmlDocGetRootElement(doc), let name = root.pointee.name else {
                throw FHIRError(.invalidNarrative, "the narrative has no root element")
            }
            let ns = root.pointee.ns?.pointee.href.map { String(cString: $0) }
            let walk = policyRefusal(in: root)
            return RootInfo(localName: String(cString: name), namespace: ns, refusal: walk.refusal, hasContent: walk.hasContent)
        }
    }

    /// The first element or attribute under (and including) `root` that ``NarrativePolicy`` refuses, in document
    /// order, and whether the div has content (txt-2). Iterative, so a deep div cannot exhaust the stack (the
    /// reader already bounded its depth).
    private static func policyRefusal(in root: xmlNodePtr) -> (refusal: (reason: String, line: Int)?, hasContent: Bool) {
        var node: xmlNodePtr? = root
        var hasContent = false
        while let n = node {
            if !hasContent && (n.pointee.type == XML_TEXT_NODE || n.pointee.type == XML_CDATA_SECTION_NODE), let text = n.pointee.content {
                hasContent = NarrativePolicy.buffer(text).contains { $0 != 0x20 && $0 != 0x09 && $0 != 0x0A && $0 != 0x0D }
            }
            if n.pointee.type == XML_PI_NODE {
                // Not XHTML content (the XML reader drops them from markup; a JSON string would keep one).
                let target = n.pointee.name.map { String(cString: $0) } ?? ""
                return (("the processing instruction <?\(target) …?> is not allowed in a narrative: FHIR txt-1 allows only basic XHTML", Int(xmlGetLineNo(n))), hasContent)
            }
            if n.pointee.type == XML_ELEMENT_NODE, let name = n.pointee.name {
                let localName = NarrativePolicy.buffer(name)
                if let reason = NarrativePolicy.elementProblem(localName: localName, namespace: n.pointee.ns?.pointee.href.map(NarrativePolicy.buffer)) {
                    return ((reason, Int(xmlGetLineNo(n))), hasContent)
                }
                if NarrativePolicy.isImage(localName) { hasContent = true }
                var attribute = n.pointee.properties
                while let a = attribute {
                    if let attributeName = a.pointee.name {
                        let value = xmlNodeListGetString(n.pointee.doc, a.pointee.children, 1)
                        defer { if let value { LibXML.free(value) } }
                        let bytes = value.map { NarrativePolicy.buffer(UnsafePointer($0)) } ?? UnsafeBufferPointer(start: nil, count: 0)
                        if let reason = NarrativePolicy.attributeProblem(localName: NarrativePolicy.buffer(attributeName), namespace: a.pointee.ns?.pointee.href.map(NarrativePolicy.buffer),
                                                                         value: bytes, element: localName) {
                            return ((reason, Int(xmlGetLineNo(n))), hasContent)
                        }
                    }
                    attribute = a.pointee.next
                }
                if let child = n.pointee.children {
                    node = child
                    continue
                }
            }
            // Next in document order: a sibling, else the sibling of the nearest ancestor below the root.
            var current: xmlNodePtr? = n
            node = nil
            while let c = current, c != root {
                if let next = c.pointee.next {
                    node = next
                    break
                }
                current = c.pointee.parent
            }
        }
        return (nil, hasContent)
    }

    /// Parses a div into a libxml2 document (the caller frees it).
    private static func parseDocument(_ bytes: UnsafeRawBufferPointer) throws(FHIRError) -> xmlDocPtr {
        let session = LibXMLSession(syntaxErrorCode: .invalidNarrative)
        let doc = session.parse(bytes, sax: nil)
        if let failure = session.failure {
            if failure.code == .invalidNarrative || failure.code == .forbiddenXMLConstruct {
                throw failure
            }
            throw FHIRError(.invalidNarrative, "the narrative is not well-formed XHTML: \(failure.reason)", at: failure.location)
        }
        guard let doc else {
            throw FHIRError(.invalidNarrative, "the narrative could not be parsed")
        }
        return doc
    }

    private static func trimmed(_ s: String) -> String {
        var m = s
        while let last = m.utf8.last, last == 0x0A || last == 0x20 { m.removeLast() }
        return m
    }
}

extension LibXML {
    /// Runs `body` over the UTF-8 bytes of `text` (String.withUTF8 rethrows untyped errors).
    static func withUTF8<T>(_ text: String, _ body: (UnsafeRawBufferPointer) throws(FHIRError) -> T) throws(FHIRError) -> T {
        var text = text
        let result: Result<T, FHIRError> = text.withUTF8 { utf8 in
            do throws(FHIRError) {
                return .success(try body(UnsafeRawBufferPointer(utf8)))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// Frees memory that libxml2 allocated and handed over.
    static func free(_ p: UnsafeMutableRawPointer) {
        var freeFunction: xmlFreeFunc?
        _ = xmlMemGet(&freeFunction, nil, nil, nil)
        freeFunction?(p)
    }
}
