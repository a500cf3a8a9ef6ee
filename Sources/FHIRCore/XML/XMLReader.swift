import CLibXML2

/// Reads FHIR R4 XML into the resource tree, by the rules of the FHIR "XML Representation" page.
///
/// Built on libxml2's SAX2 interface: the tree is built directly from parser events with the type table
/// deciding what each element is (primitive `value` attributes, `_name` twins for ids and extensions, arrays,
/// wrapped resources, the XHTML narrative). Secure by default: no network, no DTD, no entities (XXE and
/// expansion bombs are refused with `.forbiddenXMLConstruct`), and ``FHIRLimits`` on size, depth and
/// string length. Every error carries the line and column, and the JSON pointer where one is known.
public struct XMLReader: Sendable {
    public let limits: FHIRLimits
    let schema: XMLSchema

    /// A reader for `table`. It learns the table's XML shape as it reads, so keep one reader for many documents.
    /// Most attributes (namespace declarations included) one element may carry. FHIR elements carry at most
    /// three and narrative XHTML a handful; libxml2 2.9 checks attribute names pairwise, so this bound keeps a
    /// hostile start tag from costing quadratic time.
    public static let maxAttributesPerElement = 64

    public init(table: TypeTable = .r4, limits: FHIRLimits = .default) {
        self.limits = limits
        self.schema = XMLSchema(table: table)
    }

    /// A reader for FHIR R4 that shares what every such reader has learnt of the R4 table, so creating one
    /// per document costs nothing. (`XMLReader()` and `XMLReader(limits:)` resolve here.)
    public init(limits: FHIRLimits = .default) {
        self.limits = limits
        self.schema = XMLSchema.r4
    }

    /// Parses one resource (a single resource or a Bundle).
    public func read(_ bytes: UnsafeRawBufferPointer) throws(FHIRError) -> Resource {
        try parse(bytes, trackLocations: false).0
    }

    /// Parses one resource from a byte array.
    public func read(_ bytes: [UInt8]) throws(FHIRError) -> Resource {
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(FHIRError) in try parse(raw, trackLocations: false).0 }
        }
        return try result.get()
    }

    /// Parses one resource and reports where each element of the tree came from: the map is keyed by the
    /// RFC 6901 JSON pointer of each value in the produced tree (`/name/0/given/1`, `/_birthDate/extension/0`,
    /// `/contained/0`, `""` for the root), with the line and column of the element's start tag.
    public func readWithLocations(_ bytes: [UInt8]) throws(FHIRError) -> (Resource, [String: SourceLocation]) {
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(FHIRError) in try parse(raw, trackLocations: true) }
        }
        return try result.get()
    }

    private func parse(_ bytes: UnsafeRawBufferPointer, trackLocations: Bool) throws(FHIRError) -> (Resource, [String: SourceLocation]) {
        let text = UnsafeBufferPointer(start: bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), count: bytes.count)
        guard bytes.count <= limits.maxDocumentBytes else {
            let (line, column) = SourceLocation.lineAndColumn(of: limits.maxDocumentBytes, in: text)
            throw FHIRError(.tooLarge, "the document is \(bytes.count) bytes; the limit is \(limits.maxDocumentBytes) bytes", at: SourceLocation(line: line, column: column))
        }
        try XMLReader.checkEncoding(bytes)
        if let offset = XMLAttributeScan.firstCrowdedTag(bytes, limit: XMLReader.maxAttributesPerElement) {
            let (line, column) = SourceLocation.lineAndColumn(of: offset, in: text)
            throw FHIRError(.tooLarge, "an element has more than \(XMLReader.maxAttributesPerElement) attributes and namespace declarations", at: SourceLocation(line: line, column: column))
        }
        let builder = XMLTreeBuilder(schema: schema, limits: limits, trackLocations: trackLocations)
        let handler = XMLTreeBuilder.makeHandler()
        defer {
            handler.deinitialize(count: 1)
            handler.deallocate()
        }
        _ = builder.parse(bytes, sax: handler)
        if let failure = builder.failure { throw failure }
        guard let root = builder.root else {
            throw FHIRError(.notAResource, "the document has no root element", at: SourceLocation(line: 1, column: 1))
        }
        return (try Resource(root), builder.locations)
    }

    /// FHIR XML is UTF-8. libxml2 would silently switch to UTF-16/32 or EBCDIC on their byte signatures;
    /// refuse those up front (the declared `encoding` is ignored, so any other encoding fails as invalid UTF-8).
    private static func checkEncoding(_ bytes: UnsafeRawBufferPointer) throws(FHIRError) {
        guard bytes.count >= 2 else { return }
        let b0 = bytes[0], b1 = bytes[1]
        if b0 == 0 || b1 == 0 || b0 == 0xFE || b0 == 0xFF || (b0 == 0x4C && b1 == 0x6F) {
            throw FHIRError(.invalidUTF8, "the document is not UTF-8 (it starts like UTF-16, UTF-32 or EBCDIC); FHIR XML must be UTF-8", at: SourceLocation(line: 1, column: 1))
        }
    }
}
