import Foundation
import Testing
@testable import FHIRCore

@Suite("Structural validation")
struct ValidatorTests {
    let validator = Validator()

    func issues(_ json: String) throws -> [OperationOutcome.Issue] {
        try validator.validate(JSONReader().read(Array(json.utf8)))
    }

    /// Exactly one issue, with this code, JSON pointer and expression.
    func expectOne(_ json: String, code: String, pointer: String, expression: String, containing text: String? = nil,
                   sourceLocation: Testing.SourceLocation = #_sourceLocation) throws {
        let found = try issues(json)
        #expect(found.count == 1, "\(found.map(\.diagnostics))", sourceLocation: sourceLocation)
        guard let issue = found.first else { return }
        #expect(issue.severity == "error", sourceLocation: sourceLocation)
        #expect(issue.code == code, "\(issue.diagnostics)", sourceLocation: sourceLocation)
        #expect(issue.location == [pointer], sourceLocation: sourceLocation)
        #expect(issue.expression == [expression], sourceLocation: sourceLocation)
        if let text {
            #expect(issue.diagnostics.contains(text), "\(issue.diagnostics)", sourceLocation: sourceLocation)
        }
    }

    // MARK: Real data is valid

    @Test func everyOfficialJSONExampleIsValid() throws {
        var valid = 0
        var failures: [String] = []
        let names = Corpus.files(in: Corpus.fhirExamples, ext: "json")
        for name in names {
            let resource = try JSONReader().read(Corpus.bytes(Corpus.fhirExamples.appendingPathComponent(name)))
            let found = validator.validate(resource)
            if found.isEmpty { valid += 1 } else { failures.append("\(name): \(found.prefix(3).map { "\($0.expression.first ?? "") \($0.diagnostics)" })") }
        }
        print("validator: \(valid) of \(names.count) official JSON examples valid")
        #expect(names.count == 250)
        #expect(failures.isEmpty, "\(failures.prefix(10))")
    }

    @Test func everyOfficialXMLExampleIsValid() throws {
        var valid = 0
        var failures: [String] = []
        let names = Corpus.files(in: Corpus.fhirExamples, ext: "xml")
        for name in names {
            let resource = try XMLReader().read(Corpus.bytes(Corpus.fhirExamples.appendingPathComponent(name)))
            let found = validator.validate(resource)
            if found.isEmpty { valid += 1 } else { failures.append("\(name): \(found.prefix(3).map(\.diagnostics))") }
        }
        print("validator: \(valid) of \(names.count) official XML examples valid")
        #expect(failures.isEmpty, "\(failures.prefix(10))")
    }

    @Test func everySyntheaBundleIsValid() throws {
        let names = Corpus.files(in: Corpus.syntheaBundles, ext: "json")
        #expect(!names.isEmpty)
        for name in names {
            let resource = try JSONReader().read(Corpus.bytes(Corpus.syntheaBundles.appendingPathComponent(name)))
            let found = validator.validate(resource)
            #expect(found.isEmpty, "\(name): \(found.prefix(5).map { "\($0.location) \($0.diagnostics)" })")
        }
    }

    /// The importer validates the tape it parsed; everything else validates a tree (through its tape). Both must
    /// find the same issues, in the same order, on valid documents and on each broken copy the oracle suite makes.
    @Test func parsedTapeAndTreeGiveTheSameIssues() throws {
        var compared = 0
        var invalid = 0
        for name in Corpus.files(in: Corpus.fhirExamples, ext: "json") {
            let value = try JSONReader().readValue(Corpus.bytes(Corpus.fhirExamples.appendingPathComponent(name)))
            guard case .object(let root) = value else { continue }
            for c in ValidatorOracleTests.mutations(of: root, name: name) {
                let text = JSONWriter(style: .compact).write(c.resource)
                let fromTape = validator.validate(try JSONReader().readTape(text))
                let fromTree = validator.validate(try JSONReader().read(text))
                #expect(fromTape == fromTree, "\(c.name)")
                compared += 1
                if !fromTape.isEmpty { invalid += 1 }
            }
        }
        print("validator: parsed tape and tree agree on \(compared) documents, \(invalid) of them invalid")
        #expect(compared > 900 && invalid > 600)
    }

    // MARK: Resource types and elements

    @Test func unknownResourceType() throws {
        try expectOne(#"{"resourceType":"Patientt"}"#, code: "structure", pointer: "/resourceType", expression: "resourceType", containing: "Patientt")
        try expectOne(#"{"resourceType":"DomainResource"}"#, code: "structure", pointer: "/resourceType", expression: "resourceType", containing: "not a FHIR R4 resource type")
    }

    @Test func unknownElementIsNamedWithItsPlace() throws {
        try expectOne(#"{"resourceType":"Patient","name":[{"family":"Chalmers","nickname":"Jim"}]}"#,
                      code: "structure", pointer: "/name/0/nickname", expression: "Patient.name[0].nickname", containing: "HumanName")
        try expectOne(#"{"resourceType":"Patient","contact":[{"relationship":[{"text":"x"}],"colour":"red"}]}"#,
                      code: "structure", pointer: "/contact/0/colour", expression: "Patient.contact[0].colour", containing: "Patient.contact")
    }

    // MARK: Primitives

    @Test func wrongJSONKinds() throws {
        try expectOne(#"{"resourceType":"Patient","active":"true"}"#, code: "structure", pointer: "/active", expression: "Patient.active", containing: "boolean")
        try expectOne(#"{"resourceType":"Patient","gender":1}"#, code: "structure", pointer: "/gender", expression: "Patient.gender")
        try expectOne(#"{"resourceType":"Patient","multipleBirthInteger":"2"}"#, code: "structure", pointer: "/multipleBirthInteger", expression: "Patient.multipleBirthInteger", containing: "JSON number")
    }

    @Test(arguments: [
        ("birthDate", #""2021-13-01""#, "date"),
        ("birthDate", #""2021-02-29""#, "date"),  // not a leap year
        ("birthDate", #""21-01-01""#, "date"),
        ("birthDate", #""2021-01-01T10:00:00Z""#, "date"),
        ("deceasedDateTime", #""2021-01-01T10:00:00""#, "dateTime"),  // a time needs a zone
        ("deceasedDateTime", #""2021-01-01T24:00:00Z""#, "dateTime"),
        ("deceasedDateTime", #""2021-01-01T10:00:00+15:00""#, "dateTime"),
        ("id", #""has spaces""#, "id"),
        ("id", "\"\(String(repeating: "a", count: 65))\"", "id"),
        ("gender", #"" male""#, "code"),
        ("gender", #""ma  le""#, "code"),
        ("implicitRules", #""http://x y""#, "uri"),
        ("language", #""""#, "code"),
        ("multipleBirthInteger", "2147483648", "integer"),
        ("multipleBirthInteger", "1.0", "integer"),
        ("multipleBirthInteger", "1e3", "integer"),
    ])
    func invalidPrimitiveLexicalForms(element: String, json: String, type: String) throws {
        try expectOne(#"{"resourceType":"Patient","\#(element)":\#(json)}"#, code: "value", pointer: "/\(element)",
                      expression: "Patient.\(element)", containing: type)
    }

    @Test func validPrimitiveEdgeCases() throws {
        let ok = try issues(#"""
            {"resourceType":"Patient","id":"a.B-9","birthDate":"2020-02-29","deceasedDateTime":"2021-01-01T23:59:60.123+14:00",
             "multipleBirthInteger":-2147483648,"name":[{"given":["Ann\tMarie"]}],
             "photo":[{"data":"aGVs bG8=","contentType":"image/png"}],
             "identifier":[{"system":"urn:oid:2.16.840.1","value":"1"},{"system":"urn:uuid:0f3a5c1e-1b2c-4d5e-8f90-a1b2c3d4e5f6"}]}
            """#)
        #expect(ok.isEmpty, "\(ok.map(\.diagnostics))")
    }

    @Test func controlCharactersInStrings() throws {
        try expectOne("{\"resourceType\":\"Patient\",\"name\":[{\"family\":\"A\\u0001B\"}]}", code: "value",
                      pointer: "/name/0/family", expression: "Patient.name[0].family", containing: "U+0001")
    }

    /// Found by the fhir-xml fuzz target (issue 16): a code with a form feed between its words validated, as did a
    /// uri with U+0001 or a string with U+FFFE, yet XML cannot carry them, so the valid resource had no XML form.
    /// Every string-based primitive refuses them now.
    @Test(arguments: [
        ("{\"resourceType\":\"Device\",\"text\":{\"status\":\"gene rated\\fx\",\"div\":\"<div xmlns=\\\"http://www.w3.org/1999/xhtml\\\">x</div>\"}}",
         "/text/status", "Device.text.status", "U+000C"),
        ("{\"resourceType\":\"Patient\",\"gender\":\"male\\u000bx\"}", "/gender", "Patient.gender", "U+000B"),
        ("{\"resourceType\":\"Patient\",\"implicitRules\":\"http://x\\u0001y\"}", "/implicitRules", "Patient.implicitRules", "U+0001"),
        ("{\"resourceType\":\"Patient\",\"name\":[{\"family\":\"A\\uFFFEB\"}]}", "/name/0/family", "Patient.name[0].family", "U+FFFE"),
        ("{\"resourceType\":\"Patient\",\"id\":\"p\",\"birthDate\":\"1970\\uFFFF\"}", "/birthDate", "Patient.birthDate", "U+FFFF"),
    ])
    func charactersXMLCannotCarryAreRefusedInEveryPrimitive(json: String, pointer: String, expression: String, character: String) throws {
        try expectOne(json, code: "value", pointer: pointer, expression: expression, containing: character)
    }

    @Test func numbersKeepTheirRangePerType() throws {
        try expectOne(#"{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueSampledData":{"origin":{"value":1},"period":1,"dimensions":0}}"#,
                      code: "value", pointer: "/valueSampledData/dimensions", expression: "Observation.valueSampledData.dimensions", containing: "positiveInt")
    }

    // MARK: Cardinality and arrays

    @Test func missingRequiredElements() throws {
        let found = try issues(#"{"resourceType":"Observation","valueString":"x"}"#)
        #expect(Set(found.map(\.location)) == [["/status"], ["/code"]])
        #expect(found.allSatisfy { $0.code == "required" })
        try expectOne(#"{"resourceType":"Patient","link":[{"type":"seealso"}]}"#, code: "required",
                      pointer: "/link/0/other", expression: "Patient.link[0].other", containing: "Patient.link.other")
    }

    @Test func requiredPrimitiveGivenOnlyAsExtensionsCounts() throws {
        let ok = try issues(#"""
            {"resourceType":"Observation","_status":{"extension":[{"url":"http://example.org/absent","valueCode":"unknown"}]},"code":{"text":"x"}}
            """#)
        #expect(ok.isEmpty, "\(ok.map(\.diagnostics))")
    }

    @Test func arraysExactlyWhereElementsRepeat() throws {
        try expectOne(#"{"resourceType":"Patient","name":{"family":"A"}}"#, code: "required", pointer: "/name", expression: "Patient.name", containing: "array")
        try expectOne(#"{"resourceType":"Patient","gender":["male"]}"#, code: "required", pointer: "/gender", expression: "Patient.gender", containing: "must not be an array")
        try expectOne(#"{"resourceType":"Patient","name":[]}"#, code: "value", pointer: "/name", expression: "Patient.name", containing: "empty")
        try expectOne(#"{"resourceType":"Patient","name":[{}]}"#, code: "value", pointer: "/name/0", expression: "Patient.name[0]", containing: "empty")
    }

    // MARK: Choice types

    @Test func choiceTypes() throws {
        try expectOne(#"{"resourceType":"Patient","deceasedString":"yes"}"#, code: "structure", pointer: "/deceasedString",
                      expression: "Patient.deceasedString", containing: "deceasedBoolean, deceasedDateTime")
        try expectOne(#"{"resourceType":"Patient","deceasedBoolean":true,"deceasedDateTime":"2020"}"#, code: "structure",
                      pointer: "/deceasedDateTime", expression: "Patient.deceasedDateTime", containing: "given twice")
        let ok = try issues(#"{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueQuantity":{"value":1.50,"unit":"mg"}}"#)
        #expect(ok.isEmpty)
    }

    // MARK: Primitive extensions

    @Test func underscoreTwins() throws {
        let ok = try issues(#"""
            {"resourceType":"Patient","birthDate":"1970-03-30","_birthDate":{"id":"bd","extension":[{"url":"http://example.org/t","valueDateTime":"1970-03-30T14:00:00+10:00"}]},
             "name":[{"given":["A",null,"C"],"_given":[null,{"extension":[{"url":"http://example.org/x","valueCode":"masked"}]},null]}]}
            """#)
        #expect(ok.isEmpty, "\(ok.map(\.diagnostics))")
        try expectOne(#"{"resourceType":"Patient","name":[{"given":["A",null]}]}"#, code: "value", pointer: "/name/0/given/1", expression: "Patient.name[0].given[1]", containing: "null")
        try expectOne(#"{"resourceType":"Patient","name":[{"given":["A","B"],"_given":[null]}]}"#, code: "required", pointer: "/name/0/_given", expression: "Patient.name[0].given", containing: "align")
        try expectOne(#"{"resourceType":"Patient","_name":{"id":"x"}}"#, code: "structure", pointer: "/_name", expression: "Patient.name", containing: "primitive")
        try expectOne(#"{"resourceType":"Patient","_birthDate":{"valueString":"x"}}"#, code: "structure", pointer: "/_birthDate/valueString", expression: "Patient.birthDate.valueString")
        try expectOne(#"{"resourceType":"Patient","_birthDate":"1970"}"#, code: "structure", pointer: "/_birthDate", expression: "Patient.birthDate")
    }

    // MARK: Nested resources and the narrative

    @Test func bundleEntriesAndContainedResourcesAreValidated() throws {
        try expectOne(#"{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Patient"}},{"resource":{"resourceType":"Patient","gender":true}}]}"#,
                      code: "structure", pointer: "/entry/1/resource/gender", expression: "Bundle.entry[1].resource.gender")
        try expectOne(#"{"resourceType":"Patient","contained":[{"resourceType":"Organization","name":""}]}"#,
                      code: "value", pointer: "/contained/0/name", expression: "Patient.contained[0].name")
        try expectOne(#"{"resourceType":"Patient","contained":[{"resourceType":"Nope"}]}"#,
                      code: "structure", pointer: "/contained/0/resourceType", expression: "Patient.contained[0].resourceType")
    }

    @Test func narrativeMustBeAnXHTMLDiv() throws {
        try expectOne(#"{"resourceType":"Patient","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>open</div>"}}"#,
                      code: "value", pointer: "/text/div", expression: "Patient.text.div", containing: "well-formed")
        try expectOne(#"{"resourceType":"Patient","text":{"status":"generated","div":"<p xmlns=\"http://www.w3.org/1999/xhtml\">x</p>"}}"#,
                      code: "value", pointer: "/text/div", expression: "Patient.text.div", containing: "<div>")
        try expectOne(#"{"resourceType":"Patient","text":{"status":"generated","div":"<div>no namespace</div>"}}"#,
                      code: "value", pointer: "/text/div", expression: "Patient.text.div")
    }

    @Test func pointersEscapeTildeAndSlash() throws {
        try expectOne(#"{"resourceType":"Patient","a/b~c":1}"#, code: "structure", pointer: "/a~1b~0c", expression: "Patient.a/b~c")
    }

    @Test func issuesAreBounded() throws {
        var members = [#""resourceType":"Patient""#]
        for i in 0..<3000 { members.append("\"x\(i)\":1") }
        var v = Validator()
        v.maxIssues = 100
        let found = v.validate(try JSONReader().read(Array(("{" + members.joined(separator: ",") + "}").utf8)))
        #expect(found.count == 101)
        #expect(found.last?.code == "too-costly")
    }
}
