import FHIRCore
import Foundation
import Testing
import TestSupport

/// The generated Patient compartment table against the official definition it was generated from, and the
/// patients it finds in resources.
@Suite("Patient compartment (compartmentdefinition-patient.json)")
struct PatientCompartmentTests {
    static let definitionURL = Repository.shared.appendingPathComponent("fhir-r4-definitions/compartmentdefinition-patient.json")
    static var definitionPresent: Bool { FileManager.default.fileExists(atPath: definitionURL.path) }

    /// type → params, as the definition lists them (types without params left out).
    static func definition() throws -> [String: [String]] {
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: definitionURL)) as? [String: Any]
        var out: [String: [String]] = [:]
        for entry in object?["resource"] as? [[String: Any]] ?? [] {
            guard let code = entry["code"] as? String, let params = entry["param"] as? [String], !params.isEmpty else { continue }
            out[code] = params
        }
        return out
    }

    static func resource(_ json: String) throws -> Resource {
        try FHIRDocument.read(Array(json.utf8)).resource
    }

    @Test(.enabled(if: definitionPresent, "needs ../shared/fhir-r4-definitions"))
    func theTableHasEveryTypeAndParameterOfTheDefinition() throws {
        let definition = try Self.definition()
        #expect(definition.count == 66)
        #expect(PatientCompartment.types == definition.keys.sorted())
        for (type, params) in definition {
            #expect(PatientCompartment.members(of: type).map(\.param) == params, "\(type)")
        }
        #expect(PatientCompartment.typesOutside.count == 79)
        #expect(PatientCompartment.typesOutside.isDisjoint(with: definition.keys))
        for type in ["Organization", "Practitioner", "Medication", "Location", "Device"] {
            #expect(PatientCompartment.typesOutside.contains(type) && !PatientCompartment.contains(type: type), "\(type)")
        }
    }

    @Test func knownTypesResolveToTheirElementPaths() {
        #expect(PatientCompartment.members(of: "Observation") == [
            .init(param: "subject", paths: ["subject"]), .init(param: "performer", paths: ["performer"]),
        ])
        #expect(PatientCompartment.members(of: "AuditEvent") == [.init(param: "patient", paths: ["agent.who", "entity.what"])])
        #expect(PatientCompartment.members(of: "Appointment") == [.init(param: "actor", paths: ["participant.actor"])])
        #expect(PatientCompartment.members(of: "Patient") == [.init(param: "link", paths: ["link.other"])])
        #expect(PatientCompartment.members(of: "Organization").isEmpty)
    }

    @Test func thePatientsOfAResource() throws {
        let observation = try Self.resource("""
            {"resourceType": "Observation", "id": "o1", "status": "final", "code": {"text": "x"},
             "subject": {"reference": "Patient/p1"}, "performer": [{"reference": "Practitioner/d1"}, {"reference": "https://h.example/fhir/Patient/p2/_history/3"}]}
            """)
        #expect(PatientCompartment.patients(of: observation) == ["Patient/p1", "Patient/p2"])
        let patient = try Self.resource(#"{"resourceType": "Patient", "id": "p1", "link": [{"other": {"reference": "Patient/p9"}, "type": "seealso"}]}"#)
        #expect(PatientCompartment.patients(of: patient) == ["Patient/p1", "Patient/p9"])
        let appointment = try Self.resource("""
            {"resourceType": "Appointment", "id": "a", "status": "booked",
             "participant": [{"actor": {"reference": "Patient/p3"}, "status": "accepted"}, {"actor": {"reference": "Location/l"}, "status": "accepted"},
                             {"actor": {"reference": "Patient/p3"}, "status": "accepted"}]}
            """)
        #expect(PatientCompartment.patients(of: appointment) == ["Patient/p3"])
        let organization = try Self.resource(#"{"resourceType": "Organization", "id": "org", "partOf": {"reference": "Patient/p1"}}"#)
        #expect(PatientCompartment.patients(of: organization).isEmpty)
        let group = try Self.resource(#"{"resourceType": "Group", "id": "g", "type": "person", "actual": true}"#)
        #expect(PatientCompartment.patients(of: group).isEmpty)
    }

    @Test func onlyReferencesToAPatientCount() {
        #expect(PatientCompartment.patientReference("Patient/a-1.b") == "Patient/a-1.b")
        #expect(PatientCompartment.patientReference("http://x.org/fhir/Patient/7/_history/2") == "Patient/7")
        #expect(PatientCompartment.patientReference("Group/7") == nil)
        #expect(PatientCompartment.patientReference("#contained") == nil)
        #expect(PatientCompartment.patientReference("urn:uuid:0d3f") == nil)
        #expect(PatientCompartment.patientReference("Patient/") == nil)
        #expect(PatientCompartment.patientReference("Patient/has space") == nil)
    }

    static let examples = Repository.shared.appendingPathComponent("corpus/fhir-r4-examples")
    static var exampleFiles: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: examples.path)) ?? []).filter { $0.hasSuffix(".json") }.sorted()
    }

    /// The store reads a resource's compartment from its tape, the gateway from its tree: they must agree, on
    /// every official R4 example.
    @Test(.enabled(if: !exampleFiles.isEmpty, "needs ../shared/corpus/fhir-r4-examples"))
    func tapeAndTreeFindTheSamePatientsInEveryOfficialExample() throws {
        var inSomeCompartment = 0
        for file in Self.exampleFiles {
            let bytes = Array(try Data(contentsOf: Self.examples.appendingPathComponent(file)))
            guard let resource = try? FHIRDocument.read(bytes).resource else { continue }
            let tree = PatientCompartment.patients(of: resource)
            #expect(PatientCompartment.patients(of: JSONTape(resource)) == tree, "\(file)")
            if !tree.isEmpty { inSomeCompartment += 1 }
            if !PatientCompartment.contains(type: resource.resourceType) { #expect(tree.isEmpty, "\(file)") }
        }
        #expect(inSomeCompartment > 50, "\(inSomeCompartment) examples in a patient's compartment")
        let observation = try FHIRDocument.read(Array(try Data(contentsOf: Self.examples.appendingPathComponent("observation-example-bgpanel.json")))).resource
        #expect(PatientCompartment.patients(of: observation) == ["Patient/infant"])
    }

    static var python3: String? {
        ["/usr/bin/python3", "/usr/local/bin/python3"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// The committed table is what the generator makes of the definitions.
    @Test(.enabled(if: python3 != nil && definitionPresent, "needs python3 and ../shared/fhir-r4-definitions"))
    func theGeneratedTableIsCurrent() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try #require(Self.python3))
        process.arguments = [Repository.root.appendingPathComponent("scripts/generate-compartment.py").path, "--check"]
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "run python3 scripts/generate-compartment.py")
    }
}
