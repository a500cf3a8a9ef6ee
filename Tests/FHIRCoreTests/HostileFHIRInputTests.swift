import Foundation
import TestSupport
import Testing
@testable import FHIRCore

/// Issue 16 items 4, 7 and 14 in the record core: foreign-namespace XML, active content in narratives, and
/// one verdict for reading and validating. Every hostile input is a seed file under `Fuzz/seeds/`.
@Suite("Hostile FHIR input")
struct HostileFHIRInputTests {
    /// One hostile input and where its refusal must point.
    struct Refusal: CustomTestStringConvertible, Sendable {
        var seed: String
        var code: FHIRError.Code
        var pointer: String
        var line: Int
        var column: Int
        var testDescription: String { seed }
    }

    static func seed(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: Repository.root.appendingPathComponent("Fuzz/seeds").appendingPathComponent(name)))
    }

    // MARK: - Item 4: only the FHIR namespace is FHIR

    static let foreignNamespaces: [Refusal] = [
        Refusal(seed: "fhir-xml/foreign-namespace-gender.xml", code: .foreignNamespace, pointer: "/gender", line: 2, column: 3),
        Refusal(seed: "fhir-xml/empty-namespace-name.xml", code: .foreignNamespace, pointer: "/name", line: 2, column: 3),
        Refusal(seed: "fhir-xml/foreign-namespace-in-extension.xml", code: .foreignNamespace, pointer: "/extension/0/valueCode", line: 4, column: 5),
        Refusal(seed: "fhir-xml/foreign-namespace-in-contained.xml", code: .foreignNamespace, pointer: "/contained/0/active", line: 4, column: 7),
        Refusal(seed: "fhir-xml/foreign-namespace-in-unknown-element.xml", code: .foreignNamespace, pointer: "/unknownThing/secret", line: 3, column: 5),
        Refusal(seed: "fhir-xml/foreign-attribute-on-primitive.xml", code: .foreignNamespace, pointer: "/gender", line: 2, column: 3),
    ]

    @Test(arguments: foreignNamespaces)
    func elementsOutsideTheFHIRNamespaceAreRefusedWithLineAndColumn(_ refusal: Refusal) throws {
        let bytes = try Self.seed(refusal.seed)
        let error = XMLTestSupport.failure(bytes)
        #expect(error?.code == refusal.code, "\(String(describing: error))")
        #expect(error?.location?.pointer == refusal.pointer)
        #expect(error?.location?.line == refusal.line)
        #expect(error?.location?.column == refusal.column)
        // The validator (and so every command) gives the same verdict, located the same way.
        let outcome = FHIRDocument.validate(bytes)
        #expect(outcome.hasErrors)
        #expect(outcome.issues.first?.code == "structure")
        #expect(outcome.issues.first?.location == [refusal.pointer, "line \(refusal.line), column \(refusal.column)"])
    }

    @Test func foreignGenderNeitherValidatesNorHashes() throws {
        // Before issue 16 this read as Patient.gender = male, validated, and hashed like real FHIR.
        let bytes = try Self.seed("fhir-xml/foreign-namespace-gender.xml")
        #expect(throws: FHIRError.self) { _ = try FHIRDocument.read(bytes) }
        #expect(throws: FHIRDocument.Rejection.self) { _ = try FHIRDocument.validatedCanonicalBytes(bytes) }
    }

    @Test func schemaLocationOnTheResourceIsStillRead() throws {
        let xml = """
            <Patient xmlns="http://hl7.org/fhir" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" \
            xsi:schemaLocation="http://hl7.org/fhir ../../schema/patient.xsd"><gender value="male"/></Patient>
            """
        let resource = try XMLReader().read(Array(xml.utf8))
        #expect(resource.object["gender"] == .string("male"))
        #expect(resource.object.members.count == 2)
    }

    // MARK: - Item 7: narratives hold basic XHTML, no active content

    static let unsafeXMLNarratives: [Refusal] = [
        Refusal(seed: "fhir-xml/narrative-script.xml", code: .unsafeNarrative, pointer: "/text/div", line: 5, column: 7),
        Refusal(seed: "fhir-xml/narrative-onclick.xml", code: .unsafeNarrative, pointer: "/text/div", line: 4, column: 7),
        Refusal(seed: "fhir-xml/narrative-javascript-href-obfuscated.xml", code: .unsafeNarrative, pointer: "/text/div", line: 4, column: 7),
        Refusal(seed: "fhir-xml/narrative-svg-element.xml", code: .unsafeNarrative, pointer: "/text/div", line: 5, column: 7),
        Refusal(seed: "fhir-xml/narrative-style-expression.xml", code: .unsafeNarrative, pointer: "/text/div", line: 4, column: 7),
        Refusal(seed: "fhir-xml/narrative-iframe.xml", code: .unsafeNarrative, pointer: "/text/div", line: 4, column: 7),
        Refusal(seed: "fhir-xml/narrative-xlink-href.xml", code: .unsafeNarrative, pointer: "/text/div", line: 4, column: 7),
        Refusal(seed: "fhir-xml/narrative-data-html-img.xml", code: .unsafeNarrative, pointer: "/text/div", line: 4, column: 7),
        Refusal(seed: "fhir-xml/narrative-unknown-attribute.xml", code: .unsafeNarrative, pointer: "/text/div", line: 4, column: 7),
    ]

    @Test(arguments: unsafeXMLNarratives)
    func activeContentInAnXMLNarrativeIsRefusedAtItsTag(_ refusal: Refusal) throws {
        let bytes = try Self.seed(refusal.seed)
        let error = XMLTestSupport.failure(bytes)
        #expect(error?.code == refusal.code, "\(String(describing: error))")
        #expect(error?.location?.pointer == refusal.pointer)
        #expect(error?.location?.line == refusal.line)
        #expect(error?.location?.column == refusal.column)
        let outcome = FHIRDocument.validate(bytes)
        #expect(outcome.issues.first?.code == "security")
        #expect(outcome.issues.first?.location == [refusal.pointer, "line \(refusal.line), column \(refusal.column)"])
    }

    static let unsafeJSONNarratives: [(seed: String, says: String)] = [
        ("fhir-json/narrative-script.json", "<script>"),
        ("fhir-json/narrative-onclick.json", "onclick"),
        ("fhir-json/narrative-onmouseover-uppercase.json", "ONMOUSEOVER"),
        ("fhir-json/narrative-javascript-href-mixed-case.json", "javascript:"),
        ("fhir-json/narrative-javascript-href-char-refs.json", "javascript:"),
        ("fhir-json/narrative-svg-onload.json", "<svg>"),
        ("fhir-json/narrative-iframe.json", "<iframe>"),
        ("fhir-json/narrative-style-expression.json", "expression("),
    ]

    @Test(arguments: unsafeJSONNarratives)
    func activeContentInAJSONNarrativeIsRefusedAtItsPointer(_ seed: String, _ says: String) throws {
        let bytes = try Self.seed(seed)
        let outcome = FHIRDocument.validate(bytes)
        let errors = outcome.issues.filter(\.isError)
        #expect(errors.count == 1, "\(outcome.issues)")
        #expect(errors.first?.code == "security")
        #expect(errors.first?.location == ["/text/div"])
        #expect(errors.first?.expression == ["Patient.text.div"])
        #expect(errors.first?.diagnostics.contains(says) == true, "\(errors.first?.diagnostics ?? "")")
        #expect(throws: FHIRDocument.Rejection.self) { _ = try FHIRDocument.readValidated(bytes) }
        #expect(throws: FHIRDocument.Rejection.self) { _ = try FHIRDocument.validatedCanonicalBytes(bytes) }
    }

    @Test(arguments: ["fhir-json/narrative-empty.json", "fhir-xml/narrative-empty.xml"])
    func aNarrativeWithoutContentIsRefused(_ seed: String) throws {
        // FHIR R4 txt-2: some non-whitespace content.
        let outcome = FHIRDocument.validate(try Self.seed(seed))
        let errors = outcome.issues.filter(\.isError)
        #expect(errors.count == 1, "\(outcome.issues)")
        #expect(errors.first?.location.first == "/text/div")
        #expect(errors.first?.diagnostics.contains("txt-2") == true)
    }

    /// Basic XHTML as real narratives use it: links, anchors, images (including raster data URLs), tables with
    /// layout attributes, inline style, language tags.
    static let basicXHTML = """
        <div xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en"><h3 id="h" class="title">Summary</h3>\
        <p style="color: red; font-weight: bold">See <a href="https://example.org/report?a=1&amp;b=2" title="report">the report</a>, \
        <a href="#h">the top</a>, <a name="n">here</a> and <a href="mailto:x@example.org">mail</a>.</p>\
        <img src="data:image/png;base64,iVBORw0KGgo=" alt="logo" width="10" height="10"/>\
        <table border="1" cellpadding="2" summary="vitals"><thead><tr><th scope="col">A</th><th>B</th></tr></thead>\
        <tbody><tr><td colspan="2" valign="top" nowrap="nowrap">x</td></tr></tbody></table>\
        <ul><li>one</li></ul><blockquote cite="https://example.org/q">q</blockquote><pre xml:space="preserve"> code </pre></div>
        """

    @Test func basicXHTMLIsAcceptedFromJSONAndFromXML() throws {
        let resource = try Resource(FHIRObject([
            "resourceType": .string("Patient"),
            "text": .object(FHIRObject(["status": .string("generated"), "div": .string(Self.basicXHTML)])),
        ]))
        let json = JSONWriter(style: .compact).write(resource)
        let fromJSON = FHIRDocument.validate(json)
        #expect(!fromJSON.hasErrors, "\(fromJSON.issues)")
        let xml = try XMLWriter().write(resource)
        let fromXML = FHIRDocument.validate(xml)
        #expect(!fromXML.hasErrors, "\(fromXML.issues)")
        #expect(try FHIRDocument.validatedCanonicalBytes(json) == (try FHIRDocument.validatedCanonicalBytes(xml)))
    }

    @Test(arguments: [
        ("<a href=\"vbscript:msgbox(1)\">x</a>", "vbscript"),
        ("<a href=\" \tjavascript:alert(1)\">x</a>", "javascript"),
        ("<a href=\"java&#10;script:alert(1)\">x</a>", "javascript"),
        ("<img src=\"data:image/svg+xml;base64,PHN2Zz4=\" alt=\"x\"/>", "data"),
        ("<a href=\"data:image/png;base64,iVBORw0KGgo=\">x</a>", "data"),
        ("<p style=\"background: url(javascript:alert(1))\">x</p>", "javascript:"),
        ("<p style=\"behavior: url(x.htc)\">x</p>", "behavior:"),
        ("<form action=\"x\"><input/></form>", "<form>"),
        ("<object data=\"x.swf\"/>", "<object>"),
        ("<style>p{}</style>", "<style>"),
        ("<p xml:base=\"javascript:alert(1)//\">x</p>", "base"),
        ("<f:gender xmlns:f=\"http://hl7.org/fhir\" value=\"male\"/>", "http://hl7.org/fhir"),
    ])
    func obfuscatedActiveContentIsRefused(_ inner: String, _ says: String) throws {
        let div = "<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>text</p>\(inner)</div>"
        let json = JSONWriter(style: .compact).write(try Resource(FHIRObject([
            "resourceType": .string("Patient"),
            "text": .object(FHIRObject(["status": .string("generated"), "div": .string(div)])),
        ])))
        let issue = FHIRDocument.validate(json).issues.first
        #expect(issue?.code == "security", "\(String(describing: issue))")
        #expect(issue?.location == ["/text/div"])
        #expect(issue?.diagnostics.contains(says) == true, "\(issue?.diagnostics ?? "")")
        // The same div written as XML markup is refused by the reader at the offending tag.
        let head = "<Patient xmlns=\"http://hl7.org/fhir\"><text><status value=\"generated\"/>"
        let error = XMLTestSupport.failure(Array((head + div + "</text></Patient>").utf8))
        #expect(error?.code == .unsafeNarrative, "\(String(describing: error))")
        #expect(error?.location?.line == 1)
        #expect(error?.location?.column == (head + div).utf8.count - (inner + "</div>").utf8.count + 1)
    }

    @Test func aProcessingInstructionInAJSONNarrativeIsRefused() throws {
        let bytes = try Self.seed("fhir-json/narrative-processing-instruction.json")
        let issue = FHIRDocument.validate(bytes).issues.first
        #expect(issue?.code == "security")
        #expect(issue?.location == ["/text/div"])
        #expect(issue?.diagnostics.contains("<?xml-stylesheet") == true, "\(issue?.diagnostics ?? "")")
    }

    // MARK: - Item 14: converting and hashing refuse what validating refuses

    @Test func anEmptyIdIsRefusedByEveryReadingNotOnlyByValidate() throws {
        let bytes = try Self.seed("fhir-xml/empty-id.xml")
        let outcome = FHIRDocument.validate(bytes)
        #expect(outcome.hasErrors)
        #expect(outcome.issues.first?.location == ["/id", "line 2, column 3"])
        do {
            _ = try FHIRDocument.readValidated(bytes)
            Issue.record("readValidated accepted <id/>")
        } catch {
            #expect(error.outcome == outcome)
        }
        do {
            _ = try FHIRDocument.validatedCanonicalBytes(bytes)
            Issue.record("validatedCanonicalBytes accepted <id/>")
        } catch {
            #expect(error.outcome == outcome)
        }
    }

    @Test func anInvalidJSONResourceIsNotCanonicalized() throws {
        let bytes = try Self.seed("fhir-json/invalid-birthdate.json")
        let outcome = FHIRDocument.validate(bytes)
        #expect(outcome.issues.first?.location == ["/birthDate"])
        #expect(throws: FHIRDocument.Rejection.self) { _ = try FHIRDocument.validatedCanonicalBytes(bytes) }
        #expect(throws: FHIRDocument.Rejection.self) { _ = try FHIRDocument.readValidated(bytes) }
    }
}
