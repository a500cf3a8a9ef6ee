import CLibXML2
import Foundation

/// Reads C-CDA XML into a ``CCDADocument`` with libxml2's SAX2 parser, safely: no network, no DTD (a DOCTYPE
/// stops the parse), no entity other than the five predefined ones and character references, input bounded in
/// size, element nesting and attributes per element. The root must be `ClinicalDocument` in `urn:hl7-org:v3`.
final class CCDAXMLParser {
    /// The largest document accepted.
    static let maxBytes = 32 << 20
    /// The deepest element nesting accepted (C-CDA documents nest about 30 deep; libxml2 stops at 256).
    static let maxDepth = 200
    /// The most attributes (and namespace declarations) on one start tag: libxml2 2.9 checks duplicates in
    /// quadratic time, so a crowded tag is refused before libxml2 sees it.
    static let maxAttributes = 256

    /// Everything the SAX callbacks change, in one struct: each callback then makes one exclusive access to the
    /// parser (`state`), not one per property it touches.
    private var state = State()

    fileprivate struct State {
        var document = CCDADocument()
        /// Open elements, innermost last, with the last element child each has so far.
        var stack: [(node: Int32, lastChild: Int32)] = []
        /// The text run being extended, while no tag intervenes.
        var openText: Int32 = -1
        var failure: CCDAConversionError?
        var ctxt: xmlParserCtxtPtr?
        /// libxml2 gives each distinct name one pointer (its dictionary): the name's id in the document, by pointer.
        var names: [UnsafeRawPointer: Int32] = [:]
    }

    private init() {}

    /// Parses `bytes`, or says why they are not a C-CDA document this engine reads.
    static func parse(_ bytes: [UInt8]) throws(CCDAConversionError) -> CCDADocument {
        guard !bytes.isEmpty else { throw CCDAConversionError(.malformedXML, "the document is empty") }
        guard bytes.count <= maxBytes else {
            throw CCDAConversionError(.tooLarge, "the document is \(bytes.count) bytes; the limit is \(maxBytes) bytes (32 MiB)")
        }
        if let line = crowdedTagLine(bytes) {
            throw CCDAConversionError(.tooLarge, "a start tag has more than \(maxAttributes) attributes", line: line)
        }
        let parser = CCDAXMLParser()
        parser.run(bytes)
        if let failure = parser.state.failure { throw failure }
        guard !parser.state.document.nodes.isEmpty else { throw CCDAConversionError(.malformedXML, "the document has no root element") }
        return parser.state.document
    }

    private static func parser(_ ctx: UnsafeMutableRawPointer?) -> CCDAXMLParser? {
        guard let ctx, let p = ctx.assumingMemoryBound(to: xmlParserCtxt.self).pointee._private else { return nil }
        return Unmanaged<CCDAXMLParser>.fromOpaque(p).takeUnretainedValue()
    }

    /// The frequent events (elements, text) change the state through the parser `run` keeps alive, without
    /// taking a reference of their own (one retain and release per event saved).
    private static func withState(_ ctx: UnsafeMutableRawPointer?, _ body: (inout State) -> Void) {
        guard let ctx, let p = ctx.assumingMemoryBound(to: xmlParserCtxt.self).pointee._private else { return }
        Unmanaged<CCDAXMLParser>.fromOpaque(p)._withUnsafeGuaranteedRef { body(&$0.state) }
    }

    private func run(_ bytes: [UInt8]) {
        CCDALibXML.initialize()
        bytes.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            let raw = UnsafeRawPointer(base).assumingMemoryBound(to: CChar.self)
            guard let ctxt = xmlCreateMemoryParserCtxt(raw, Int32(buffer.count)) else {
                state.record(CCDAConversionError(.malformedXML, "libxml2 could not create a parser (out of memory)"))
                return
            }
            state.ctxt = ctxt
            defer { state.ctxt = nil }
            // No network; entities are never substituted and DTDs never loaded (neither option is set).
            _ = xmlCtxtUseOptions(ctxt, Int32(bitPattern: XML_PARSE_NONET.rawValue))
            if let handler = ctxt.pointee.sax { Self.install(handler) }
            ctxt.pointee._private = Unmanaged.passUnretained(self).toOpaque()
            _ = xmlParseDocument(ctxt)
            let wellFormed = ctxt.pointee.wellFormed != 0
            if let doc = ctxt.pointee.myDoc {
                xmlFreeDoc(doc)
                ctxt.pointee.myDoc = nil
            }
            ctxt.pointee._private = nil
            xmlFreeParserCtxt(ctxt)
            if state.failure == nil && !wellFormed {
                state.record(CCDAConversionError(.malformedXML, "the XML is not well-formed"))
            }
        }
    }

    fileprivate static func namespace(_ uri: UnsafePointer<xmlChar>?, isAttribute: Bool) -> CCDADocument.Namespace {
        guard let uri else { return isAttribute ? .none : .other }
        let c = UnsafeRawPointer(uri).assumingMemoryBound(to: CChar.self)
        if strcmp(c, CCDADocument.Namespace.cdaURI) == 0 { return .cda }
        if strcmp(c, CCDADocument.Namespace.sdtcURI) == 0 { return .sdtc }
        if strcmp(c, CCDADocument.Namespace.xsiURI) == 0 { return .xsi }
        return .other
    }

    fileprivate static func decodeAmpersands(_ bytes: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            let c = bytes[i]
            out.append(c)
            if c == UInt8(ascii: "&"), i + 4 < bytes.count, bytes[i + 1] == UInt8(ascii: "#"), bytes[i + 2] == UInt8(ascii: "3"),
               bytes[i + 3] == UInt8(ascii: "8"), bytes[i + 4] == UInt8(ascii: ";") {
                i += 5
            } else {
                i += 1
            }
        }
        return out
    }

    // MARK: Handler

    /// The document events, and refusals for every DTD construct and entity (XXE, entity expansion).
    private static func install(_ h: UnsafeMutablePointer<xmlSAXHandler>) {
        _ = xmlSAXVersion(h, 2)
        h.pointee.setDocumentLocator = nil
        h.pointee.startDocument = nil
        h.pointee.endDocument = nil
        h.pointee.startElement = nil
        h.pointee.endElement = nil
        h.pointee.isStandalone = nil
        h.pointee.hasInternalSubset = nil
        h.pointee.hasExternalSubset = nil
        h.pointee.comment = nil
        h.pointee.processingInstruction = nil
        h.pointee.startElementNs = { ctx, localname, _, uri, _, _, count, _, attributes in
            guard let localname else { return }
            CCDAXMLParser.withState(ctx) { $0.startElement(localname, uri, Int(count), attributes) }
        }
        h.pointee.endElementNs = { ctx, _, _, _ in
            CCDAXMLParser.withState(ctx) { $0.endElement() }
        }
        h.pointee.characters = { ctx, text, length in
            guard let text else { return }
            CCDAXMLParser.withState(ctx) { $0.characters(text, Int(length)) }
        }
        h.pointee.ignorableWhitespace = h.pointee.characters
        h.pointee.cdataBlock = h.pointee.characters
        h.pointee.internalSubset = { ctx, name, _, _ in
            guard let p = CCDAXMLParser.parser(ctx) else { return }
            let n = name.map { String(cString: $0) } ?? ""
            p.state.fail(CCDAConversionError(.forbiddenXMLConstruct, "a document type declaration (<!DOCTYPE \(n)>) is not allowed: DTDs and entities are refused (XXE, entity expansion)", line: p.state.line))
        }
        h.pointee.externalSubset = { ctx, _, _, _ in
            guard let p = CCDAXMLParser.parser(ctx) else { return }
            p.state.fail(CCDAConversionError(.forbiddenXMLConstruct, "an external DTD subset is not allowed", line: p.state.line))
        }
        h.pointee.entityDecl = { ctx, name, _, _, _, _ in
            guard let p = CCDAXMLParser.parser(ctx) else { return }
            p.state.record(CCDAConversionError(.forbiddenXMLConstruct, "an entity declaration (\(name.map { String(cString: $0) } ?? "")) is not allowed", line: p.state.line))
        }
        h.pointee.unparsedEntityDecl = { ctx, _, _, _, _ in
            guard let p = CCDAXMLParser.parser(ctx) else { return }
            p.state.record(CCDAConversionError(.forbiddenXMLConstruct, "an unparsed entity declaration is not allowed", line: p.state.line))
        }
        h.pointee.notationDecl = { ctx, _, _, _ in
            guard let p = CCDAXMLParser.parser(ctx) else { return }
            p.state.record(CCDAConversionError(.forbiddenXMLConstruct, "a notation declaration is not allowed", line: p.state.line))
        }
        h.pointee.attributeDecl = { ctx, _, _, _, _, _, tree in
            xmlFreeEnumeration(tree)
            guard let p = CCDAXMLParser.parser(ctx) else { return }
            p.state.record(CCDAConversionError(.forbiddenXMLConstruct, "an attribute-list declaration is not allowed", line: p.state.line))
        }
        h.pointee.elementDecl = { ctx, _, _, _ in
            guard let p = CCDAXMLParser.parser(ctx) else { return }
            p.state.record(CCDAConversionError(.forbiddenXMLConstruct, "an element declaration is not allowed", line: p.state.line))
        }
        // Only entity references other than the five predefined ones get here; nil makes libxml2 stop.
        h.pointee.getEntity = { ctx, name in
            guard let p = CCDAXMLParser.parser(ctx) else { return nil }
            p.state.record(CCDAConversionError(.forbiddenXMLConstruct, "the entity reference &\(name.map { String(cString: $0) } ?? ""); is not allowed (only &amp; &lt; &gt; &quot; &apos; and character references are)", line: p.state.line))
            return nil
        }
        h.pointee.getParameterEntity = { ctx, name in
            guard let p = CCDAXMLParser.parser(ctx) else { return nil }
            p.state.record(CCDAConversionError(.forbiddenXMLConstruct, "the parameter entity reference %\(name.map { String(cString: $0) } ?? ""); is not allowed", line: p.state.line))
            return nil
        }
        h.pointee.resolveEntity = { ctx, _, _ in
            guard let p = CCDAXMLParser.parser(ctx) else { return nil }
            p.state.record(CCDAConversionError(.forbiddenXMLConstruct, "external entities are not allowed", line: p.state.line))
            return nil
        }
        h.pointee.reference = { ctx, name in
            guard let p = CCDAXMLParser.parser(ctx) else { return }
            p.state.record(CCDAConversionError(.forbiddenXMLConstruct, "the entity reference &\(name.map { String(cString: $0) } ?? ""); is not allowed", line: p.state.line))
        }
        h.pointee.warning = nil
        h.pointee.error = nil
        h.pointee.fatalError = nil
        h.pointee.initialized = UInt32(XML_SAX2_MAGIC)
        h.pointee.serror = { ctx, err in
            guard let p = CCDAXMLParser.parser(ctx), let err else { return }
            // Warnings (a relative namespace URI, …) do not make a document unreadable; errors do.
            guard err.pointee.level.rawValue >= XML_ERR_ERROR.rawValue else { return }
            var message = err.pointee.message.map { String(cString: $0) } ?? "XML error"
            while let last = message.last, last == "\n" || last == " " { message.removeLast() }
            let line = err.pointee.line > 0 ? Int(err.pointee.line) : p.state.line
            p.state.record(CCDAConversionError(.malformedXML, "libxml2: \(message)", line: line))
        }
    }

    /// The line of the first start tag with more than ``maxAttributes`` quoted values, or nil. Linear: skips
    /// comments, CDATA and processing instructions, counts quotes in start tags.
    static func crowdedTagLine(_ bytes: [UInt8]) -> Int? {
        bytes.withUnsafeBufferPointer { p -> Int? in
            guard let offset = crowdedTag(p) else { return nil }
            return 1 + p[..<offset].reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
        }
    }

    private static func crowdedTag(_ p: UnsafeBufferPointer<UInt8>) -> Int? {
        let n = p.count
        /// The index just after `terminator` at or after `from`, or `n`.
        func after(_ terminator: (UInt8, UInt8, UInt8), length: Int, from: Int) -> Int {
            var i = from
            while i + length <= n {
                if p[i] == terminator.0, p[i + 1] == terminator.1, length == 2 || p[i + 2] == terminator.2 { return i + length }
                i += 1
            }
            return n
        }
        // The next byte `b` at or after `from` (n when none): memchr, as text between tags is most of a document.
        func next(_ b: UInt8, from: Int) -> Int {
            guard from < n, let base = p.baseAddress, let hit = memchr(base + from, Int32(b), n - from) else { return n }
            return base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
        }
        var i = 0
        while i < n {
            i = next(UInt8(ascii: "<"), from: i)
            guard i + 1 < n else { break }
            let tag = i
            i += 1
            switch p[i] {
            case UInt8(ascii: "!"):
                if i + 2 < n, p[i + 1] == UInt8(ascii: "-"), p[i + 2] == UInt8(ascii: "-") {
                    i = after((0x2D, 0x2D, 0x3E), length: 3, from: i + 3)  // -->
                } else if i + 1 < n, p[i + 1] == UInt8(ascii: "[") {
                    i = after((0x5D, 0x5D, 0x3E), length: 3, from: i + 2)  // ]]>
                } else {
                    return nil  // a DOCTYPE: the parser refuses it at once
                }
            case UInt8(ascii: "?"):
                i = after((0x3F, 0x3E, 0), length: 2, from: i + 1)  // ?>
            default:
                var count = 0
                while i < n {
                    let b = p[i]
                    if b == UInt8(ascii: ">") || b == UInt8(ascii: "<") { break }
                    if b == UInt8(ascii: "\"") || b == UInt8(ascii: "'") {
                        count += 1
                        if count > maxAttributes { return tag }
                        i = next(b, from: i + 1)
                    }
                    i += 1
                }
            }
        }
        return nil
    }
}

/// Process-wide libxml2 set-up for the C-CDA reader.
enum CCDALibXML {
    private static let initialized: Bool = {
        xmlInitParser()
        return true
    }()

    static func initialize() { _ = initialized }
}

extension CCDAXMLParser.State {
    var line: Int {
        guard let input = ctxt?.pointee.input else { return 0 }
        return Int(input.pointee.line)
    }

    mutating func record(_ error: CCDAConversionError) {
        if failure == nil { failure = error }
    }

    /// Records a failure and stops libxml2 (only from callbacks after which libxml2 checks for a stop).
    mutating func fail(_ error: CCDAConversionError) {
        record(error)
        if let ctxt { xmlStopParser(ctxt) }
    }

    // MARK: Events

    mutating func name(_ pointer: UnsafePointer<xmlChar>) -> Int32 {
        let key = UnsafeRawPointer(pointer)
        if let known = names[key] { return known }
        let id = document.intern(String(cString: pointer))
        names[key] = id
        return id
    }

    mutating func startElement(_ localname: UnsafePointer<xmlChar>, _ uri: UnsafePointer<xmlChar>?, _ count: Int,
                              _ attributes: UnsafeMutablePointer<UnsafePointer<xmlChar>?>?) {
        guard failure == nil else { return }
        openText = -1
        let index = Int32(document.nodes.count)
        let elementName = name(localname)
        let ns = CCDAXMLParser.namespace(uri, isAttribute: false)
        if index == 0 {
            let elementName = document.names[Int(elementName)]
            guard elementName == "ClinicalDocument", ns == .cda else {
                let found = uri.map { "{\(String(cString: $0))}\(elementName)" } ?? "\(elementName) in no namespace"
                fail(CCDAConversionError(.notCDA, "the root element is \(found), not ClinicalDocument in urn:hl7-org:v3: not a CDA document (a fragment, or a document without xmlns=\"urn:hl7-org:v3\")", line: line))
                return
            }
        }
        guard stack.count < CCDAXMLParser.maxDepth else {
            fail(CCDAConversionError(.tooLarge, "elements nest more than \(CCDAXMLParser.maxDepth) deep", line: line))
            return
        }
        let parent = stack.last?.node ?? -1
        if !stack.isEmpty {
            let last = stack[stack.count - 1].lastChild
            if last >= 0 { document.nodes[Int(last)].nextSibling = index } else { document.nodes[Int(parent)].firstChild = index }
            stack[stack.count - 1].lastChild = index
        }
        let firstAttribute = Int32(document.attributes.count)
        if let attributes {
            for k in 0..<count {
                guard let local = attributes[5 * k], let begin = attributes[5 * k + 3], let end = attributes[5 * k + 4] else { continue }
                let attrNS = CCDAXMLParser.namespace(attributes[5 * k + 2], isAttribute: true)
                let attrName = name(local)
                let bytes = UnsafeBufferPointer(start: begin, count: end - begin)
                var value = bytes.contains(UInt8(ascii: "&")) ? String(decoding: CCDAXMLParser.decodeAmpersands(bytes), as: UTF8.self)
                    : String(decoding: bytes, as: UTF8.self)
                if attrNS == .xsi, document.names[Int(attrName)] == "type", let colon = value.lastIndex(of: ":") {
                    value = String(value[value.index(after: colon)...])
                }
                if attrNS == .none, document.names[Int(attrName)] == "ID", document.ids[value] == nil { document.ids[value] = index }
                document.attributes.append(CCDADocument.Attribute(name: attrName, namespace: attrNS, value: value))
            }
        }
        document.nodes.append(CCDADocument.Node(name: elementName, namespace: ns, isText: false, parent: parent, end: index,
                                                line: Int32(clamping: line), firstAttribute: firstAttribute,
                                                attributeCount: Int32(document.attributes.count) - firstAttribute, text: -1))
        stack.append((index, -1))
    }

    mutating func endElement() {
        guard failure == nil, let open = stack.popLast() else { return }
        openText = -1
        document.nodes[Int(open.node)].end = Int32(document.nodes.count - 1)
    }

    mutating func characters(_ text: UnsafePointer<xmlChar>, _ length: Int) {
        guard failure == nil, let parent = stack.last?.node, length > 0 else { return }
        let bytes = UnsafeBufferPointer(start: text, count: length)
        let blank = bytes.allSatisfy { $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }
        // Whitespace between tags only separates words: one space keeps that, without the indentation.
        let piece = blank ? " " : String(decoding: bytes, as: UTF8.self)
        if openText >= 0 {
            let t = Int(document.nodes[Int(openText)].text)
            if !(blank && document.texts[t].hasSuffix(" ")) { document.texts[t] += piece }
            return
        }
        openText = Int32(document.nodes.count)
        document.nodes.append(CCDADocument.Node(name: 0, namespace: .none, isText: true, parent: parent, end: openText,
                                                line: Int32(clamping: line), firstAttribute: 0, attributeCount: 0,
                                                text: Int32(document.texts.count)))
        document.texts.append(piece)
    }

    /// Without entity substitution, libxml2 reports each `&` of an attribute value (written `&amp;` or `&#38;`)
    /// as the five characters `&#38;`; a raw `&` cannot occur, so this is exact.
}
