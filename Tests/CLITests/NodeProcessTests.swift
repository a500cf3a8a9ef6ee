import Foundation
import Ledger
import Node
import TestSupport
import Testing

/// `careledger node start` as a process beside `import`, `receipt`, `consent` and `verify`, killed with SIGKILL
/// and restarted.
@Suite("careledger node start, receipt and consent, with kill -9", .timeLimit(.minutes(5)))
struct NodeProcessTests {
    let cli = CLITests()

    /// A running `node start`; its log goes to a file.
    final class NodeProcess {
        let process = Process()

        init(home: String, store: String, log: URL) throws {
            process.executableURL = CLITests.binary
            process.arguments = ["node", "start", "--home", home, "--store", store, "--rpc-port", "0", "--block-interval-ms", "20", "--batch-delay-ms", "50"]
            process.currentDirectoryURL = CLITests.repoRoot
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
            process.standardOutput = try FileHandle(forWritingTo: log)
            process.standardError = process.standardOutput
            process.standardInput = FileHandle.nullDevice
            try process.run()
            // Up once it says where its RPC is.
            let rpc = NodeHome(home).rpcFile
            let deadline = Date().addingTimeInterval(30)
            while !(FileManager.default.fileExists(atPath: rpc.path) && (try? NodeHome(home).rpcPort()).map { _ in true } == true) {
                guard process.isRunning, Date() < deadline else { throw NodeError("the node did not start: \((try? String(contentsOf: log, encoding: .utf8)) ?? "")") }
                usleep(20_000)
            }
        }

        func kill9() {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }

        func terminate() {
            process.terminate()
            process.waitUntilExit()
        }
    }

    /// The receipt of `reference`, waited for, with the served record written to `record`.
    func receipt(_ reference: String, store: String, home: String, record: URL) throws -> CLITests.Run {
        try cli.run(["receipt", reference, "--store", store, "--home", home, "--wait", "30", "--record-out", record.path])
    }

    /// The JSON object a command printed; records an issue with its output when it printed none.
    func object(_ run: CLITests.Run, _ what: String) -> [String: Any]? {
        guard let o = try? JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any] else {
            Issue.record("\(what) printed no JSON (exit \(run.status)): stdout \(run.stdout) stderr \(run.stderr)")
            return nil
        }
        return o
    }

    @Test func anchorsReceiptsAndConsentsSurviveKill9() throws {
        let dir = try Repository.temporaryDirectory("careledger-node-process")
        defer { try? FileManager.default.removeItem(at: dir) }
        let home = dir.appendingPathComponent("node").path
        let store = "sqlite:" + dir.appendingPathComponent("store.sqlite").path
        let genesis = NodeHome(home).genesisFile.path
        #expect(try cli.run(["node", "init", "--home", home, "--chain-id", "process-chain"]).status == 0)
        #expect(try cli.run(["import", "Samples", "--store", store]).status == 0)

        var node = try NodeProcess(home: home, store: store, log: dir.appendingPathComponent("node-1.log"))
        // A second node on the same home is refused: it would fork the chain.
        let second = try cli.run(["node", "start", "--home", home, "--rpc-port", "0"])
        #expect(second.status == 1 && second.stderr.contains("another node runs on this home"), "\(second.stderr)")

        // A receipt, verified offline, and refused for a record changed by one byte.
        let record = dir.appendingPathComponent("record.json")
        let receiptRun = try receipt("Practitioner/prac-okafor", store: store, home: home, record: record)
        #expect(receiptRun.status == 0, "\(receiptRun.stderr)")
        let receiptFile = dir.appendingPathComponent("receipt.json")
        try Data(receiptRun.stdout.utf8).write(to: receiptFile)
        let ok = try cli.run(["verify", receiptFile.path, "--genesis", genesis, "--record", record.path])
        #expect(ok.status == 0 && ok.stdout.hasPrefix("OK Practitioner/prac-okafor/_history/1"), "\(ok.stdout)")
        var bytes = try Data(contentsOf: record)
        bytes[bytes.count / 2] ^= 0x01
        try bytes.write(to: record)
        let bad = try cli.run(["verify", receiptFile.path, "--genesis", genesis, "--record", record.path])
        #expect(bad.status == 1 && bad.stdout.hasPrefix("FAILED record"), "\(bad.stdout)")
        #expect(try cli.run(["receipt", "Patient/nobody", "--store", store, "--home", home]).status == 1)

        // Consent: submitted through the running node, answered from the ledger with a proof that verifies.
        let submit = try cli.run(["consent", "submit", "Samples/consent/consent-mira-treatment.json", "--home", home, "--store", store])
        #expect(submit.status == 0 && submit.stdout.hasPrefix("granted Consent/consent-mira-treatment"), "\(submit.stdout)\(submit.stderr)")
        let query = ["consent", "query", "--home", home, "--patient", "urn:oid:2.16.840.1.113883.4.7.1|MRN-40021", "--actor", "http://example.org/ids|partner-hospital-b"]
        let proofFile = dir.appendingPathComponent("proof.json")
        let permit = try cli.run(query + ["--purpose", "TREAT", "--prove", proofFile.path])
        #expect(permit.status == 0 && permit.stdout.hasPrefix("CONSENT_PERMIT") && permit.stdout.contains("REDACT labels http://terminology.hl7.org/CodeSystem/v3-Confidentiality|R"),
                "\(permit.stdout)\(permit.stderr)")
        let proven = try cli.run(["verify", proofFile.path, "--genesis", genesis])
        #expect(proven.status == 0 && proven.stdout.hasPrefix("OK CONSENT_PERMIT"), "\(proven.stdout)")
        let forged = try String(contentsOf: proofFile, encoding: .utf8).replacingOccurrences(of: "\"decision\" : \"CONSENT_PERMIT\"", with: "\"decision\" : \"CONSENT_DENY\"")
        try forged.write(to: proofFile, atomically: true, encoding: .utf8)
        let refused = try cli.run(["verify", proofFile.path, "--genesis", genesis])
        #expect(refused.status == 1 && refused.stdout.hasPrefix("FAILED answer"), "\(refused.stdout)")
        let deny = try cli.run(query + ["--purpose", "TREAT", "--class", "MedicationStatement", "--json"])
        #expect(deny.status == 0 && deny.stdout.contains("\"decision\" : \"CONSENT_DENY\""), "\(deny.stdout)")
        let none = try cli.run(query + ["--purpose", "HMARKT"])
        #expect(none.status == 0 && none.stdout.hasPrefix("NO_CONSENT"), "\(none.stdout)")
        let invalid = try cli.run(["consent", "submit", "Samples/fhir/observation-precision.json", "--home", home, "--store", store])
        #expect(invalid.status == 1 && invalid.stdout.contains("OperationOutcome") && invalid.stdout.contains("/resourceType"), "\(invalid.stdout)")

        // kill -9 while a Synthea import is anchored, restart, and finish: every version anchored exactly once.
        let synthea = Repository.shared.appendingPathComponent("corpus/synthea/bundles").path
        let importing = try cli.run(["import", synthea, "--store", store])
        #expect(importing.status == 0)
        usleep(30_000)
        node.kill9()
        let status = try cli.run(["node", "status", "--home", home, "--json"])
        #expect(status.status == 0 && status.stdout.contains("\"running\" : false"), "\(status.stdout)")
        let heightBefore = try #require(object(status, "node status")?["height"] as? Int)
        node = try NodeProcess(home: home, store: store, log: dir.appendingPathComponent("node-2.log"))
        defer { node.terminate() }
        var anchoredAll = false
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            let stats = try cli.run(["store", "stats", "--store", store, "--json"])
            if (object(stats, "store stats")?["anchorQueue"] as? Int) == 0 { anchoredAll = true; break }
            usleep(100_000)
        }
        #expect(anchoredAll, "the queue did not drain after the restart")
        let after = try cli.run(["node", "status", "--home", home, "--json"])
        let heightAfter = try #require(object(after, "node status")?["height"] as? Int)
        #expect(heightAfter >= heightBefore)
        // The receipt from before the kill still verifies, against the same genesis.
        #expect(try cli.run(["verify", receiptFile.path, "--genesis", genesis]).status == 0)
        let again = try receipt("Practitioner/prac-okafor", store: store, home: home, record: record)
        #expect(again.stdout == receiptRun.stdout, "the receipt is the same after the restart")
    }
}
