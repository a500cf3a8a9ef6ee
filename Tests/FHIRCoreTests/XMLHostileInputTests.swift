import Foundation
import TestSupport
import Testing
@testable import FHIRCore

/// Untrusted XML: every hostile document must be refused quickly with the right code and a location, never
/// crash, never expand an entity, never read a file, and never print anything.
@Suite("XML hostile input")
struct XMLHostileInputTests {
    private static let fhir = "<Patient xmlns=\"http://hl7.org/fhir\">"

    private func refuse(_ bytes: [UInt8], limits: FHIRLimits = .default, within budget: Duration = .seconds(2),
                        sourceLocation: Testing.SourceLocation = #_sourceLocation) -> FHIRError? {
        // Load the type table first (once per process) so that only the parse is timed.
        _ = XMLTestSupport.failure(Array("<Patient xmlns=\"http://hl7.org/fhir\"><active value=\"1\"/></Patient>".utf8))
        let clock = ContinuousClock()
        var error: FHIRError?
        let elapsed = clock.measure { error = XMLTestSupport.failure(bytes, limits: limits) }
        #expect(error != nil, "the document was accepted", sourceLocation: sourceLocation)
        #expect(error?.location?.line != nil, "the error has no line: \(String(describing: error))", sourceLocation: sourceLocation)
        #expect(elapsed < budget, "took \(elapsed)", sourceLocation: sourceLocation)
        return error
    }

    @Test func truncatedDocumentsAreMalformed() throws {
        let bytes = try Corpus.bytes(Corpus.fhirExamples.appendingPathComponent("patient-example.xml"))
        var cut = 1
        while cut < bytes.count - 1 {
            let error = refuse(Array(bytes[..<cut]))
            #expect(error?.code == .malformedXML || error?.code == .invalidUTF8, "cut at \(cut): \(String(describing: error))")
            cut += 61
        }
    }

    @Test(arguments: [
        "<Patient xmlns=\"http://hl7.org/fhir\"><gender value=\"male\"></Patient>",
        "<Patient xmlns=\"http://hl7.org/fhir\"><gender value=male/></Patient>",
        "<Patient xmlns=\"http://hl7.org/fhir\"><gender value=\"a<b\"/></Patient>",
        "<Patient xmlns=\"http://hl7.org/fhir\"><gender value=\"a\" value=\"b\"/></Patient>",
        "<Patient xmlns=\"http://hl7.org/fhir\"/><Patient xmlns=\"http://hl7.org/fhir\"/>",
        "<Patient xmlns=\"http://hl7.org/fhir\"></Patient>trailing",
        "<Patient xmlns=\"http://hl7.org/fhir\"><x:gender value=\"m\"/></Patient>",
        "<Patient xmlns=\"http://hl7.org/fhir\"><gender value=\"&#0;\"/></Patient>",
        "<Patient xmlns=\"http://hl7.org/fhir\"><gender value=\"&#xD800;\"/></Patient>",
        "<Patient xmlns=\"http://hl7.org/fhir\"><!-- -- --></Patient>",
        "<Patient xmlns=\"http://hl7.org/fhir\">\u{1}</Patient>",
        "just text",
        "<",
        "",
    ])
    func malformedXMLIsRefusedWithLineAndColumn(_ text: String) {
        let error = refuse(Array(text.utf8))
        #expect(error?.code == .malformedXML)
        #expect(error?.location?.column != nil)
    }

    @Test func invalidUTF8IsRefusedWithLocation() {
        let cases: [[UInt8]] = [
            Array((XMLHostileInputTests.fhir + "<gender value=\"").utf8) + [0xFF, 0x41] + Array("\"/></Patient>".utf8),
            Array((XMLHostileInputTests.fhir + "<gender value=\"abc").utf8) + [0xC3, 0x28] + Array("\"/></Patient>".utf8),
            Array((XMLHostileInputTests.fhir + "<text><status value=\"generated\"/><div xmlns=\"http://www.w3.org/1999/xhtml\">ab").utf8) + [0xE2, 0x82] + Array("</div></text></Patient>".utf8),
            Array((XMLHostileInputTests.fhir + "<gen").utf8) + [0xFF] + Array("der value=\"x\"/></Patient>".utf8),
            Array((XMLHostileInputTests.fhir + "<gender value=\"").utf8) + [0xED, 0xA0, 0x80] + Array("\"/></Patient>".utf8),
            Array("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>".utf8) + Array((XMLHostileInputTests.fhir + "<gender value=\"caf").utf8) + [0xE9] + Array("\"/></Patient>".utf8),
            [0xFF, 0xFE] + Array("<\0P\0".utf8),
            [0xFE, 0xFF, 0x00, 0x3C],
        ]
        for bytes in cases {
            let error = refuse(bytes)
            #expect(error?.code == .invalidUTF8, "\(String(describing: error))")
        }
        let located = XMLTestSupport.failure(Array((XMLHostileInputTests.fhir + "\n  <gender value=\"ab").utf8) + [0xFF] + Array("\"/></Patient>".utf8))
        #expect(located?.location?.line == 2)
    }

    @Test func deepNestingFailsFast() {
        var deep = Array(XMLHostileInputTests.fhir.utf8)
        for _ in 0..<100_000 { deep += Array("<extension url=\"x\">".utf8) }
        let error = refuse(deep, within: .milliseconds(500))
        #expect(error?.code == .tooDeep)
        #expect(error?.location?.line == 1)

        var unknown = Array(XMLHostileInputTests.fhir.utf8)
        for _ in 0..<100_000 { unknown += Array("<a>".utf8) }
        #expect(refuse(unknown, within: .milliseconds(500))?.code == .tooDeep)

        var divs = Array((XMLHostileInputTests.fhir + "<text><status value=\"generated\"/><div xmlns=\"http://www.w3.org/1999/xhtml\">").utf8)
        for _ in 0..<100_000 { divs += Array("<span>".utf8) }
        #expect(refuse(divs, within: .milliseconds(500))?.code == .tooDeep)
    }

    @Test func hundredMegabyteAttributeIsTooLarge() {
        let value = [UInt8](repeating: UInt8(ascii: "A"), count: 100 << 20)
        let document = Array((XMLHostileInputTests.fhir + "<gender value=\"").utf8) + value + Array("\"/></Patient>".utf8)
        // Over the default document limit (64 MiB): refused before parsing.
        let whole = refuse(document, within: .seconds(5))
        #expect(whole?.code == .tooLarge)
        // With a larger document limit, the string limit (32 MiB) refuses the attribute itself.
        let attribute = refuse(document, limits: FHIRLimits(maxDocumentBytes: 256 << 20), within: .seconds(10))
        #expect(attribute?.code == .tooLarge)
        #expect(attribute?.reason.contains("attribute") == true)
    }

    @Test func manyAttributesOnOneElementAreRefusedBeforeLibxml2SeesThem() {
        func element(_ count: Int) -> [UInt8] {
            var tag = "<note"
            for i in 0..<count { tag += " a\(i)='v>\"\(i)'" }
            return XMLTestSupport.patient(tag + "/>")
        }
        // libxml2 2.9 compares each attribute with all earlier ones: 100,000 would take seconds, 5,000,000 hours.
        let error = refuse(element(100_000), within: .milliseconds(200))
        #expect(error?.code == .tooLarge)
        #expect(error?.location?.column == 38)
        var namespaces = "<Patient xmlns=\"http://hl7.org/fhir\""
        for i in 0..<100_000 { namespaces += " xmlns:p\(i)=\"urn:\(i)\"" }
        #expect(refuse(Array((namespaces + "/>").utf8), within: .milliseconds(200))?.code == .tooLarge)
        // Up to the limit is fine (quotes and '>' inside values do not confuse the count).
        let most = XMLReader.maxAttributesPerElement
        #expect(throws: Never.self) { _ = try XMLTestSupport.reader.read(element(most)) }
        #expect(XMLTestSupport.failure(element(most + 1))?.code == .tooLarge)
    }

    @Test func longTextInNarrativeOrUnknownElementIsTooLarge() {
        let limits = FHIRLimits(maxStringBytes: 1000)
        let text = String(repeating: "x", count: 5000)
        let div = XMLTestSupport.patient("<text><status value=\"generated\"/><div xmlns=\"http://www.w3.org/1999/xhtml\">\(text)</div></text>")
        #expect(refuse(div, limits: limits)?.code == .tooLarge)
        let unknown = XMLTestSupport.patient("<note>\(text)</note>")
        #expect(refuse(unknown, limits: limits)?.code == .tooLarge)
    }

    @Test func externalEntitiesAreNeverResolved() throws {
        let secret = try String(contentsOfFile: "/etc/passwd", encoding: .utf8).split(separator: "\n").first.map(String.init) ?? "root:"
        let attacks = [
            "<?xml version=\"1.0\"?>\n<!DOCTYPE Patient [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>\n<Patient xmlns=\"http://hl7.org/fhir\"><gender value=\"&e;\"/></Patient>",
            "<!DOCTYPE Patient [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><Patient xmlns=\"http://hl7.org/fhir\"><text><status value=\"generated\"/><div xmlns=\"http://www.w3.org/1999/xhtml\">&e;</div></text></Patient>",
            "<!DOCTYPE Patient SYSTEM \"file:///etc/passwd\"><Patient xmlns=\"http://hl7.org/fhir\"/>",
            "<!DOCTYPE Patient [<!ENTITY % p SYSTEM \"file:///etc/passwd\"> %p;]><Patient xmlns=\"http://hl7.org/fhir\"/>",
            "<!DOCTYPE Patient PUBLIC \"-//x//y\" \"http://127.0.0.1:9/x.dtd\"><Patient xmlns=\"http://hl7.org/fhir\"/>",
        ]
        for attack in attacks {
            let error = refuse(Array(attack.utf8))
            #expect(error?.code == .forbiddenXMLConstruct, "\(String(describing: error))")
            #expect(error?.reason.contains(secret) == false)
            #expect(error?.description.contains("root:") == false)
        }
        // The same in a narrative given as a JSON string.
        #expect(throws: FHIRError.self) {
            _ = try XHTML.canonicalize("<!DOCTYPE div [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><div xmlns=\"http://www.w3.org/1999/xhtml\">&e;</div>")
        }
    }

    @Test func billionLaughsFailsFast() {
        var lol = "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n <!ENTITY lol \"lol\">\n"
        for i in 1...9 {
            lol += " <!ENTITY lol\(i) \"" + String(repeating: "&lol\(i == 1 ? "" : String(i - 1));", count: 10) + "\">\n"
        }
        lol += "]>\n<Patient xmlns=\"http://hl7.org/fhir\"><gender value=\"&lol9;\"/><text><status value=\"generated\"/><div xmlns=\"http://www.w3.org/1999/xhtml\">&lol9;</div></text></Patient>"
        let error = refuse(Array(lol.utf8), within: .milliseconds(200))
        #expect(error?.code == .forbiddenXMLConstruct)
        #expect(error?.location?.line == 2)
    }

    @Test func entityReferencesWithoutADTDAreForbidden() {
        let error = refuse(XMLTestSupport.patient("<gender value=\"&foo;\"/>"))
        #expect(error?.code == .forbiddenXMLConstruct)
        let inText = refuse(XMLTestSupport.patient("<text><status value=\"generated\"/><div xmlns=\"http://www.w3.org/1999/xhtml\">&nbsp;</div></text>"))
        #expect(inText?.code == .forbiddenXMLConstruct)
    }

    @Test func libxml2NeverReportsOutsideTheParse() throws {
        // Errors that escaped the parser's own handler would reach libxml2's per-thread handler (and stderr).
        let example = try Corpus.bytes(Corpus.fhirExamples.appendingPathComponent("observation-example-bloodpressure.xml"))
        let documents: [[UInt8]] = [
            Array("<Patient xmlns=\"http://hl7.org/fhir\"><gender value=\"male\"></Patient>".utf8),
            Array("<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><x>&e;</x>".utf8),
            Array((XMLHostileInputTests.fhir + "<gender value=\"").utf8) + [0xFF] + Array("\"/></Patient>".utf8),
            Array(example[..<(example.count / 2)]),
            Array("<Patient xmlns=\"http://hl7.org/fhir\"><x:y/></Patient>".utf8),
        ]
        let (_, escaped) = LibXML.withSilencedErrors {
            for d in documents { _ = XMLTestSupport.failure(d) }
            _ = try? XHTML.canonicalize("<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>")
            _ = try? XHTML.canonicalize("<div xmlns:a=\"relative\"><a:p/></div>")
        }
        #expect(escaped == nil)
    }

    @Test func randomlyDamagedExamplesNeverCrash() throws {
        var rng = SplitMix64(seed: 0xF41)
        let names = ["patient-example", "bundle-transaction", "observation-example-bloodpressure", "questionnaireresponse-example", "claim-example-oral-contained"]
        var refused = 0
        var accepted = 0
        for name in names {
            let original = try Corpus.bytes(Corpus.fhirExamples.appendingPathComponent(name + ".xml"))
            for _ in 0..<300 {
                var bytes = original
                for _ in 0..<(1 + Int(rng.next() % 4)) {
                    let i = Int(rng.next() % UInt64(bytes.count))
                    switch rng.next() % 4 {
                    case 0: bytes[i] = UInt8(truncatingIfNeeded: rng.next())
                    case 1: bytes.remove(at: i)
                    case 2: bytes.insert(Array("<>&\"'/=x\u{80}".utf8)[Int(rng.next() % 9)], at: i)
                    default: bytes.removeSubrange(i..<min(bytes.count, i + Int(rng.next() % 40)))
                    }
                    if bytes.isEmpty { bytes = [UInt8(ascii: "<")] }
                }
                if let error = XMLTestSupport.failure(bytes) {
                    refused += 1
                    #expect(error.location != nil, "\(name): \(error)")
                } else {
                    accepted += 1
                }
            }
        }
        #expect(refused > 1000)
        print("damaged examples: \(refused) refused, \(accepted) still valid")
    }
}
