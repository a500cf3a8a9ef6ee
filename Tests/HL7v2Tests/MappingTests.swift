import FHIRCore
import Foundation
import HL7v2
import Mapping
import Testing
import TestSupport

/// The shipped mappings (Mappings/hl7v2) on the corpus and on small messages.
@Suite struct MappingTests {
    static let mappings = Repository.root.appendingPathComponent("Mappings/hl7v2").path
    static let corpus = Repository.shared.appendingPathComponent("corpus/hl7v2")

    static func converter() throws -> HL7Converter {
        HL7Converter(mappings: try HL7MappingSet.load(directory: mappings))
    }

    static func message(_ name: String) throws -> HL7Message {
        try HL7Message.parse([UInt8](try Data(contentsOf: corpus.appendingPathComponent(name))))
    }

    static func resources(_ conversion: HL7Conversion, _ type: String) -> [FHIRObject] {
        conversion.resources.filter { $0.resourceType == type }.map(\.object)
    }

    @Test func theShippedMappingsCoverTheIssuesMessageTypes() throws {
        let set = try HL7MappingSet.load(directory: Self.mappings)
        #expect(set.messageTypes == ["ADT^A01", "ADT^A03", "ADT^A04", "ADT^A08", "ADT^A28", "ADT^A31", "MDM^T02", "ORM^O01", "ORU^R01", "SIU^S12", "VXU^V04"])
    }

    /// Every corpus message of a mapped type converts to valid FHIR (the converter validates every resource and
    /// refuses the message otherwise), except two the corpus makes bad on purpose (and two whose misnamed segment
    /// the parser refuses: CorpusTests.misnamedSegments).
    @Test func everyMappedCorpusMessageConvertsToValidFHIR() throws {
        let converter = try Self.converter()
        var converted = 0
        var resources = 0
        var refused: [String: HL7Error.Code] = [:]
        var types: [String: Int] = [:]
        for url in try CorpusTests.wellFormedFiles() {
            let message = try HL7Message.parse([UInt8](try Data(contentsOf: url)))
            do throws(HL7ConversionError) {
                let conversion = try converter.convert(message)
                converted += 1
                resources += conversion.resources.count
                for r in conversion.resources { types[r.resourceType, default: 0] += 1 }
                // Every resource is referenced by the message's Provenance.
                let provenance = Self.resources(conversion, "Provenance").first
                #expect(provenance?["target"]?.arrayValue?.count == conversion.resources.count - 1)
            } catch {
                if error.error.code == .unsupportedMessageType { continue }
                refused[url.lastPathComponent] = error.error.code
            }
        }
        #expect(converted == 84)   // 85 before cdc-iis-testencoding-m01 (WHOOPS) was refused by the parser
        #expect(resources >= 3_600)
        #expect(refused == [
            "cdc-ti-Epic_002_Epic_ORU_R01.hl7": .dataType,
            "cdc-ti-Test_Orders_006_AL_ORM_O01_NBS_Incorrect_Data_Types_0_initial_message.hl7": .dataType,
        ])
        for type in ["Patient", "Encounter", "Observation", "DiagnosticReport", "ServiceRequest", "Immunization", "Appointment",
                     "DocumentReference", "Practitioner", "Organization", "AllergyIntolerance", "Condition", "Provenance"] {
            #expect(types[type, default: 0] > 0, "no \(type) made from the corpus")
        }
    }

    @Test func anAdmissionGivesThePatientAsSent() throws {
        let conversion = try Self.converter().convert(try Self.message("msconv-ADT-A01-01.hl7"))
        let patient = try #require(Self.resources(conversion, "Patient").first)
        #expect(patient["gender"]?.stringValue == "male")
        #expect(patient["birthDate"]?.stringValue == "1988-08-18")
        let name = try #require(patient["name"]?.arrayValue?.first?.objectValue)
        #expect(name["family"]?.stringValue == "EVERYMAN")
        #expect(name["given"]?.arrayValue?.compactMap(\.stringValue) == ["ADAM", "A"])
        #expect(name["prefix"]?.arrayValue?.first?.stringValue == "Dr.")
        let identifiers = patient["identifier"]?.arrayValue?.compactMap(\.objectValue) ?? []
        let ssn = try #require(identifiers.first { $0["value"]?.stringValue == "123456789" })
        #expect(ssn["system"]?.stringValue == "http://hl7.org/fhir/sid/us-ssn")
        let encounter = try #require(Self.resources(conversion, "Encounter").first)
        #expect(encounter["status"]?.stringValue == "in-progress")
        #expect(encounter["subject"]?.objectValue?["reference"]?.stringValue == "Patient/\(patient["id"]?.stringValue ?? "")")
        #expect(Self.resources(conversion, "AllergyIntolerance").count == 1)
        // The Bundle PUTs each resource under its id.
        let entries = conversion.bundle.objectValue?["entry"]?.arrayValue ?? []
        #expect(entries.count == conversion.resources.count)
        for entry in entries {
            let object = try #require(entry.objectValue)
            let resource = try #require(object["resource"]?.objectValue)
            let url = object["request"]?.objectValue?["url"]?.stringValue
            #expect(url == "\(resource["resourceType"]?.stringValue ?? "")/\(resource["id"]?.stringValue ?? "")")
        }
    }

    /// Ids are a hash of the sending facility and business identifiers: the same message gives the same Bundle,
    /// and an update (A08) of the same patient from the same facility lands on the same Patient.
    @Test func idsAreDeterministic() throws {
        let converter = try Self.converter()
        let message = try Self.message("msconv-ADT-A01-01.hl7")
        let a = try converter.convert(message)
        let b = try converter.convert(message)
        #expect(JSONWriter(style: .compact).write(a.bundle) == JSONWriter(style: .compact).write(b.bundle))
        let text = String(decoding: message.encoded(), as: UTF8.self)
        let update = try HL7Message.parse(Array(text.replacingOccurrences(of: "ADT^A01^ADT_A01|MSG00001", with: "ADT^A08^ADT_A01|MSG00002").utf8))
        let c = try converter.convert(update)
        #expect(Self.resources(a, "Patient").first?["id"] == Self.resources(c, "Patient").first?["id"])
        #expect(Self.resources(a, "Provenance").first?["id"] != Self.resources(c, "Provenance").first?["id"])
        // Another facility's patient with the same MRN is another resource.
        let elsewhere = try HL7Message.parse(Array(text.replacingOccurrences(of: "|GHHSFacility^", with: "|OtherFacility^").utf8))
        #expect(Self.resources(a, "Patient").first?["id"] != Self.resources(try converter.convert(elsewhere), "Patient").first?["id"])
    }

    @Test func resultsHangFromTheirReport() throws {
        let conversion = try Self.converter().convert(try Self.message("hl7v2fhir-R01-Lab-Panel-Various-Blood-Tests-v2.3.1.hl7"))
        let reports = Self.resources(conversion, "DiagnosticReport")
        let observations = Self.resources(conversion, "Observation")
        #expect(!reports.isEmpty)
        let referenced = Set(reports.flatMap { $0["result"]?.arrayValue ?? [] }.compactMap { $0.objectValue?["reference"]?.stringValue })
        #expect(referenced == Set(observations.compactMap { "Observation/\($0["id"]?.stringValue ?? "")" }))
        let quantities = observations.compactMap { $0["valueQuantity"]?.objectValue }
        #expect(!quantities.isEmpty)
        #expect(quantities.allSatisfy { $0["value"] != nil })
    }

    @Test func badContentIsRefusedWithWhereItIs() throws {
        let converter = try Self.converter()
        let folder = Self.corpus.appendingPathComponent("malformed")
        func refusal(_ name: String) throws -> HL7ConversionError? {
            let message = try HL7Message.parse([UInt8](try Data(contentsOf: folder.appendingPathComponent(name))))
            return #expect(throws: HL7ConversionError.self) { try converter.convert(message) }
        }
        let notNumeric = try #require(try refusal("cdc-ti-orm_obx-5_is_not_a_numeric_value.hl7"))
        #expect(notNumeric.error.code == .dataType)
        #expect(notNumeric.error.location?.segment == "OBX")
        #expect(notNumeric.error.location?.field == 5)
        #expect(notNumeric.error.acknowledgmentCode == .error)
        #expect(notNumeric.outcome.issues.first?.isError == true)
        let noControlId = try #require(try refusal("cdc-ti-msh_present_but_missing_msh-10.hl7"))
        #expect(noControlId.error.code == .requiredFieldMissing)
        let onlyHeader = try #require(try refusal("cdc-ti-msh_present_but_missing_msh-6.hl7"))
        #expect(onlyHeader.error.code == .segmentSequence)
        let unsupported = try HL7Message.parse(Array("MSH|^~\\&|A|B|||20240101||ADT^A17|1|P|2.5\rEVN|A17\r".utf8))
        let error = #expect(throws: HL7ConversionError.self) { try converter.convert(unsupported) }
        #expect(error?.error.code == .unsupportedMessageType)
        #expect(error?.error.acknowledgmentCode == .reject)
    }

    /// Times without a zone (settings.yaml sets none) keep only their date, with a warning: one per value when a
    /// message has up to three, else one for all of them that counts them and names the first three.
    @Test func timesWithoutZoneAreWarnedOncePerKind() throws {
        func oru(results: Int) -> HL7Message? {
            var text = "MSH|^~\\&|LAB|SITE|CL|CL|20240102030405-0500||ORU^R01^ORU_R01|T\(results)|P|2.5.1\r" +
                "PID|1||MRN7^^^SITE^MR||Doe^Jane||19800102|F\r" +
                "OBR|1|P1|F1|2345-7^Glucose^LN|||20240102030405-0500\r"
            for k in 1...results { text += "OBX|\(k)|NM|2345-7^Glucose^LN||\(90 + k)|mg/dL|||||F|||2024010203040\(k % 10)\r" }
            return try? HL7Message.parse(Array(text.utf8))
        }
        let converter = try Self.converter()
        func zoneWarnings(_ message: HL7Message?) throws -> [String] {
            let message = try #require(message)
            return try converter.convert(message).warnings.map(\.diagnostics).filter { $0.contains("no time zone") }
        }
        let few = try zoneWarnings(oru(results: 2))
        #expect(few.count == 2, "\(few)")
        #expect(few.allSatisfy { $0.contains("has a time of day but no time zone") && $0.contains("only its date is kept") })
        #expect(few.contains { $0.hasPrefix("OBX-14 (segment 4, line 4): 20240102030401 has") }, "\(few)")
        let many = try zoneWarnings(oru(results: 6))
        #expect(many.count == 1, "\(many)")
        #expect(many.first?.hasPrefix("6 values have a time of day but no time zone") == true, "\(many)")
        #expect(many.first?.hasSuffix("; and 3 more") == true, "\(many)")
    }

    static let zMessage = "MSH|^~\\&|APP|SITE|CL|CL|20240102030405-0500||ADT^A04^ADT_A01|Z1|P|2.5.1\r" +
        "PID|1||MRN7^^^SITE^MR||Doe^Jane||19800102|F\r" +
        "ZPI|1|Prefers morning appointments|VIP\r"

    /// Z-segments: unmapped, a warning names them; a rule added in YAML (the worked example of
    /// Mappings/README.md) maps them without code.
    @Test func aSitesZSegmentIsWarnedAboutThenMappedByAddingARule() throws {
        let message = try HL7Message.parse(Array(Self.zMessage.utf8))
        let before = try Self.converter().convert(message)
        #expect(before.warnings.contains { $0.diagnostics.contains("ZPI (segment 3, line 3) is not mapped") })

        let copy = try Repository.temporaryDirectory("mappings")
        defer { try? FileManager.default.removeItem(at: copy) }
        let target = copy.appendingPathComponent("hl7v2")
        try FileManager.default.copyItem(atPath: Self.mappings, toPath: target.path)
        let patientFile = target.appendingPathComponent("resources/Patient.yaml")
        var patient = try String(contentsOf: patientFile, encoding: .utf8)
        patient += """
              - path: extension[url=http://example.org/fhir/StructureDefinition/scheduling-preference].valueString
                from: ZPI-2
              - path: meta.tag
                from: ZPI-3
                table: site-flags

            """
        try patient.write(to: patientFile, atomically: true, encoding: .utf8)
        try """
            site-flags:
              VIP: {system: "http://example.org/fhir/CodeSystem/site-flags", code: vip, display: Very important patient}

            """.write(to: target.appendingPathComponent("tables/site.yaml"), atomically: true, encoding: .utf8)
        let after = try HL7Converter(mappings: try HL7MappingSet.load(directory: target.path)).convert(message)
        // Only ZPI-1, its set id, is left unmapped.
        #expect(after.warnings.map(\.diagnostics).filter { $0.contains("ZPI") } == ["ZPI (segment 3, line 3): field 1 is not mapped"])
        let mapped = try #require(Self.resources(after, "Patient").first)
        let ext = mapped["extension"]?.arrayValue?.first?.objectValue
        #expect(ext?["url"]?.stringValue == "http://example.org/fhir/StructureDefinition/scheduling-preference")
        #expect(ext?["valueString"]?.stringValue == "Prefers morning appointments")
        #expect(mapped["meta"]?.objectValue?["tag"]?.arrayValue?.first?.objectValue?["code"]?.stringValue == "vip")
        // The time without a zone is dated only, with a warning, unless settings give a zone.
        #expect(Self.resources(after, "Provenance").first?["recorded"]?.stringValue == "2024-01-02T03:04:05-05:00")
    }

    @Test func mistakesInMappingFilesNameTheFileAndLine() throws {
        func load(template: String) -> MappingError? {
            #expect(throws: MappingError.self) {
                try HL7MappingSet.parse(messages: [("messages/X.yaml", "messages: [ADT^A01]\nstructure: [MSH, PID]\nresources:\n  - {template: P, for: PID}\n")],
                                        resources: [("resources/P.yaml", template)], tables: [], settings: nil)
            }
        }
        let typo = load(template: "resourceType: Patient\nrules:\n  - {path: gender, form: PID-8}\n")
        #expect(typo?.file == "resources/P.yaml")
        #expect(typo?.line == 3)
        #expect(typo?.reason.contains("no key \"form\"") == true)
        let badPath = load(template: "resourceType: Patient\nrules:\n  - {path: gendre, from: PID-8}\n")
        #expect(badPath?.reason.contains("Patient has no element gendre") == true)
        let badTable = load(template: "resourceType: Patient\nrules:\n  - {path: gender, from: PID-8, table: nope}\n")
        #expect(badTable?.reason.contains("no vocabulary table named nope") == true)
        let badType = load(template: "resourceType: Patiant\nrules: []\n")
        #expect(badType?.reason.contains("not a FHIR R4 resource type") == true)
        let badHL7 = load(template: "resourceType: Patient\nrules:\n  - {path: gender, from: PID8}\n")
        #expect(badHL7?.line == 3)
        let badCondition = load(template: "resourceType: Patient\nrules:\n  - {path: gender, from: PID-8, when: \"PID-8 looks odd\"}\n")
        #expect(badCondition?.reason.contains("is not one of") == true)
    }
}
