import Foundation
import Ledger
import Node
import RecordStore
import TestSupport
import Testing

/// `careledger consent submit` and `consent query` against a running node and a PostgreSQL store, with the hostile
/// inputs of issue 16: a refused Consent leaves store and chain untouched and says what is wrong with a JSON
/// pointer (items 1 and 11); a query term that names nothing exits 64 (item 10).
@Suite("careledger consent with hostile input", .timeLimit(.minutes(5)))
struct ConsentHostileInputTests {
    let cli = CLITests()
    static let seeds = "Fuzz/seeds/fhir-json/"

    /// Each hostile Consent (Fuzz/seeds/fhir-json) and the pointer its OperationOutcome names.
    static let refused: [(file: String, pointer: String)] = [
        ("consent-draft-status.json", "/status"),
        ("consent-no-status.json", "/status"),
        ("consent-unresolvable-patient-reference.json", "/patient/reference"),
        ("consent-entered-in-error-nothing-to-revoke.json", "/status"),
        ("consent-rejected-nothing-to-revoke.json", "/status"),
        ("consent-provision-nested-in-its-own-type.json", "/provision/provision/0/type"),
        ("consent-provisions-nested-12-deep.json", "/provision" + String(repeating: "/provision/0", count: 8)),
        ("consent-300-provisions.json", "/provision/provision/255"),
        ("consent-directive-over-64k.json", "/provision"),
        ("consent-period-start-after-end.json", "/provision/period"),
        ("consent-period-2027-02-29.json", "/provision/period/start"),
        ("consent-duplicate-actors.json", "/provision/actor/1/reference"),
    ]

    /// The OperationOutcome's issues as (location, diagnostics); records an issue when the output is none.
    func issues(_ run: CLITests.Run, _ what: String) -> [(location: [String], diagnostics: String)] {
        guard let o = try? JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any], o["resourceType"] as? String == "OperationOutcome",
              let issues = o["issue"] as? [[String: Any]] else {
            Issue.record("\(what) printed no OperationOutcome (exit \(run.status)): stdout \(run.stdout.prefix(500)) stderr \(run.stderr.prefix(500))")
            return []
        }
        return issues.map { (($0["location"] as? [String]) ?? [], ($0["diagnostics"] as? String) ?? "") }
    }

    @Test func refusedConsentsLeaveStoreAndChainUntouched() async throws {
        try await PostgresServer.withSharedTestDatabase { database in
            let dir = try Repository.temporaryDirectory("careledger-consent-hostile")
            defer { try? FileManager.default.removeItem(at: dir) }
            let home = dir.appendingPathComponent("node").path
            #expect(try cli.run(["node", "init", "--home", home, "--chain-id", "consent-hostile"]).status == 0)
            let node = try NodeProcessTests.NodeProcess(home: home, store: database.url, log: dir.appendingPathComponent("node.log"))
            var running = true
            defer { if running { node.terminate() } }

            // 70,000 provisions: refused at the first provision over the bound, not at a byte offset.
            let sample = try JSONSerialization.jsonObject(with: Data(contentsOf: CLITests.repoRoot.appendingPathComponent("Samples/consent/consent-mira-treatment.json")))
            var many = try #require(sample as? [String: Any])
            var root = try #require(many["provision"] as? [String: Any])
            root["provision"] = Array(repeating: ["type": "deny"], count: 70_000)
            many["provision"] = root
            many["id"] = "hostile-70000-provisions"
            let manyFile = dir.appendingPathComponent("consent-70000-provisions.json")
            try JSONSerialization.data(withJSONObject: many).write(to: manyFile)

            for (file, pointer) in Self.refused + [(manyFile.path, "/provision/provision/255")] {
                let path = file.hasPrefix("/") ? file : Self.seeds + file
                let run = try cli.run(["consent", "submit", path, "--home", home, "--store", database.url])
                #expect(run.status == 1, "\(file): exit \(run.status) \(run.stderr)")
                let found = issues(run, file)
                #expect(found.map(\.location) == [[pointer]], "\(file): \(found)")
                #expect(!run.stdout.contains("no directive") && !run.stdout.contains("at byte"), "\(file): a raw ledger error: \(run.stdout)")
            }

            let store = try await StoreLocation.open(database.url)
            #expect(try await store.versionCount() == 0, "a refused Consent is stored")
            #expect(try await store.anchorQueueCount() == 0, "a refused Consent is queued for anchoring")
            let chain = try await NodeHome(home).openChain()
            #expect(await chain.state.consents.isEmpty, "a refused Consent's directive is on the chain")

            // The sample is granted; its second grant is refused and stores nothing more.
            let granted = try cli.run(["consent", "submit", "Samples/consent/consent-mira-treatment.json", "--home", home, "--store", database.url])
            #expect(granted.status == 0 && granted.stdout.hasPrefix("granted Consent/consent-mira-treatment"), "\(granted.stdout)\(granted.stderr)")
            let changed = dir.appendingPathComponent("changed.json")
            try String(contentsOfFile: CLITests.repoRoot.appendingPathComponent("Samples/consent/consent-mira-treatment.json").path, encoding: .utf8)
                .replacingOccurrences(of: "2026-01-15T09:30:00Z", with: "2026-02-01T09:30:00Z").write(to: changed, atomically: true, encoding: .utf8)
            let again = try cli.run(["consent", "submit", changed.path, "--home", home, "--store", database.url])
            #expect(again.status == 1 && issues(again, "a second grant").map(\.location) == [["/id"]], "\(again.stdout)")
            #expect(try await store.versionCount() == 1)

            // The node gone (kill -9 leaves its RPC port file): 69, and nothing stored.
            node.kill9()
            running = false
            var other = try #require(sample as? [String: Any])
            other["id"] = "consent-while-node-down"
            let otherFile = dir.appendingPathComponent("other.json")
            try JSONSerialization.data(withJSONObject: other).write(to: otherFile)
            let down = try cli.run(["consent", "submit", otherFile.path, "--home", home, "--store", database.url])
            #expect(down.status == 69 && down.stderr.contains("nothing was stored"), "exit \(down.status): \(down.stderr)")
            #expect(try await store.versionCount() == 1)
            try await store.close()
        }
    }

    @Test func queryTermsThatNameNothingExit64() throws {
        let dir = try Repository.temporaryDirectory("careledger-consent-query")
        defer { try? FileManager.default.removeItem(at: dir) }
        let home = dir.appendingPathComponent("node").path
        #expect(try cli.run(["node", "init", "--home", home, "--chain-id", "consent-query"]).status == 0)
        let node = try NodeProcessTests.NodeProcess(home: home, store: "sqlite:" + dir.appendingPathComponent("store.sqlite").path,
                                                    log: dir.appendingPathComponent("node.log"))
        defer { node.terminate() }
        let query = ["consent", "query", "--home", home, "--patient", "urn:oid:2.16.840.1.113883.4.7.1|MRN-40021"]
        // The chain answers once it has a provable block (exit 75 before).
        let deadline = Date().addingTimeInterval(30)
        while try cli.run(query).status == 75 && Date() < deadline { usleep(100_000) }
        let refused: [([String], String)] = [
            (["--actor", ""], "--actor"), (["--actor", "bogus"], "--actor"), (["--actor", "|"], "--actor"),
            (["--purpose", "|||"], "--purpose"), (["--purpose", ""], "--purpose"),
            (["--at", "2027-02-29"], "2027-02 has 28 days"), (["--at", "2027-04-31"], "2027-04 has 30 days"),
            (["--at", "2027-01-01T10:00:00+99:00"], "-14:00 to +14:00"), (["--at", "2027-01-01T10:00:00"], "needs a zone"),
            (["--code", "59284-0"], "--code"), (["--class", "x|y"], "--class"),
        ]
        for (arguments, says) in refused {
            let run = try cli.run(query + arguments)
            #expect(run.status == 64 && run.stderr.contains(says), "\(arguments): exit \(run.status) \(run.stderr)")
        }
        for arguments in [["--actor", "http://example.org/ids|partner-hospital-b", "--purpose", "TREAT"], ["--actor", "Organization/partner-b"],
                          ["--at", "2028-02-29"], ["--at", "2027-01-01T10:00:00+14:00"], ["--purpose", "http://terminology.hl7.org/CodeSystem/v3-ActReason|TREAT"]] {
            let run = try cli.run(query + arguments)
            #expect(run.status == 0 && run.stdout.hasPrefix("NO_CONSENT"), "\(arguments): exit \(run.status) \(run.stdout)\(run.stderr)")
        }
    }
}
