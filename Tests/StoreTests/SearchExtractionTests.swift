import FHIRCore
import Foundation
import RecordStore
import TestSupport
import Testing

/// Index rows read by the generated parameters' FHIRPath expressions from the official R4 examples.
@Suite("Search index extraction over the R4 examples")
struct SearchExtractionTests {
    static let examples = Repository.shared.appendingPathComponent("corpus/fhir-r4-examples")

    static func rows(_ name: String) throws -> [IndexEntry] {
        let bytes = try [UInt8](Data(contentsOf: examples.appendingPathComponent(name)))
        return SearchIndex.entries(for: try JSONReader().readTape(bytes))
    }

    static var exampleFiles: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: examples.path)) ?? []).filter { $0.hasSuffix(".json") }.sorted()
    }

    @Test func patientExample() throws {
        let rows = try Self.rows("patient-example.json")
        let names = Set(rows.filter { $0.param == "name" }.map(\.value))
        #expect(names.isSuperset(of: ["chalmers", "peter", "james", "jim", "windsor"]))
        #expect(rows.contains { $0.param == "family" && $0.value == "chalmers" && $0.text == "Chalmers" })
        #expect(rows.contains { $0.param == "identifier" && $0.value == "12345" && $0.system == "urn:oid:1.2.36.146.595.217.0.1" })
        #expect(rows.contains { $0.param == "gender" && $0.value == "male" })
        let birth = try #require(rows.first { $0.param == "birthdate" })
        #expect(birth.value == "1974-12-25")
        #expect(birth.low == SearchRange.date("1974-12-25")?.low && birth.high == SearchRange.date("1974-12-25")?.high)
        #expect(rows.contains { $0.param == "active" && $0.value == "true" })
        #expect(rows.contains { $0.param == "organization" && $0.value == "Organization/1" })
        #expect(rows.contains { $0.param == "deceased" && $0.value == "false" })
    }

    @Test func observationExample() throws {
        let rows = try Self.rows("observation-example-bmi.json")
        #expect(rows.contains { $0.param == "code" && $0.value == "39156-5" && $0.system == "http://loinc.org" && $0.text == "bmi" })
        #expect(rows.contains { $0.param == "subject" && $0.value == "Patient/example" })
        #expect(rows.contains { $0.param == "patient" && $0.value == "Patient/example" })
        #expect(rows.contains { $0.param == "status" && $0.value == "final" })
        let q = try #require(rows.first { $0.param == "value-quantity" })
        #expect(q.low == 16.2 && q.high == 16.2 && q.value == "kg/m2" && q.system == "http://unitsofmeasure.org")
        let date = try #require(rows.first { $0.param == "date" })
        #expect(date.low == SearchRange.date("1999-07-02")?.low)
    }

    /// Every example: each top-level identifier value and `subject` reference (read with Foundation's parser)
    /// is a row of the type's `identifier` / `subject` parameter, when the type has one.
    @Test(arguments: exampleFiles)
    func identifiersAndSubjectsAreIndexed(file: String) throws {
        let data = try Data(contentsOf: Self.examples.appendingPathComponent(file))
        let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let type = try #require(json["resourceType"] as? String)
        let rows = try Self.rows(file)
        let table = SearchParameterTable.r4
        if table.parameter("identifier", for: type)?.isSupported == true {
            var identifiers: [[String: Any]] = []
            if let list = json["identifier"] as? [[String: Any]] { identifiers = list }
            if let one = json["identifier"] as? [String: Any] { identifiers = [one] }
            for identifier in identifiers {
                guard let value = identifier["value"] as? String else { continue }
                #expect(rows.contains { $0.param == "identifier" && $0.value == value && $0.system == (identifier["system"] as? String ?? "") },
                        "\(file): identifier \(value)")
            }
        }
        if let p = table.parameter("subject", for: type), p.type == .reference, p.expression == "\(type).subject",
           let reference = (json["subject"] as? [String: Any])?["reference"] as? String {
            #expect(rows.contains { $0.param == "subject" && $0.value == reference }, "\(file): subject \(reference)")
        }
        // Every row names a parameter of the type (or a reference parameter's `:identifier`).
        for row in rows {
            let code = row.param.hasSuffix(":identifier") ? String(row.param.dropLast(11)) : row.param
            #expect(table.parameter(code, for: type)?.isSupported == true, "\(file): \(row.param)")
        }
    }
}
