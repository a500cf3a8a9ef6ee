import Testing
@testable import FHIRCore

@Suite("XML writer rules")
struct XMLWriterTests {
    private let compact = XMLWriter(pretty: false)
    private let header = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"

    private func resource(_ json: String) throws -> Resource {
        try Resource(XMLTestSupport.json(json))
    }

    private func text(_ bytes: [UInt8]) -> String {
        String(decoding: bytes, as: UTF8.self)
    }

    @Test func elementsFollowDefinitionOrderWhateverTheJSONOrder() throws {
        let r = try resource(#"{"gender": "male", "name": [{"given": ["A"], "family": "B"}], "resourceType": "Patient", "active": true, "id": "p"}"#)
        #expect(text(try compact.write(r)) == header + "<Patient xmlns=\"http://hl7.org/fhir\"><id value=\"p\"/><active value=\"true\"/><name><family value=\"B\"/><given value=\"A\"/></name><gender value=\"male\"/></Patient>")
    }

    @Test func underscoreTwinsMergeBackWithNullPadding() throws {
        let r = try resource("""
            {"resourceType": "Patient", "name": [{"given": ["Jim", null, "Bob"],
              "_given": [null, {"id": "g2", "extension": [{"url": "http://example.org/ext", "valueString": "x"}]}, null]}],
             "birthDate": "1970-03-30", "_birthDate": {"id": "bd"}}
            """)
        let xml = text(try compact.write(r))
        #expect(xml == header + "<Patient xmlns=\"http://hl7.org/fhir\"><name><given value=\"Jim\"/><given id=\"g2\"><extension url=\"http://example.org/ext\"><valueString value=\"x\"/></extension></given><given value=\"Bob\"/></name><birthDate value=\"1970-03-30\" id=\"bd\"/></Patient>")
        #expect(try XMLTestSupport.reader.read(Array(xml.utf8)) == r)
    }

    @Test func mismatchedTwinLengthsAreRefused() throws {
        let r = try resource(#"{"resourceType": "Patient", "name": [{"given": ["A", "B"], "_given": [null]}]}"#)
        #expect {
            _ = try compact.write(r)
        } throws: { error in
            (error as? FHIRError)?.code == .cardinality && (error as? FHIRError)?.location?.pointer == "/name/0/_given"
        }
    }

    @Test func numbersKeepTheirLexeme() throws {
        let r = try resource(#"{"resourceType": "Observation", "status": "final", "code": {"text": "t"}, "valueQuantity": {"value": 1.50e0, "unit": "g"}}"#)
        let xml = text(try compact.write(r))
        #expect(xml.contains("<valueQuantity><value value=\"1.50e0\"/><unit value=\"g\"/></valueQuantity>"))
        #expect(try XMLTestSupport.reader.read(Array(xml.utf8)) == r)
    }

    @Test func containedResourcesAreWrapped() throws {
        let r = try resource(#"{"resourceType": "Patient", "contained": [{"resourceType": "Organization", "id": "o"}]}"#)
        #expect(text(try compact.write(r)) == header + "<Patient xmlns=\"http://hl7.org/fhir\"><contained><Organization><id value=\"o\"/></Organization></contained></Patient>")
    }

    @Test func containedObjectWithoutResourceTypeIsRefused() throws {
        let r = try resource(#"{"resourceType": "Patient", "contained": [{"id": "o"}]}"#)
        #expect {
            _ = try compact.write(r)
        } throws: { error in
            (error as? FHIRError)?.code == .notAResource && (error as? FHIRError)?.location?.pointer == "/contained/0"
        }
    }

    @Test func narrativeIsWrittenAsXHTML() throws {
        let div = "<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>a &amp; b<br/></p></div>"
        let r = try resource(#"{"resourceType": "Patient", "text": {"status": "generated", "div": "\#(div.replacingAll("\"", with: "\\\""))"}}"#)
        #expect(text(try compact.write(r)) == header + "<Patient xmlns=\"http://hl7.org/fhir\"><text><status value=\"generated\"/>" + div + "</text></Patient>")
    }

    @Test func narrativeWithoutNamespaceGetsTheXHTMLNamespace() throws {
        let r = try resource(#"{"resourceType": "Patient", "text": {"status": "generated", "div": "<div>x</div>"}}"#)
        let xml = text(try compact.write(r))
        #expect(xml.contains("<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"))
        let back = try XMLTestSupport.reader.read(Array(xml.utf8))
        #expect(back.object["text"] == .object(FHIRObject(["status": .string("generated"), "div": .string("<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>")])))
    }

    @Test func malformedNarrativeIsInvalidNarrative() throws {
        for bad in ["<div xmlns=\\\"http://www.w3.org/1999/xhtml\\\"><p></div>", "<p>x</p>", "text", "<div xmlns=\\\"urn:x\\\">x</div>"] {
            let r = try resource(#"{"resourceType": "Patient", "text": {"status": "generated", "div": "\#(bad)"}}"#)
            #expect {
                _ = try compact.write(r)
            } throws: { error in
                (error as? FHIRError)?.code == .invalidNarrative && (error as? FHIRError)?.location?.pointer == "/text/div"
            }
        }
    }

    @Test func attributeValuesAreEscapedAndSurviveNormalisation() throws {
        let tricky = "a & b < c > d \" e ' f\ttab\nline\r\nend"
        var name = FHIRObject()
        name["text"] = .string(tricky)
        var root = FHIRObject(["resourceType": .string("Patient")])
        root["name"] = .array([.object(name)])
        let r = try Resource(root)
        let xml = text(try compact.write(r))
        #expect(xml.contains("value=\"a &amp; b &lt; c > d &quot; e ' f&#x9;tab&#xA;line&#xD;&#xA;end\""))
        #expect(try XMLTestSupport.reader.read(Array(xml.utf8)) == r)
    }

    @Test func controlCharactersCannotBeWritten() throws {
        var root = FHIRObject(["resourceType": .string("Patient")])
        root["gender"] = .string("ma\u{1}le")
        let r = try Resource(root)
        #expect {
            _ = try compact.write(r)
        } throws: { error in
            (error as? FHIRError)?.code == .invalidPrimitive && (error as? FHIRError)?.location?.pointer == "/gender"
        }
    }

    @Test func unknownMembersAreWrittenAfterKnownOnes() throws {
        let r = try resource(#"{"resourceType": "Patient", "zzz": {"a": "1", "b": [true, 2]}, "gender": "male", "yyy": "s"}"#)
        let xml = text(try compact.write(r))
        #expect(xml == header + "<Patient xmlns=\"http://hl7.org/fhir\"><gender value=\"male\"/><zzz><a value=\"1\"/><b value=\"true\"/><b value=\"2\"/></zzz><yyy value=\"s\"/></Patient>")
        // Read back best effort: the structure survives, scalars come back as strings.
        let back = try XMLTestSupport.reader.read(Array(xml.utf8)).object
        #expect(back["zzz"] == (try XMLTestSupport.json(#"{"a": "1", "b": ["true", "2"]}"#)))
        #expect(back["yyy"] == .string("s"))
    }

    @Test func membersThatCannotBeWrittenAreRefusedWithPointer() throws {
        let cases: [(String, String, FHIRError.Code)] = [
            (#"{"resourceType": "Patient", "a b": "x"}"#, "/a b", .unknownElement),
            (#"{"resourceType": "Patient", "zzz": [[1]]}"#, "/zzz/0", .unknownElement),
            (#"{"resourceType": "Patient", "zzz": null}"#, "/zzz", .unknownElement),
            (#"{"resourceType": "Patient", "name": []}"#, "/name", .emptyValue),
            (#"{"resourceType": "Patient", "gender": ["male", "female"]}"#, "/gender", .cardinality),
            (#"{"resourceType": "Patient", "gender": {"x": 1}}"#, "/gender", .wrongValueKind),
            (#"{"resourceType": "Patient", "maritalStatus": "M"}"#, "/maritalStatus", .wrongValueKind),
            (#"{"resourceType": "Patient", "deceasedBoolean": true, "deceasedDateTime": "2020"}"#, "/deceasedDateTime", .invalidChoice),
        ]
        for (json, pointer, code) in cases {
            let r = try resource(json)
            #expect {
                _ = try compact.write(r)
            } throws: { error in
                let e = error as? FHIRError
                return e?.code == code && e?.location?.pointer == pointer
            }
        }
    }

    @Test func prettyAndCompactOutputReadBackTheSame() throws {
        let r = try resource("""
            {"resourceType": "Patient", "id": "p", "text": {"status": "generated", "div": "<div xmlns=\\"http://www.w3.org/1999/xhtml\\">\\n  <p>x</p>\\n</div>"},
             "name": [{"use": "official", "given": ["A", "B"]}], "deceasedBoolean": false,
             "extension": [{"url": "http://example.org/a", "valueCodeableConcept": {"coding": [{"system": "s", "code": "c"}]}}]}
            """)
        let pretty = try XMLWriter(pretty: true).write(r)
        let flat = try compact.write(r)
        #expect(pretty != flat)
        #expect(try XMLTestSupport.reader.read(pretty) == r)
        #expect(try XMLTestSupport.reader.read(flat) == r)
        #expect(text(pretty).hasPrefix(header + "\n<Patient xmlns=\"http://hl7.org/fhir\">\n  <id value=\"p\"/>\n"))
    }
}
