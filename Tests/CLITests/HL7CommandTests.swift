import Foundation
import TestSupport
import Testing

/// `careledger hl7 convert` as an integration engineer runs it, and the independent oracle over the corpus.
@Suite("careledger hl7")
struct HL7CommandTests {
    let cli = CLITests()
    static let corpus = Repository.shared.appendingPathComponent("corpus/hl7v2")

    @Test func oneMessagePrintsOneBundleAndWarnsOnStandardError() throws {
        let run = try cli.run(["hl7", "convert", Self.corpus.appendingPathComponent("msconv-ADT-A01-01.hl7").path])
        #expect(run.status == 0)
        let bundle = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        #expect(bundle["resourceType"] as? String == "Bundle")
        #expect(bundle["type"] as? String == "transaction")
        #expect((bundle["entry"] as? [Any])?.count ?? 0 >= 8)
        #expect(run.stderr.contains("warning: "))
        #expect(run.stderr.contains("DB1 (segment 13, line 13) is not mapped"))
        let quiet = try cli.run(["hl7", "convert", "--quiet", Self.corpus.appendingPathComponent("msconv-ADT-A01-01.hl7").path])
        #expect(quiet.stderr.isEmpty)
    }

    /// A file of several messages, one of them bad: one line each, the bad one an OperationOutcome, exit 1.
    @Test func aFileOfMessagesPrintsNDJSONAndRefusesTheBadOneInPlace() throws {
        var bytes = try Data(contentsOf: Self.corpus.appendingPathComponent("msconv-ADT-A04-01.hl7"))
        bytes.append(Data("\r".utf8))
        bytes.append(try Data(contentsOf: Self.corpus.appendingPathComponent("malformed/cdc-ti-orm_obx-5_is_not_a_numeric_value.hl7")))
        bytes.append(Data("\r".utf8))
        bytes.append(try Data(contentsOf: Self.corpus.appendingPathComponent("msconv-VXU-V04-01.hl7")))
        let run = try cli.run(["hl7", "convert", "-"], stdin: bytes)
        #expect(run.status == 1)
        let lines = run.stdout.split(separator: "\n")
        #expect(lines.count == 3)
        let types = try lines.map { line in
            (try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["resourceType"] as? String
        }
        #expect(types == ["Bundle", "OperationOutcome", "Bundle"])
        #expect(lines[1].contains("is not a number"))
    }

    @Test func inputThatIsNotHL7IsRefusedWithAnOperationOutcome() throws {
        let run = try cli.run(["hl7", "convert", "-"], stdin: Data("{\"resourceType\": \"Patient\"}".utf8))
        #expect(run.status == 1)
        let issues = try cli.outcome(run.stdout)
        #expect((issues.first?["diagnostics"] as? String)?.contains("MSH") == true)
    }

    /// scripts/hl7_oracle.py: every resource made from the corpus is valid for fhirkit-rs, and patient
    /// identifiers, names, birth dates, observation codes, values and units match python-hl7's reading.
    @Test(.timeLimit(.minutes(10))) func theCorpusPassesTheIndependentOracles() throws {
        guard let (status, text, last, summary) = try Oracle.run("hl7_oracle.py", corpus: Self.corpus) else { return }
        #expect(status == 0, "\(text.suffix(3000))")
        #expect(summary["ok"] as? Bool == true)
        #expect(summary["converted"] as? Int == 84)   // and 4 refused as the corpus intends (EXPECTED_REFUSALS)
        #expect(summary["resources_checked"] as? Int == summary["resources_passed"] as? Int)
        #expect(summary["r4b_checked"] as? Int == summary["resources_checked"] as? Int)
        #expect(summary["r4b_passed"] as? Int == summary["r4b_checked"] as? Int)
        #expect(summary["malformed_passed"] as? Int == 4)
        print("hl7 oracle: \(last)")
    }
}

/// `careledger import` of HL7 v2 files: each message is one unit, converted and stored all or nothing.
@Suite("careledger import of HL7 v2")
struct HL7ImportTests {
    let cli = CLITests()

    @Test func theCorpusImportsMessageByMessageAndAgainChangesNothing() throws {
        let dir = try Repository.temporaryDirectory("careledger-hl7-import")
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = "sqlite:" + dir.appendingPathComponent("store.sqlite").path
        let corpus = HL7CommandTests.corpus.path
        let first = try cli.run(["import", corpus, "--store", store, "--plain"])
        #expect(first.status == 1, "the corpus holds messages of types no mapping handles, and four bad ones")
        // 78 unsupported types, 4 bad (two of them with a segment name that is not three characters), 4 malformed
        #expect(first.stdout.contains("rejected 86"), "\(first.stdout)")
        #expect(first.stdout.contains("mapping warning(s)"))
        let stats = try cli.run(["store", "stats", "--json", "--store", store])
        let json = try #require(try JSONSerialization.jsonObject(with: Data(stats.stdout.utf8)) as? [String: Any])
        let total = try #require(json["total"] as? Int)
        #expect(total > 2_000)
        #expect(json["deadLetters"] as? Int == 86)

        // Each stored message is recorded (sender, control id, bytes): the same import again applies none of them.
        let again = try cli.run(["import", corpus, "--store", store, "--plain"])
        #expect(again.stdout.contains("imported 0 (0 new, 0 updated), unchanged 0"), "\(again.stdout)")
        #expect(again.stdout.contains("84 HL7 v2 message(s) or C-CDA document(s) received before"), "\(again.stdout)")

        // A dead letter keeps the message: its OperationOutcome says what and where.
        let list = try cli.run(["deadletters", "list", "--store", store])
        let row = try #require(list.stdout.split(separator: "\n").first { $0.contains("orm_obx-5_is_not_a_numeric_value.hl7 message 1 (line 1)") })
        let id = try #require(row.split(separator: "\t").first.map(String.init))
        let show = try cli.run(["deadletters", "show", id, "--store", store])
        #expect(show.stdout.contains("NOVALUE"))
    }
}

/// `careledger ccda convert` and the import of C-CDA documents.
@Suite("careledger ccda")
struct CCDACommandTests {
    let cli = CLITests()
    static let corpus = Repository.shared.appendingPathComponent("corpus/ccda")

    @Test func aCCDPrintsItsBundleWithTheDocumentKeptForProvenance() throws {
        let run = try cli.run(["ccda", "convert", Repository.root.appendingPathComponent("Samples/ccda/ccd-rivera.xml").path])
        #expect(run.status == 0, "\(run.stdout.prefix(2000))")
        let bundle = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        let resources = ((bundle["entry"] as? [[String: Any]]) ?? []).compactMap { $0["resource"] as? [String: Any] }
        let types = Set(resources.compactMap { $0["resourceType"] as? String })
        for type in ["Patient", "Condition", "AllergyIntolerance", "MedicationStatement", "Observation", "Immunization", "DocumentReference"] {
            #expect(types.contains(type), "no \(type) in \(types.sorted())")
        }
        let document = try #require(resources.first { $0["resourceType"] as? String == "DocumentReference" })
        let attachment = ((document["content"] as? [[String: Any]])?.first?["attachment"]) as? [String: Any]
        #expect(attachment?["hash"] is String)
    }

    @Test func aFragmentAndAnEntityAttackAreRefusedWithAnOperationOutcome() throws {
        let fragment = try cli.run(["ccda", "convert", "-"], stdin: Data("<ClinicalDocument><id root=\"1.2\"/></ClinicalDocument>".utf8))
        #expect(fragment.status == 1)
        #expect(try cli.outcome(fragment.stdout).isEmpty == false)
        let xxe = """
            <?xml version="1.0"?><!DOCTYPE d [<!ENTITY e SYSTEM "file:///etc/passwd">]>
            <ClinicalDocument xmlns="urn:hl7-org:v3"><title>&e;</title></ClinicalDocument>
            """
        let attack = try cli.run(["ccda", "convert", "-"], stdin: Data(xxe.utf8))
        #expect(attack.status == 1)
        #expect(!attack.stdout.contains("root:"))
    }

    @Test func theCorpusImportsDocumentByDocumentAndAgainAppliesNothing() throws {
        let dir = try Repository.temporaryDirectory("careledger-ccda-import")
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = "sqlite:" + dir.appendingPathComponent("store.sqlite").path
        let first = try cli.run(["import", Self.corpus.path, "--store", store, "--plain"])
        #expect(first.stdout.contains("rejected 10"), "\(first.stdout)")
        let stats = try cli.run(["store", "stats", "--json", "--store", store])
        let json = try #require(try JSONSerialization.jsonObject(with: Data(stats.stdout.utf8)) as? [String: Any])
        #expect((json["total"] as? Int ?? 0) > 500)
        let again = try cli.run(["import", Self.corpus.path, "--store", store, "--plain"])
        #expect(again.stdout.contains("imported 0 (0 new, 0 updated), unchanged 0"), "\(again.stdout)")
        #expect(again.stdout.contains("38 HL7 v2 message(s) or C-CDA document(s) received before"), "\(again.stdout)")
    }

    /// scripts/ccda_oracle.py: every resource made from the C-CDA corpus is valid for fhirkit-rs, and for the
    /// fhir.resources R4B models as a second opinion.
    @Test(.timeLimit(.minutes(10))) func theCorpusPassesTheIndependentValidator() throws {
        guard let (status, text, last, summary) = try Oracle.run("ccda_oracle.py", corpus: Self.corpus) else { return }
        #expect(status == 0, "\(text.suffix(3000))")
        #expect(summary["converted"] as? Int == 38)
        #expect(summary["resources_checked"] as? Int == summary["resources_passed"] as? Int)
        // The second opinion (fhir.resources R4B) saw every resource, and accepted each.
        #expect(summary["r4b_checked"] as? Int == summary["resources_checked"] as? Int)
        #expect(summary["r4b_passed"] as? Int == summary["r4b_checked"] as? Int)
        print("ccda oracle: \(last)")
    }
}

/// Runs an oracle script of scripts/ with the built binary and a corpus folder, `--json`.
enum Oracle {
    /// Exit status, full output, its last line and that line as JSON; nil when the script cannot run here (its
    /// Python packages are missing), which CI does not allow.
    static func run(_ script: String, corpus: URL) throws -> (Int32, String, Substring, [String: Any])? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", Repository.root.appendingPathComponent("scripts/\(script)").path,
                             "--careledger", CLITests.binary.path, "--corpus", corpus.path, "--json"]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        if process.terminationStatus == 2 {
            #expect(ProcessInfo.processInfo.environment["CI"] != "true", "\(script) must run in CI (.ci/run installs its packages): \(text)")
            print("\(script): skipped (pip install -r scripts/requirements-oracle.txt)")
            return nil
        }
        let last = try #require(text.split(separator: "\n").last)
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any])
        return (process.terminationStatus, text, last, summary)
    }
}
