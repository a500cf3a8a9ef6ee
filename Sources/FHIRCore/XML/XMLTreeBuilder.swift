import CLibXML2

/// Drives one parse: libxml2 calls the SAX2 callbacks below, which hand every event to an ``XMLTreeState``.
///
/// The state is a struct behind a pointer rather than class properties, so the per-event work pays for no
/// reference counting or dynamic exclusivity checks.
final class XMLTreeBuilder: LibXMLSession {
    let state: UnsafeMutablePointer<XMLTreeState>

    init(schema: XMLSchema, limits: FHIRLimits, trackLocations: Bool) {
        state = UnsafeMutablePointer<XMLTreeState>.allocate(capacity: 1)
        super.init(syntaxErrorCode: .malformedXML)
        state.initialize(to: XMLTreeState(schema: schema, limits: limits, trackLocations: trackLocations, session: Unmanaged.passUnretained(self)))
    }

    deinit {
        state.pointee.frames.free()
        state.pointee.slots.free()
        state.deinitialize(count: 1)
        state.deallocate()
    }

    /// The finished root resource.
    var root: FHIRObject? { state.pointee.root }
    /// JSON pointer → where that element starts (only when tracking locations).
    var locations: [String: SourceLocation] { state.pointee.locations }

    /// The tree state behind a callback's context argument (the parser context).
    @inline(__always)
    static func state(_ ctx: UnsafeMutableRawPointer?) -> UnsafeMutablePointer<XMLTreeState>? {
        guard let ctx else { return nil }
        let ctxt = ctx.assumingMemoryBound(to: xmlParserCtxt.self)
        guard let p = ctxt.pointee._private else { return nil }
        let state = Unmanaged<XMLTreeBuilder>.fromOpaque(p)._withUnsafeGuaranteedRef { $0.state }
        state.pointee.ctxt = ctxt
        return state
    }

    /// A SAX2 handler with only the tree builder's callbacks (no libxml2 tree building at all).
    static func makeHandler() -> UnsafeMutablePointer<xmlSAXHandler> {
        let h = UnsafeMutablePointer<xmlSAXHandler>.allocate(capacity: 1)
        h.initialize(to: xmlSAXHandler())
        _ = xmlSAXVersion(h, 2)
        h.pointee.setDocumentLocator = nil
        h.pointee.startDocument = nil
        h.pointee.endDocument = nil
        h.pointee.startElement = nil
        h.pointee.endElement = nil
        h.pointee.isStandalone = nil
        h.pointee.hasInternalSubset = nil
        h.pointee.hasExternalSubset = nil
        // Comments and processing instructions carry no meaning in FHIR: dropped.
        h.pointee.comment = nil
        h.pointee.processingInstruction = nil
        h.pointee.startElementNs = { ctx, localname, prefix, uri, nbNamespaces, namespaces, nbAttributes, _, attributes in
            guard let s = XMLTreeBuilder.state(ctx), let localname else { return }
            s.pointee.startElement(localname, prefix, uri, Int(nbNamespaces), namespaces, Int(nbAttributes), attributes)
        }
        h.pointee.endElementNs = { ctx, _, _, _ in
            XMLTreeBuilder.state(ctx)?.pointee.endElement()
        }
        h.pointee.characters = { ctx, text, length in
            guard let s = XMLTreeBuilder.state(ctx), let text else { return }
            s.pointee.characters(text, Int(length))
        }
        h.pointee.ignorableWhitespace = h.pointee.characters
        h.pointee.cdataBlock = h.pointee.characters
        return h
    }
}
