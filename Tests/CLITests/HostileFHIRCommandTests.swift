import Foundation
import TestSupport
import Testing

/// Issue 16 items 4, 7 and 14 as an integration engineer meets them: `fhir convert`, `canonical` and `hash` refuse
/// exactly what `fhir validate` refuses, with the same OperationOutcome, and `import` stores none of it. The
/// inputs are the seed files under `Fuzz/seeds/`.
@Suite("careledger fhir and import refuse hostile FHIR")
struct HostileFHIRCommandTests {
    let cli = CLITests()

    static func seed(_ name: String) -> String {
        Repository.root.appendingPathComponent("Fuzz/seeds").appendingPathComponent(name).path
    }

    /// Inputs `fhir validate` refuses, and what the outcome must say (code and location).
    static let refused: [(seed: String, code: String, location: [String])] = [
        ("fhir-xml/empty-id.xml", "value", ["/id", "line 2, column 3"]),
        ("fhir-xml/foreign-namespace-gender.xml", "structure", ["/gender", "line 2, column 3"]),
        ("fhir-xml/empty-namespace-name.xml", "structure", ["/name", "line 2, column 3"]),
        ("fhir-xml/narrative-script.xml", "security", ["/text/div", "line 5, column 7"]),
        ("fhir-json/narrative-onclick.json", "security", ["/text/div"]),
        ("fhir-json/narrative-javascript-href-char-refs.json", "security", ["/text/div"]),
        ("fhir-json/invalid-birthdate.json", "value", ["/birthDate"]),
    ]

    @Test(arguments: refused)
    func everyFHIRCommandRefusesWhatValidateRefuses(_ seed: String, _ code: String, _ location: [String]) throws {
        let path = Self.seed(seed)
        let validate = try cli.run(["fhir", "validate", path])
        #expect(validate.status == 1)
        let issue = try #require(try cli.outcome(validate.stdout).first)
        #expect(issue["code"] as? String == code)
        #expect(issue["location"] as? [String] == location)
        for command in [["convert", "--to", "json"], ["convert", "--to", "xml"], ["canonical"], ["hash"], ["hash", "--salt", String(repeating: "ab", count: 32)]] {
            let r = try cli.run(["fhir"] + command + [path])
            #expect(r.status == 1, "fhir \(command.joined(separator: " ")) exited \(r.status): \(r.stdout)")
            #expect(r.stdout == validate.stdout, "fhir \(command.joined(separator: " ")) printed another outcome than fhir validate")
        }
    }

    @Test func anEmptyIdIsNeverConvertedToNull() throws {
        // Before issue 16: exit 0 and "id": null.
        let r = try cli.run(["fhir", "convert", Self.seed("fhir-xml/empty-id.xml"), "--to", "json"])
        #expect(r.status == 1)
        #expect(!r.stdout.contains("\"id\": null"))
    }

    @Test func validInputIsStillConvertedAndHashed() throws {
        let path = Repository.shared.appendingPathComponent("corpus/fhir-r4-examples/patient-example.xml").path
        #expect(try cli.run(["fhir", "validate", path]).status == 0)
        let json = try cli.run(["fhir", "convert", path, "--to", "json"])
        #expect(json.status == 0)
        #expect(json.stdout.contains("\"resourceType\": \"Patient\""))
        let hash = try cli.run(["fhir", "hash", path])
        #expect(hash.status == 0)
        #expect(hash.stdout.count == 65)
        #expect(try cli.run(["fhir", "hash", "-"], stdin: Data(json.stdout.utf8)).stdout == hash.stdout)
    }

    @Test func consentSubmitRefusesWhatValidateRefusesBeforeAnythingElse() throws {
        // consent submit stored a Consent whose narrative ran a script; it now reads through the validator, and
        // refuses before it looks for the node (the home does not exist) or opens a store.
        let path = Self.seed("fhir-json/consent-narrative-script.json")
        let validate = try cli.run(["fhir", "validate", path])
        let issue = try #require(try cli.outcome(validate.stdout).first)
        #expect(issue["location"] as? [String] == ["/text/div"])
        let store = "sqlite:/tmp/careledger-never-\(UUID().uuidString).sqlite"
        let r = try cli.run(["consent", "submit", path, "--home", "/nonexistent/careledger-home", "--store", store])
        #expect(r.status == 1, "\(r.stdout)\(r.stderr)")
        #expect(r.stdout == validate.stdout)
        #expect(!FileManager.default.fileExists(atPath: String(store.dropFirst("sqlite:".count))))
    }

    /// The store URL for `kind`: a fresh SQLite file or a fresh database on the shared throwaway PostgreSQL server.
    func withStoreURL(_ kind: StoreKind, _ body: (String) async throws -> Void) async throws {
        switch kind {
        case .sqlite:
            let dir = try Repository.temporaryDirectory("careledger-hostile-fhir")
            defer { try? FileManager.default.removeItem(at: dir) }
            try await body("sqlite:" + dir.appendingPathComponent("store.sqlite").path)
        case .postgres:
            try await PostgresServer.withSharedTestDatabase { database in try await body(database.url) }
        }
    }

    @Test(arguments: StoreKind.allCases)
    func importStoresNoHostileFHIR(_ kind: StoreKind) async throws {
        let dir = try Repository.temporaryDirectory("careledger-hostile-fhir-input")
        defer { try? FileManager.default.removeItem(at: dir) }
        let hostile = [
            "fhir-xml/foreign-namespace-gender.xml", "fhir-xml/empty-namespace-name.xml", "fhir-xml/foreign-namespace-in-contained.xml",
            "fhir-xml/narrative-script.xml", "fhir-xml/narrative-onclick.xml", "fhir-xml/narrative-xlink-href.xml", "fhir-xml/empty-id.xml",
            "fhir-json/narrative-script.json", "fhir-json/narrative-onclick.json", "fhir-json/narrative-javascript-href-mixed-case.json",
            "fhir-json/narrative-svg-onload.json", "fhir-json/narrative-empty.json",
        ]
        for (i, seed) in hostile.enumerated() {
            let name = "\(i)-" + (seed as NSString).lastPathComponent
            try FileManager.default.copyItem(atPath: Self.seed(seed), toPath: dir.appendingPathComponent(name).path)
        }
        let valid = Repository.shared.appendingPathComponent("corpus/fhir-r4-examples/patient-example.json").path
        try FileManager.default.copyItem(atPath: valid, toPath: dir.appendingPathComponent("valid-patient.json").path)

        try await withStoreURL(kind) { store in
            let r = try cli.run(["import", dir.path, "--store", store, "--plain"])
            #expect(r.status == 1, "\(r.stdout)\(r.stderr)")
            #expect(r.stdout.contains("imported 1 (1 new, 0 updated), unchanged 0, rejected \(hostile.count)"), "\(r.stdout)")
            let stats = try cli.run(["store", "stats", "--json", "--store", store])
            let json = try #require(try JSONSerialization.jsonObject(with: Data(stats.stdout.utf8)) as? [String: Any])
            #expect(json["total"] as? Int == 1, "only the valid Patient is stored")
            #expect(json["deadLetters"] as? Int == hostile.count)
        }
    }
}
