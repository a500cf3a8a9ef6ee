import Foundation
import TestSupport
import Testing

/// Runs the real `careledger` binary the way an integration engineer would, and checks exit codes and the
/// OperationOutcome it prints.
@Suite("careledger command line")
struct CLITests {
    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static let repoRoot: URL = Repository.root

    /// The binary SwiftPM built next to this test bundle.
    static var binary: URL {
        let bundle = Bundle.main.bundleURL
        for dir in [bundle, bundle.deletingLastPathComponent()] {
            let candidate = dir.appendingPathComponent("careledger")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        return repoRoot.appendingPathComponent(".build/debug/careledger")
    }

    func run(_ arguments: [String], stdin: Data? = nil) throws -> Run {
        let process = Process()
        process.executableURL = Self.binary
        process.arguments = arguments
        process.currentDirectoryURL = Self.repoRoot
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let input = Pipe()
        process.standardInput = input
        try process.run()
        if let stdin {
            // Feed stdin from another thread so a large input cannot deadlock against a full stdout pipe.
            // A command may refuse its input before reading all of it: the write then fails with EPIPE,
            // which must not kill the test process with SIGPIPE.
            signal(SIGPIPE, SIG_IGN)
            let handle = input.fileHandleForWriting
            DispatchQueue.global().async {
                try? handle.write(contentsOf: stdin)
                try? handle.close()
            }
        } else {
            try input.fileHandleForWriting.close()
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self), stderr: String(decoding: errData, as: UTF8.self))
    }

    func outcome(_ text: String) throws -> [[String: Any]] {
        let json = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(json["resourceType"] as? String == "OperationOutcome")
        return try #require(json["issue"] as? [[String: Any]])
    }

    @Test func convertsXMLToJSONAndBackLosingNothing() throws {
        let json = try run(["fhir", "convert", "Samples/fhir/patient-with-extensions.xml", "--to", "json"])
        #expect(json.status == 0)
        #expect(json.stdout.contains(#""_birthDate""#))
        #expect(json.stdout.contains(#""id": "g2""#))
        let xml = try run(["fhir", "convert", "-", "--to", "xml"], stdin: Data(json.stdout.utf8))
        #expect(xml.status == 0)
        #expect(xml.stdout.contains(#"<birthDate value="1984-02-29">"#))
        let h1 = try run(["fhir", "hash", "Samples/fhir/patient-with-extensions.xml"])
        let h2 = try run(["fhir", "hash", "-"], stdin: Data(json.stdout.utf8))
        #expect(h1.status == 0 && h1.stdout.count == 65)
        #expect(h1.stdout == h2.stdout)
    }

    @Test func canonicalKeepsDecimalPrecision() throws {
        let r = try run(["fhir", "canonical", "Samples/fhir/observation-precision.json"])
        #expect(r.status == 0)
        #expect(r.stdout.contains(#""valueQuantity":{"code":"mg/dL","system":"http://unitsofmeasure.org","unit":"mg/dL","value":1.50}"#))
    }

    @Test func hashWithSaltPrintsTheCommitment() throws {
        let salt = String(repeating: "ab", count: 32)
        let r = try run(["fhir", "hash", "Samples/fhir/observation-precision.json", "--salt", salt])
        #expect(r.status == 0)
        #expect(r.stdout.hasPrefix("canonical-hash "))
        #expect(r.stdout.contains("\ncommitment     "))
        let bad = try run(["fhir", "hash", "Samples/fhir/observation-precision.json", "--salt", "abc"])
        #expect(bad.status == 64)
    }

    @Test func validateReportsProblemsWithLocations() throws {
        let patient = #"{"resourceType":"Patient","birthDate":"1970-13-01","gender":"female","active":"yes","foo":1}"#
        let r = try run(["fhir", "validate", "-"], stdin: Data(patient.utf8))
        #expect(r.status == 1)
        let issues = try outcome(r.stdout)
        let locations = issues.compactMap { ($0["location"] as? [String])?.first }
        #expect(locations.contains("/birthDate"))
        #expect(locations.contains("/active"))
        #expect(locations.contains("/foo"))
        let ok = try run(["fhir", "validate", "Samples/fhir/bundle-hypertension.json"])
        #expect(ok.status == 0)
    }

    @Test func validateGivesLineAndColumnForXML() throws {
        let xml = """
            <Patient xmlns="http://hl7.org/fhir">
              <id value="x"/>
              <birthDate value="1970-02-30x"/>
            </Patient>
            """
        let r = try run(["fhir", "validate", "-"], stdin: Data(xml.utf8))
        #expect(r.status == 1)
        let issues = try outcome(r.stdout)
        let locations = issues.flatMap { ($0["location"] as? [String]) ?? [] }
        #expect(locations.contains("/birthDate"))
        #expect(locations.contains { $0.hasPrefix("line 3, column") })
    }

    @Test(arguments: [
        ("truncated JSON", Data(#"{"resourceType":"Patient","name":[{"family":"#.utf8), "structure"),
        ("truncated XML", Data(#"<Patient xmlns="http://hl7.org/fhir"><id value="x"/>"#.utf8), "structure"),
        ("invalid UTF-8", Data([0x7B, 0x22, 0x61, 0x22, 0x3A, 0x22, 0xFF, 0x22, 0x7D]), "structure"),
        ("XXE", Data(#"<?xml version="1.0"?><!DOCTYPE p [<!ENTITY x SYSTEM "file:///etc/passwd">]><Patient xmlns="http://hl7.org/fhir"><id value="&x;"/></Patient>"#.utf8), "security"),
        ("not FHIR", Data("hello".utf8), "structure"),
    ])
    func rejectsHostileInputWithAnOutcome(name: String, input: Data, code: String) throws {
        for command in [["fhir", "validate", "-"], ["fhir", "hash", "-"], ["fhir", "convert", "-", "--to", "json"]] {
            let r = try run(command, stdin: input)
            #expect(r.status == 1, "\(name): \(command)")
            let issues = try outcome(r.stdout)
            #expect(issues.first?["code"] as? String == code, "\(name)")
            #expect(!r.stdout.contains("root:"), "\(name) leaked a file")
        }
    }

    @Test func refusesAHundredMegabyteInputQuickly() throws {
        var big = Data(#"{"resourceType":"Binary","data":""#.utf8)
        big.append(Data(repeating: UInt8(ascii: "A"), count: 100 << 20))
        big.append(Data(#""}"#.utf8))
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("careledger-big-\(UUID().uuidString).json")
        try big.write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let r = try run(["fhir", "hash", file.path])
        #expect(r.status == 1)
        #expect(try outcome(r.stdout).first?["code"] as? String == "too-costly")
    }

    @Test func missingFileExits66() throws {
        let r = try run(["fhir", "hash", "no/such/file.json"])
        #expect(r.status == 66)
        #expect(r.stderr.contains("no/such/file.json"))
    }

    @Test func demoWalksTheSamples() throws {
        let dir = try Repository.temporaryDirectory("careledger-demo")
        defer { try? FileManager.default.removeItem(at: dir) }
        let arguments = ["demo", "--store", "sqlite:" + dir.appendingPathComponent("store.sqlite").path, "--home", dir.appendingPathComponent("node").path]
        let r = try run(arguments)
        #expect(r.status == 0, "\(r.stdout)")
        #expect(r.stdout.contains("5 of 5 samples passed every step"))
        #expect(r.stdout.contains("same canonical hash"))
        #expect(r.stdout.contains("verify      OK offline"))
        #expect(r.stdout.contains("tampered    record with birthDate 1985-03-09: FAILED record"))
        #expect(r.stdout.contains("partner B, TREAT                         CONSENT_PERMIT with REDACT"))
        // The gateway: partner B is refused the sample patient before the sample Consent (403 OperationOutcome),
        // served it after (200), and the AuditEvents of both accesses are read back from the store.
        let refusal = try #require(r.stdout.range(of: "(TREAT) → 403 OperationOutcome"), "\(r.stdout)")
        let grant = try #require(r.stdout.range(of: "granted as directive"))
        let permit = try #require(r.stdout.range(of: "(TREAT) → 200 OK, served: Patient Mira Lindqvist"), "\(r.stdout)")
        #expect(refusal.upperBound < grant.lowerBound && grant.upperBound < permit.lowerBound)
        #expect(r.stdout.contains("registered on the ledger by partner B's participant"))
        let audits = r.stdout.split(separator: "\n").filter { $0.hasPrefix("  AuditEvent/") }
        #expect(audits.count == 2, "\(r.stdout)")
        #expect(audits.first?.contains("who partner-hospital-b (http://example.org/ids|partner-hospital-b)") == true)
        #expect(audits.first?.contains("outcome 4 (refused), NO_CONSENT at ledger height") == true)
        #expect(audits.last?.contains("outcome 0 (success), CONSENT_PERMIT at ledger height") == true)
        #expect(r.stdout.contains("python3 scripts/smart_token.py --token-url http://127.0.0.1:26880/auth/token --client-id partner-hospital-b"))
        #expect(r.stdout.contains("curl -s -H \"Authorization: Bearer $TOKEN\" http://127.0.0.1:26880/Patient/"))
        // Again on the same store and home: the chain replays, nothing is anchored twice (the first run's
        // AuditEvents are anchored like any record), the Consent is known.
        let again = try run(arguments)
        #expect(again.status == 0, "\(again.stdout)")
        #expect(again.stdout.contains("is already on the ledger"))
        #expect(again.stdout.contains("\(125 + audits.count) record versions in"), "\(again.stdout)")
        // The refusal of a second run: the Consent is there, so a purpose it does not permit; then the permit.
        #expect(again.stdout.contains("the refusal without it was"))
        #expect(again.stdout.contains("(HMARKT) → 403 OperationOutcome"), "\(again.stdout)")
        #expect(again.stdout.contains("(TREAT) → 200 OK"))
        #expect(again.stdout.split(separator: "\n").filter { $0.hasPrefix("  AuditEvent/") }.count == 2)
        // The HL7 v2 and C-CDA samples went through the mappings, and the second import applied none again.
        #expect(r.stdout.contains("ORU^R01 NG-LAB-5531  →"))
        #expect(r.stdout.contains("ACK MSA|AA|NG-LAB-5531"))
        #expect(r.stdout.contains("ccda/ccd-rivera.xml"))
        #expect(again.stdout.contains("received before (same bytes): not applied again"))
        // The network deleted but the anchored store kept: a new chain could not prove it, so the demo says so
        // before it changes anything, and deletes nothing.
        try FileManager.default.removeItem(at: dir.appendingPathComponent("node"))
        let orphan = try run(arguments)
        #expect(orphan.status == 78)
        #expect(orphan.stderr.contains("holds batches anchored on a chain"), "\(orphan.stderr)")
        #expect(!orphan.stdout.contains("CareLedger demo — import"))
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("store.sqlite").path))
    }
}
