import Foundation
@testable import FHIRCore
import TestSupport
import Testing

/// The byte reading of reference strings (``ReferenceBytes``, the import's fast path) gives what the Character
/// rules give, for every reference in the corpus and for the awkward forms around `/` and `_history`.
@Suite("Reference strings read as bytes")
struct ReferenceBytesTests {
    /// Hand-picked forms: versioned, absolute, empty segments, ids at and past 64 characters, bytes outside the
    /// id alphabet, lower-case and non-letter types, and non-ASCII strings (the Character rules answer those).
    static let awkward: [String] = [
        "Patient/7", "Patient/7/_history/2", "https://host/fhir/Patient/7", "https://host/fhir/Patient/7/_history/3",
        "Patient/", "/Patient/7", "Patient//7", "/7", "7", "", "/", "//", "Patient/7/", "_history/1",
        "Patient/_history/1", "a/Patient/7/_history/1", "x/_history/1/2", "Patient/a_b", "Patient/a.b-C9",
        "Patient/" + String(repeating: "a", count: 64), "Patient/" + String(repeating: "a", count: 65),
        "patient/7", "Patient2/7", "Observation/1", "#contained", "urn:uuid:0f4c3b2a-1d2e-4f5a-8b9c-0d1e2f3a4b5c",
        "Patient/7 ", "Patient/é", "Pätient/7", "Patient/7\u{301}", "Patient\u{301}/7", "Patient/\r\n", "Obs/\u{0}",
    ]

    /// Every `"reference"` string of the R4 examples and the Synthea export.
    static func corpusReferences() throws -> [String] {
        var found = Set<String>()
        let root = Repository.shared.appendingPathComponent("corpus")
        for folder in ["fhir-r4-examples", "synthea/bulk-ndjson", "synthea/bundles"] {
            let dir = root.appendingPathComponent(folder)
            for name in try FileManager.default.contentsOfDirectory(atPath: dir.path) where name.hasSuffix("json") {
                let text = try String(contentsOf: dir.appendingPathComponent(name), encoding: .utf8)
                var rest = text[...]
                while let r = rest.range(of: "\"reference\"") {
                    rest = rest[r.upperBound...]
                    guard let open = rest.firstIndex(of: "\""), let close = rest[rest.index(after: open)...].firstIndex(of: "\"") else { break }
                    found.insert(String(rest[rest.index(after: open)..<close]))
                    rest = rest[close...]
                }
            }
        }
        return found.sorted()
    }

    @Test func corpusReferencesAreRead() throws {
        let references = try Self.corpusReferences()
        #expect(references.count > 1_000)
        var patients = 0
        for r in references {
            #expect(FHIRPathEvaluator.referencedType(r) == FHIRPathEvaluator.referencedTypeByCharacters(r), "\(r)")
            #expect(PatientCompartment.patientReference(r) == PatientCompartment.patientReferenceByCharacters(r), "\(r)")
            if PatientCompartment.patientReference(r) != nil { patients += 1 }
        }
        #expect(patients > 0)
    }

    @Test(arguments: awkward)
    func awkwardFormsAgree(reference: String) {
        #expect(FHIRPathEvaluator.referencedType(reference) == FHIRPathEvaluator.referencedTypeByCharacters(reference))
        #expect(PatientCompartment.patientReference(reference) == PatientCompartment.patientReferenceByCharacters(reference))
    }

    @Test func knownAnswers() {
        #expect(FHIRPathEvaluator.referencedType("https://host/fhir/Patient/7/_history/3") == "Patient")
        #expect(FHIRPathEvaluator.referencedType("patient/7") == nil)
        #expect(FHIRPathEvaluator.referencedType("#contained") == nil)
        #expect(PatientCompartment.patientReference("https://host/fhir/Patient/7/_history/3") == "Patient/7")
        #expect(PatientCompartment.patientReference("Patient/a_b") == nil)
        #expect(PatientCompartment.patientReference("Patient/" + String(repeating: "a", count: 65)) == nil)
        #expect(PatientCompartment.patientReference("Observation/1") == nil)
    }
}
