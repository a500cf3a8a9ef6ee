import Foundation
import Testing
@testable import FHIRCore

@Suite("FHIR R4 type table")
struct TypeTableTests {
    let table = TypeTable.r4

    /// The concrete resource types of the definitions, counted independently of the generator.
    @Test func resourceTypesMatchTheDefinitions() throws {
        let url = Corpus.shared.appendingPathComponent("fhir-r4-definitions/profiles-resources.json")
        let bundle = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any]
        let entries = try #require(bundle?["entry"] as? [[String: Any]])
        let concrete = entries.compactMap { $0["resource"] as? [String: Any] }
            .filter { $0["kind"] as? String == "resource" && $0["abstract"] as? Bool != true }
            .compactMap { $0["id"] as? String }
        #expect(concrete.count == 146)
        #expect(table.resourceTypeNames == concrete.sorted())
        #expect(!table.isResourceType("Resource") && !table.isResourceType("DomainResource"))
        #expect(table.type("DomainResource")?.isAbstract == true)
    }

    @Test func patientElementsInDefinitionOrder() throws {
        let patient = try #require(table.type("Patient"))
        #expect(patient.kind == .resource)
        #expect(patient.elements.map(\.name) == [
            "id", "meta", "implicitRules", "language", "text", "contained", "extension", "modifierExtension",
            "identifier", "active", "name", "telecom", "gender", "birthDate", "deceased", "address", "maritalStatus",
            "multipleBirth", "photo", "contact", "communication", "generalPractitioner", "managingOrganization", "link",
        ])
        let name = try #require(patient.element(named: "name"))
        #expect(name.element.isArray && name.type == "HumanName" && name.element.min == 0 && name.element.max == nil)
        #expect(patient.element(named: "gender")?.element.isArray == false)
        #expect(patient.element(named: "id")?.type == "id")
        #expect(patient.element(named: "contact")?.type == "Patient.contact")
        #expect(table.type("Patient.contact")?.kind == .backbone)
        #expect(table.type("Patient.link")?.elements.first { $0.name == "other" }?.min == 1)
    }

    @Test func choiceElements() throws {
        let patient = try #require(table.type("Patient"))
        let deceased = try #require(patient.element(named: "deceasedDateTime"))
        #expect(deceased.element.isChoice && deceased.element.name == "deceased" && deceased.type == "dateTime")
        #expect(deceased.element.types == ["boolean", "dateTime"])
        #expect(patient.element(named: "deceased") == nil)
        #expect(patient.element(named: "deceasedString") == nil)
        let observation = try #require(table.type("Observation"))
        #expect(observation.element(named: "valueCodeableConcept")?.type == "CodeableConcept")
        #expect(observation.element(named: "effectiveInstant")?.type == "instant")
        let ext = try #require(table.type("Extension"))
        #expect(ext.elements.first { $0.name == "value" }?.types.count == 50)
    }

    @Test func xmlRepresentations() throws {
        #expect(table.type("Extension")?.element(named: "url")?.element.representation == .xmlAttribute)
        #expect(table.type("Extension")?.element(named: "url")?.type == "uri")
        #expect(table.type("HumanName")?.element(named: "id")?.element.representation == .xmlAttribute)
        #expect(table.type("Patient")?.element(named: "id")?.element.representation == .element)
        let div = try #require(table.type("Narrative")?.element(named: "div"))
        #expect(div.element.representation == .xhtml && div.type == "xhtml" && div.element.min == 1)
    }

    @Test func contentReferencesPointAtTheirBackbone() throws {
        let item = try #require(table.type("Questionnaire.item"))
        #expect(item.element(named: "item")?.type == "Questionnaire.item")
        #expect(item.element(named: "linkId")?.element.min == 1)
        #expect(table.type("QuestionnaireResponse.item")?.element(named: "item")?.type == "QuestionnaireResponse.item")
        #expect(table.type("Bundle.entry")?.element(named: "resource")?.type == "Resource")
    }

    @Test func everyReferencedTypeExists() {
        var missing: Set<String> = []
        for name in table.typeNames {
            for element in table.type(name)?.elements ?? [] {
                for type in element.types where table.type(type) == nil {
                    missing.insert("\(name).\(element.name): \(type)")
                }
            }
        }
        #expect(missing.isEmpty, "\(missing.sorted())")
    }

    @Test func primitives() throws {
        #expect(table.type("boolean")?.jsonKind == .bool)
        for number in ["decimal", "integer", "positiveInt", "unsignedInt"] {
            #expect(table.type(number)?.jsonKind == .number, "\(number)")
        }
        for string in ["string", "code", "id", "uri", "date", "dateTime", "instant", "base64Binary"] {
            #expect(table.type(string)?.jsonKind == .string, "\(string)")
            #expect(table.type(string)?.kind == .primitive, "\(string)")
        }
        #expect(table.type("id")?.pattern == #"[A-Za-z0-9\-\.]{1,64}"#)
    }

    /// The hand-written lexical rules agree with the specification's own regular expressions (from the table) on
    /// every sample, except where FHIR's prose adds a rule the pattern lacks (listed with the reason).
    @Test func handWrittenRulesAgreeWithTheSpecificationPatterns() throws {
        let samples: [String: [String]] = [
            "date": ["2021", "2021-03", "2021-03-04", "0001", "0000", "2021-3-04", "2021-13", "2021-02-30", "2020-02-29",
                     "2021-03-04T10:00:00Z", "20210304", "2021-00-01", "2021-01-32"],
            "dateTime": ["2021", "2021-03-04T10:11:12Z", "2021-03-04T10:11:12.123+05:30", "2021-03-04T10:11:12",
                         "2021-03-04T24:00:00Z", "2021-03-04T23:59:60-14:00", "2021-03-04T10:11Z", "2021-03-04T10:11:12+14:01",
                         "2021-03-04T10:11:12.Z", "2021-03-04T10:11:12+13:59", "2021-04-31"],
            "instant": ["2021-03-04T10:11:12Z", "2021-03-04T10:11:12.5+01:00", "2021-03-04", "2021-03-04T10:11:12"],
            "time": ["10:11:12", "23:59:60", "24:00:00", "10:11", "10:11:12.123", "10:11:12Z"],
            "id": ["a", "A-b.9", String(repeating: "x", count: 64), String(repeating: "x", count: 65), "a b", "a_b", ""],
            "code": ["a", "a b", " a", "a ", "a  b", "a\tb", ""],
            "uri": ["http://x", "urn:a:b", "a b", "x\ty"],
            "oid": ["urn:oid:1.2.3", "urn:oid:3.2", "urn:oid:1", "urn:oid:1.02", "urn:oid:2.0.1", "oid:1.2"],
            "uuid": ["urn:uuid:0f3a5c1e-1b2c-4d5e-8f90-a1b2c3d4e5f6", "urn:uuid:0F3A5C1E-1B2C-4D5E-8F90-A1B2C3D4E5F6",
                     "urn:uuid:0f3a5c1e1b2c4d5e8f90a1b2c3d4e5f6", "0f3a5c1e-1b2c-4d5e-8f90-a1b2c3d4e5f6"],
            "base64Binary": ["aGVsbG8=", "aGVs bG8=", "aGVsbG8", "a$==", "QQ=="],
            "string": ["x", " ", "a\nb", "tab\there"],
        ]
        // The patterns accept impossible calendar days; FHIR's prose requires real dates.
        let calendarOnly: Set<String> = ["2021-02-30", "2021-04-31"]
        var checked = 0
        for (type, values) in samples {
            let pattern = try #require(table.type(type)?.pattern, "\(type) has a pattern")
            let regex = try Regex("^(?:" + pattern + ")$").matchingSemantics(.unicodeScalar)
            for value in values {
                let specification = (try? regex.wholeMatch(in: value)) != nil && !value.isEmpty
                let ours = PrimitiveSyntax.problem(string: value, type: type) == nil
                if calendarOnly.contains(value) {
                    #expect(specification && !ours, "\(type) '\(value)'")
                } else {
                    #expect(specification == ours, "\(type) '\(value)': specification \(specification), ours \(ours)")
                }
                checked += 1
            }
        }
        let numbers: [String: [String]] = [
            "integer": ["0", "-0", "12", "012", "-2147483648", "2147483647", "1.0", "1e2"],
            "unsignedInt": ["0", "1", "-1", "01"],
            "positiveInt": ["1", "0", "10", "-1"],
        ]
        for (type, values) in numbers {
            let regex = try Regex("^(?:" + (try #require(table.type(type)?.pattern)) + ")$")
            for value in values {
                #expect(((try? regex.wholeMatch(in: value)) != nil) == (PrimitiveSyntax.problem(number: value, type: type) == nil), "\(type) \(value)")
                checked += 1
            }
        }
        #expect(PrimitiveSyntax.problem(number: "2147483648", type: "integer") != nil, "the prose bounds integers to 32 bits")
        print("primitive rules: \(checked) samples checked against the specification's patterns")
    }

    /// Every element points at its type by index, and the index names that very type.
    @Test func elementTypeIndexesNameTheirTypes() {
        let table = TypeTable.r4
        var checked = 0
        for name in table.typeNames {
            guard let definition = table.type(name) else { continue }
            for element in definition.elements {
                for type in element.types {
                    guard let match = definition.element(named: element.jsonName(for: type)) else { continue }
                    if let index = match.typeIndex {
                        #expect(table.definition(at: index).name == match.type, "\(name).\(element.name)")
                    } else {
                        #expect(table.type(match.type) == nil, "\(name).\(element.name): \(match.type) is in the table but has no index")
                    }
                    checked += 1
                }
            }
        }
        #expect(checked > 7000)
    }
}
