import CLibXML2

/// One libxml2 parse: the parser context, the first problem found, and the rules that make untrusted XML safe.
///
/// FHIR XML never needs a DTD, so every DOCTYPE, entity declaration and entity reference other than the five
/// predefined ones is refused (`.forbiddenXMLConstruct`): external entities (XXE) and entity expansion bombs
/// cannot happen. libxml2 reports its errors here, never on stderr. The parser context keeps `userData`
/// pointing at itself (as libxml2's own SAX2 callbacks expect) and this object in `_private`.
class LibXMLSession {
    /// The parser context, while a parse runs.
    final var ctxt: xmlParserCtxtPtr?
    /// The first problem found; once set, the parse result is discarded.
    final var failure: FHIRError?
    /// The code for libxml2's own well-formedness errors: `.malformedXML`, or `.invalidNarrative` for a div.
    final let syntaxErrorCode: FHIRError.Code

    init(syntaxErrorCode: FHIRError.Code) {
        self.syntaxErrorCode = syntaxErrorCode
    }

    /// Records the first failure (later ones are consequences of it).
    @inline(__always)
    final func record(_ error: FHIRError) {
        if failure == nil { failure = error }
    }

    /// Records a failure and stops the parser. Only call this where libxml2 checks for a stopped parser right
    /// after the callback returns: start and end tags and the DOCTYPE (never from `characters` or errors).
    final func fail(_ error: FHIRError) {
        record(error)
        if let ctxt { xmlStopParser(ctxt) }
    }

    /// The parser's current position (1-based line and column).
    final var location: SourceLocation {
        guard let input = ctxt?.pointee.input else { return SourceLocation() }
        return SourceLocation(line: Int(input.pointee.line), column: Int(max(input.pointee.col, 1)))
    }

    /// The session behind a callback's context argument (the parser context).
    @inline(__always)
    static func session(_ ctx: UnsafeMutableRawPointer?) -> LibXMLSession? {
        guard let ctx, let p = ctx.assumingMemoryBound(to: xmlParserCtxt.self).pointee._private else { return nil }
        return Unmanaged<LibXMLSession>.fromOpaque(p).takeUnretainedValue()
    }

    /// Parser options: no network, the declared encoding ignored (FHIR XML is UTF-8), and libxml2's own size caps
    /// lifted because ``FHIRLimits`` are enforced instead. Entity substitution and DTD loading are never enabled.
    static let options: Int32 = Int32(bitPattern: XML_PARSE_NONET.rawValue | XML_PARSE_IGNORE_ENC.rawValue | XML_PARSE_HUGE.rawValue)

    /// Runs libxml2 over `bytes` with `configure` applied to the context's SAX handler. Returns the document
    /// libxml2 built (only when the handler builds one) or nil; the caller owns it. Failures are in ``failure``.
    final func parse(_ bytes: UnsafeRawBufferPointer, sax: UnsafeMutablePointer<xmlSAXHandler>?, configure: (UnsafeMutablePointer<xmlSAXHandler>) -> Void = { _ in }) -> xmlDocPtr? {
        LibXML.initialize()
        guard let base = bytes.baseAddress, bytes.count > 0 else {
            record(FHIRError(syntaxErrorCode, "the document is empty", at: SourceLocation(line: 1, column: 1)))
            return nil
        }
        guard bytes.count <= Int(Int32.max) else {
            record(FHIRError(.tooLarge, "the document is larger than 2 GB", at: SourceLocation(line: 1, column: 1)))
            return nil
        }
        guard let ctxt = xmlCreateMemoryParserCtxt(base.assumingMemoryBound(to: CChar.self), Int32(bytes.count)) else {
            record(FHIRError(syntaxErrorCode, "libxml2 could not create a parser (out of memory)", at: SourceLocation(line: 1, column: 1)))
            return nil
        }
        self.ctxt = ctxt
        defer { self.ctxt = nil }
        _ = xmlCtxtUseOptions(ctxt, LibXMLSession.options)
        let ownSax = ctxt.pointee.sax
        if let sax {
            ctxt.pointee.sax = sax
        }
        if let handler = ctxt.pointee.sax {
            configure(handler)
            LibXMLSession.secure(handler)
        }
        ctxt.pointee._private = Unmanaged.passUnretained(self).toOpaque()
        _ = xmlParseDocument(ctxt)
        let wellFormed = ctxt.pointee.wellFormed != 0
        var doc = ctxt.pointee.myDoc
        ctxt.pointee.myDoc = nil
        ctxt.pointee.sax = ownSax
        ctxt.pointee._private = nil
        xmlFreeParserCtxt(ctxt)
        if failure == nil && !wellFormed {
            record(FHIRError(syntaxErrorCode, "the XML is not well-formed", at: SourceLocation(line: 1, column: 1)))
        }
        if failure != nil, let d = doc {
            xmlFreeDoc(d)
            doc = nil
        }
        return doc
    }

    /// Installs the refusals and the silent error handler on a SAX handler.
    static func secure(_ h: UnsafeMutablePointer<xmlSAXHandler>) {
        h.pointee.internalSubset = { ctx, name, _, _ in
            guard let s = LibXMLSession.session(ctx) else { return }
            let n = name.map { String(cString: $0) } ?? ""
            s.fail(FHIRError(.forbiddenXMLConstruct, "a document type declaration (<!DOCTYPE \(n)>) is not allowed in FHIR XML: DTDs and entities are refused", at: s.location))
        }
        h.pointee.externalSubset = { ctx, _, _, _ in
            guard let s = LibXMLSession.session(ctx) else { return }
            s.fail(FHIRError(.forbiddenXMLConstruct, "an external DTD subset is not allowed in FHIR XML", at: s.location))
        }
        h.pointee.entityDecl = { ctx, name, _, _, _, _ in
            guard let s = LibXMLSession.session(ctx) else { return }
            let n = name.map { String(cString: $0) } ?? ""
            s.record(FHIRError(.forbiddenXMLConstruct, "an entity declaration (\(n)) is not allowed in FHIR XML", at: s.location))
        }
        h.pointee.unparsedEntityDecl = { ctx, _, _, _, _ in
            guard let s = LibXMLSession.session(ctx) else { return }
            s.record(FHIRError(.forbiddenXMLConstruct, "an unparsed entity declaration is not allowed in FHIR XML", at: s.location))
        }
        h.pointee.notationDecl = { ctx, _, _, _ in
            guard let s = LibXMLSession.session(ctx) else { return }
            s.record(FHIRError(.forbiddenXMLConstruct, "a notation declaration is not allowed in FHIR XML", at: s.location))
        }
        h.pointee.attributeDecl = { ctx, _, _, _, _, _, tree in
            xmlFreeEnumeration(tree)
            guard let s = LibXMLSession.session(ctx) else { return }
            s.record(FHIRError(.forbiddenXMLConstruct, "an attribute-list declaration is not allowed in FHIR XML", at: s.location))
        }
        h.pointee.elementDecl = { ctx, _, _, _ in
            guard let s = LibXMLSession.session(ctx) else { return }
            s.record(FHIRError(.forbiddenXMLConstruct, "an element declaration is not allowed in FHIR XML", at: s.location))
        }
        // Called for every entity reference that is not one of the five predefined ones (those never get here).
        // Returning nil makes libxml2 report an undefined entity, which ends SAX events; the first error wins.
        h.pointee.getEntity = { ctx, name in
            guard let s = LibXMLSession.session(ctx) else { return nil }
            let n = name.map { String(cString: $0) } ?? ""
            s.record(FHIRError(.forbiddenXMLConstruct, "the entity reference &\(n); is not allowed in FHIR XML (only &amp; &lt; &gt; &quot; &apos; and character references are)", at: s.location))
            return nil
        }
        h.pointee.getParameterEntity = { ctx, name in
            guard let s = LibXMLSession.session(ctx) else { return nil }
            let n = name.map { String(cString: $0) } ?? ""
            s.record(FHIRError(.forbiddenXMLConstruct, "the parameter entity reference %\(n); is not allowed in FHIR XML", at: s.location))
            return nil
        }
        h.pointee.resolveEntity = { ctx, _, _ in
            guard let s = LibXMLSession.session(ctx) else { return nil }
            s.record(FHIRError(.forbiddenXMLConstruct, "external entities are not allowed in FHIR XML", at: s.location))
            return nil
        }
        h.pointee.reference = { ctx, name in
            guard let s = LibXMLSession.session(ctx) else { return }
            let n = name.map { String(cString: $0) } ?? ""
            s.record(FHIRError(.forbiddenXMLConstruct, "the entity reference &\(n); is not allowed in FHIR XML", at: s.location))
        }
        h.pointee.warning = nil
        h.pointee.error = nil
        h.pointee.fatalError = nil
        h.pointee.initialized = UInt32(XML_SAX2_MAGIC)
        h.pointee.serror = { ctx, err in
            guard let s = LibXMLSession.session(ctx), let err else { return }
            s.record(LibXMLSession.error(from: err.pointee, code: s.syntaxErrorCode))
        }
    }

    /// Converts a libxml2 error into a FHIRError with its line, column and message.
    static func error(from e: xmlError, code: FHIRError.Code) -> FHIRError {
        var message = e.message.map { String(cString: $0) } ?? "XML error"
        while let last = message.utf8.last, last == 0x0A || last == 0x20 { message.removeLast() }
        message = message.replacingAll("\n", with: "; ")
        let location = SourceLocation(line: e.line > 0 ? Int(e.line) : nil, column: e.int2 > 0 ? Int(e.int2) : nil)
        if message.hasPrefix("Input is not proper UTF-8") {
            return FHIRError(.invalidUTF8, "the document is not valid UTF-8 (libxml2: \(message))", at: location)
        }
        // A UTF-16 surrogate encoded in UTF-8 (ED A0 80…) is invalid UTF-8 too (RFC 3629 §3); libxml2 decodes it
        // and then reports "Char 0xD800 out of allowed range".
        if message.hasPrefix("Char 0x"), let code = Int(message.dropFirst(7).prefix { $0.isHexDigit }, radix: 16),
           (0xD800...0xDFFF).contains(code) {
            return FHIRError(.invalidUTF8, "the document is not valid UTF-8: it encodes the surrogate U+\(String(code, radix: 16, uppercase: true))", at: location)
        }
        return FHIRError(code, "libxml2: \(message)", at: location)
    }
}

/// Process-wide libxml2 set-up.
enum LibXML {
    private static let initialized: Bool = {
        xmlInitParser()
        return true
    }()

    /// Calls `xmlInitParser()` once per process, before the first parse.
    @inline(__always)
    static func initialize() {
        _ = initialized
    }

    /// Runs `body` with libxml2's per-thread structured error handler pointed at a sink, so that errors raised
    /// outside a parser context (Canonical XML, serialisation) never reach stderr. Returns the first error message.
    static func withSilencedErrors<T>(_ body: () -> T) -> (T, String?) {
        initialize()
        let savedHandler = __xmlStructuredError().pointee
        let savedContext = __xmlStructuredErrorContext().pointee
        let sink = ErrorSink()
        let unmanaged = Unmanaged.passRetained(sink)
        defer { unmanaged.release() }
        xmlSetStructuredErrorFunc(unmanaged.toOpaque()) { ctx, err in
            guard let ctx, let err else { return }
            let sink = Unmanaged<ErrorSink>.fromOpaque(ctx).takeUnretainedValue()
            if sink.message == nil {
                sink.message = err.pointee.message.map { String(cString: $0) } ?? "XML error"
            }
        }
        let result = body()
        xmlSetStructuredErrorFunc(savedContext, savedHandler)
        return (result, sink.message)
    }

    private final class ErrorSink {
        var message: String?
    }
}
