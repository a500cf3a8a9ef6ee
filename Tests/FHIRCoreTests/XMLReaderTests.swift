import Testing
@testable import FHIRCore

/// The FHIR R4 XML rules, one small document each.
@Suite("XML reader rules")
struct XMLReaderTests {
    private func read(_ body: String) throws -> FHIRObject {
        try XMLTestSupport.reader.read(XMLTestSupport.patient(body)).object
    }

    @Test func rootElementBecomesResourceTypeFirst() throws {
        let o = try read("<id value=\"p1\"/><active value=\"true\"/>")
        #expect(o.members.first?.name == "resourceType")
        #expect(o["resourceType"] == .string("Patient"))
        #expect(o["id"] == .string("p1"))
        #expect(o["active"] == .bool(true))
    }

    @Test func primitiveWithIdAndExtensionGetsUnderscoreTwin() throws {
        let o = try read("""
            <birthDate id="bd" value="1970-03-30">
              <extension url="http://hl7.org/fhir/StructureDefinition/patient-birthTime">
                <valueDateTime value="1970-03-30T14:35:45-05:00"/>
              </extension>
            </birthDate>
            """)
        #expect(o["birthDate"] == .string("1970-03-30"))
        let expected = try XMLTestSupport.json("""
            {"id": "bd", "extension": [{"url": "http://hl7.org/fhir/StructureDefinition/patient-birthTime",
                                        "valueDateTime": "1970-03-30T14:35:45-05:00"}]}
            """)
        #expect(o["_birthDate"] == expected)
    }

    @Test func primitiveWithOnlyAnExtensionHasNoValueMember() throws {
        let o = try read("<gender><extension url=\"http://example.org/x\"><valueCode value=\"u\"/></extension></gender>")
        #expect(o["gender"] == nil)
        #expect(o["_gender"] == (try XMLTestSupport.json(#"{"extension": [{"url": "http://example.org/x", "valueCode": "u"}]}"#)))
    }

    @Test func repeatingPrimitiveWithPartialExtensionsIsPaddedWithNull() throws {
        let o = try read("""
            <name>
              <given value="Jim"/>
              <given id="g2"><extension url="http://example.org/ext"><valueString value="x"/></extension></given>
              <given value="Bob"/>
            </name>
            """)
        let expected = try XMLTestSupport.json("""
            [{"given": ["Jim", null, "Bob"],
              "_given": [null, {"id": "g2", "extension": [{"url": "http://example.org/ext", "valueString": "x"}]}, null]}]
            """)
        #expect(o["name"] == expected)
    }

    @Test func repeatingPrimitiveWithoutExtensionsHasNoTwin() throws {
        let o = try read("<name><given value=\"A\"/><given value=\"B\"/></name>")
        #expect(o["name"] == (try XMLTestSupport.json(#"[{"given": ["A", "B"]}]"#)))
    }

    @Test func repeatingPrimitiveWithOnlyExtensionsHasNoValueArray() throws {
        let o = try read("<name><given id=\"a\"/><given id=\"b\"/></name>")
        #expect(o["name"] == (try XMLTestSupport.json(#"[{"_given": [{"id": "a"}, {"id": "b"}]}]"#)))
    }

    @Test func repeatingElementIsAnArrayEvenOnce() throws {
        let o = try read("<name><family value=\"Chalmers\"/></name>")
        #expect(o["name"] == (try XMLTestSupport.json(#"[{"family": "Chalmers"}]"#)))
    }

    @Test func choiceElementKeepsItsTypedName() throws {
        let xml = """
            <Observation xmlns="http://hl7.org/fhir">
              <status value="final"/>
              <code><text value="glucose"/></code>
              <valueQuantity><value value="6.30"/><unit value="mmol/l"/></valueQuantity>
            </Observation>
            """
        let o = try XMLTestSupport.reader.read(Array(xml.utf8)).object
        #expect(o["valueQuantity"] == (try XMLTestSupport.json(#"{"value": 6.30, "unit": "mmol/l"}"#)))
        guard case .object(let q)? = o["valueQuantity"], case .number(let n)? = q["value"] else {
            Issue.record("valueQuantity.value is not a number")
            return
        }
        #expect(n.lexeme == "6.30")
    }

    @Test func twoTypesOfOneChoiceAreRefused() {
        let xml = "<Observation xmlns=\"http://hl7.org/fhir\"><valueString value=\"a\"/><valueBoolean value=\"true\"/></Observation>"
        let error = XMLTestSupport.failure(Array(xml.utf8))
        #expect(error?.code == .invalidChoice)
        #expect(error?.location?.pointer == "/valueBoolean")
    }

    @Test func numbersKeepTheirLexemeAndBooleansBecomeBooleans() throws {
        let o = try read("<active value=\"false\"/><multipleBirthInteger value=\"2\"/>")
        #expect(o["active"] == .bool(false))
        #expect(o["multipleBirthInteger"] == .number(FHIRNumber(uncheckedLexeme: "2")))
    }

    @Test func invalidNumberOrBooleanIsInvalidPrimitive() {
        let badNumber = XMLTestSupport.failure(XMLTestSupport.patient("<multipleBirthInteger value=\"02\"/>"))
        #expect(badNumber?.code == .invalidPrimitive)
        #expect(badNumber?.location?.pointer == "/multipleBirthInteger")
        let badBool = XMLTestSupport.failure(XMLTestSupport.patient("<active value=\"yes\"/>"))
        #expect(badBool?.code == .invalidPrimitive)
        #expect(badBool?.location?.line == 1)
    }

    @Test func elementIdAndExtensionURLAreAttributes() throws {
        let o = try read("<name id=\"n1\"><family value=\"X\"/></name><extension url=\"http://example.org/e\"><valueBoolean value=\"true\"/></extension>")
        #expect(o["name"] == (try XMLTestSupport.json(#"[{"id": "n1", "family": "X"}]"#)))
        #expect(o["extension"] == (try XMLTestSupport.json(#"[{"url": "http://example.org/e", "valueBoolean": true}]"#)))
    }

    @Test func containedResourceIsUnwrapped() throws {
        let o = try read("<contained><Organization><id value=\"o1\"/><name value=\"Acme\"/></Organization></contained><managingOrganization><reference value=\"#o1\"/></managingOrganization>")
        #expect(o["contained"] == (try XMLTestSupport.json(#"[{"resourceType": "Organization", "id": "o1", "name": "Acme"}]"#)))
        #expect(o["managingOrganization"] == (try XMLTestSupport.json(##"{"reference": "#o1"}"##)))
    }

    @Test func bundleEntryResourceIsUnwrapped() throws {
        let xml = """
            <Bundle xmlns="http://hl7.org/fhir"><type value="collection"/>
              <entry><fullUrl value="urn:uuid:1"/><resource><Patient><id value="a"/></Patient></resource></entry>
            </Bundle>
            """
        let o = try XMLTestSupport.reader.read(Array(xml.utf8)).object
        #expect(o["entry"] == (try XMLTestSupport.json(#"[{"fullUrl": "urn:uuid:1", "resource": {"resourceType": "Patient", "id": "a"}}]"#)))
    }

    @Test func resourceElementWithTwoResourcesIsRefused() {
        let error = XMLTestSupport.failure(XMLTestSupport.patient("<contained><Organization/><Organization/></contained>"))
        #expect(error?.code == .cardinality)
    }

    @Test func narrativeDivIsCapturedAsXHTMLText() throws {
        let o = try read("""
            <text><status value="generated"/><div xmlns="http://www.w3.org/1999/xhtml"><p title='a "b"' class='x'>A &amp; B &lt; C&#160;&gt; D<br/></p><!-- gone --></div></text>
            """)
        guard case .object(let text)? = o["text"], case .string(let div)? = text["div"] else {
            Issue.record("no text.div")
            return
        }
        #expect(div == "<div xmlns=\"http://www.w3.org/1999/xhtml\"><p class=\"x\" title=\"a &quot;b&quot;\">A &amp; B &lt; C\u{A0}&gt; D<br/></p></div>")
        #expect(text["status"] == .string("generated"))
    }

    @Test func narrativeKeepsNestedNamespacesAndDeclaresOuterPrefixes() throws {
        let xml = """
            <Patient xmlns="http://hl7.org/fhir" xmlns:x="http://www.w3.org/1999/xhtml"><text><status value="generated"/>\
            <h:div xmlns:h="http://www.w3.org/1999/xhtml"><x:a href="#t">t</x:a></h:div></text></Patient>
            """
        let o = try XMLTestSupport.reader.read(Array(xml.utf8)).object
        guard case .object(let text)? = o["text"], case .string(let div)? = text["div"] else {
            Issue.record("no text.div")
            return
        }
        #expect(div == "<h:div xmlns=\"http://www.w3.org/1999/xhtml\" xmlns:h=\"http://www.w3.org/1999/xhtml\"><x:a xmlns:x=\"http://www.w3.org/1999/xhtml\" href=\"#t\">t</x:a></h:div>")
        #expect(throws: Never.self) { _ = try XHTML.canonicalize(div) }
    }

    @Test func narrativeOutsideTheXHTMLNamespaceIsRefused() {
        let error = XMLTestSupport.failure(XMLTestSupport.patient("<text><status value=\"generated\"/><div>x</div></text>"))
        #expect(error?.code == .invalidNarrative)
    }

    @Test func unknownElementsAreKeptBestEffort() throws {
        let o = try read("<foo value=\"bar\"/><gender value=\"male\"/><baz><qux value=\"1\"/></baz><foo value=\"again\"/><note>free text</note>")
        #expect(o["foo"] == (try XMLTestSupport.json(#"["bar", "again"]"#)))
        #expect(o["baz"] == (try XMLTestSupport.json(#"{"qux": "1"}"#)))
        #expect(o["note"] == .string("free text"))
        #expect(o["gender"] == .string("male"))
    }

    @Test func elementsInAnotherNamespaceAreRefused() throws {
        // Issue 16 item 4: an element in another namespace is not the FHIR element of that name.
        for body in ["<gender xmlns=\"urn:other\" value=\"x\"/>", "<o:active xmlns:o=\"urn:other\" value=\"maybe\"/>"] {
            let error = XMLTestSupport.failure(XMLTestSupport.patient(body))
            #expect(error?.code == .foreignNamespace)
            #expect(error?.location?.column == 38)
        }
    }

    @Test func singleValuedElementTwiceIsCardinalityErrorWithLocation() {
        let error = XMLTestSupport.failure(Array("<Patient xmlns=\"http://hl7.org/fhir\">\n  <gender value=\"male\"/>\n  <gender value=\"female\"/>\n</Patient>".utf8))
        #expect(error?.code == .cardinality)
        #expect(error?.location?.pointer == "/gender")
        #expect(error?.location?.line == 3)
        #expect(error?.location?.column == 3)
    }

    @Test func textInsideAFHIRElementIsRefused() {
        let error = XMLTestSupport.failure(XMLTestSupport.patient("<gender>male</gender>"))
        #expect(error?.code == .wrongValueKind)
        #expect(error?.location?.pointer == "/gender")
    }

    @Test func whitespaceCommentsAndProcessingInstructionsAreDropped() throws {
        let xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- a comment --><?pi data?>\n<Patient xmlns=\"http://hl7.org/fhir\">\n  <!-- c -->\n  <?x y?>\n  <active value=\"true\"/>\n</Patient>\n"
        let o = try XMLTestSupport.reader.read(Array(xml.utf8)).object
        #expect(o == FHIRObject(["resourceType": .string("Patient"), "active": .bool(true)]))
    }

    @Test func predefinedEntitiesAndCharacterReferencesInAttributes() throws {
        let o = try read("<name><text value=\"a &amp; b &lt;c&gt; &quot;d&quot; &apos;e&apos; &#38;&#x26; &#233;\"/></name>")
        #expect(o["name"] == .array([.object(FHIRObject(["text": .string("a & b <c> \"d\" 'e' && é")]))]))
    }

    @Test func namespacedAttributesAreIgnored() throws {
        let xml = "<Patient xmlns=\"http://hl7.org/fhir\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:schemaLocation=\"http://hl7.org/fhir fhir.xsd\"><active value=\"true\"/></Patient>"
        let o = try XMLTestSupport.reader.read(Array(xml.utf8)).object
        #expect(o.names == ["resourceType", "active"])
    }

    @Test func rootMustBeAFHIRResource() {
        #expect(XMLTestSupport.failure(Array("<Patient/>".utf8))?.code == .notAResource)
        #expect(XMLTestSupport.failure(Array("<Patient xmlns=\"urn:x\"/>".utf8))?.code == .notAResource)
        #expect(XMLTestSupport.failure(Array("<HumanName xmlns=\"http://hl7.org/fhir\"/>".utf8))?.code == .unknownResourceType)
        #expect(XMLTestSupport.failure(Array("<Foo xmlns=\"http://hl7.org/fhir\"/>".utf8))?.code == .unknownResourceType)
    }

    @Test func locationsMapPointersToLinesAndColumns() throws {
        let xml = """
            <Patient xmlns="http://hl7.org/fhir">
              <name>
                <given value="A"/>
                <given id="g"><extension url="u"><valueString value="v"/></extension></given>
              </name>
              <contained><Organization><id value="o"/></Organization></contained>
            </Patient>
            """
        let (resource, locations) = try XMLTestSupport.reader.readWithLocations(Array(xml.utf8))
        #expect(resource.resourceType == "Patient")
        #expect(locations[""]?.line == 1)
        #expect(locations["/name/0"]?.line == 2)
        #expect(locations["/name/0"]?.column == 3)
        #expect(locations["/name/0/given/0"]?.line == 3)
        #expect(locations["/name/0/given/0"]?.column == 5)
        #expect(locations["/name/0/given/1"]?.line == 4)
        #expect(locations["/name/0/_given/1/extension/0"]?.line == 4)
        #expect(locations["/name/0/_given/1/extension/0"]?.column == 19)
        #expect(locations["/name/0/_given/1/extension/0/valueString"]?.line == 4)
        #expect(locations["/contained/0"]?.line == 6)
        #expect(locations["/contained/0/id"]?.line == 6)
        #expect(locations["/name/0/given/1"]?.pointer == "/name/0/given/1")
    }
}
