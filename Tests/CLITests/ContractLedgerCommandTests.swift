import Foundation
import Ledger
import Node
import TestSupport
import Testing

/// `careledger contract deploy|vote|claim|supply|withdraw|show|explain` and `verify` of an allocation proof, through
/// the built binary against a running single-validator `node start` (its participant holds all the stake, so its
/// deploy is in force at once).
@Suite("careledger contract on the ledger", .timeLimit(.minutes(5)))
struct ContractLedgerCommandTests {
    let cli = CLITests()

    static let definition = """
        # Beds shared max-min fair; claims with a SOFA score of 7 or less come first.
        id: icu-beds
        version: 1
        pool: {resource: ICU bed, units: 5, divisible: false, owners: [harbourview]}
        epochs: {start: 1, length: 2}
        mechanism: {type: max-min}
        priority: "attributes.sofa <= 7 ? 2 : 1"
        """

    /// The height a submission's output names ("… from height H" / "… at height H").
    static func height(_ output: String) -> UInt64? {
        output.components(separatedBy: "height ").dropFirst().first.flatMap { UInt64($0.prefix { $0.isNumber }) }
    }

    /// The command run off the concurrency pool (``offPool``): these tests wait on processes for most of their time.
    func run(_ arguments: [String]) async throws -> CLITests.Run {
        let cli = self.cli
        return try await offPool { try cli.run(arguments) }
    }

    /// Polls `contract show --epoch N --json` until the epoch's result is under a finalized header (empty blocks come
    /// every 5 s; the wait is bounded generously because CI runs this beside other suites on two cores).
    func result(_ epoch: UInt64, home: String) async throws -> [String: Any]? {
        let deadline = Date().addingTimeInterval(90)
        while Date() < deadline {
            let run = try await run(["contract", "show", "icu-beds", "--epoch", String(epoch), "--json", "--home", home])
            if run.status == 0 { return try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any] }
            #expect(run.status == 66, "\(run.stderr)")
            try await Task.sleep(for: .milliseconds(200))
        }
        return nil
    }

    @Test func aContractIsDeployedClaimedExecutedExplainedAndItsProofVerified() async throws {
        let dir = try Repository.temporaryDirectory("careledger-contract-cli")
        defer { try? FileManager.default.removeItem(at: dir) }
        let home = dir.appendingPathComponent("node").path
        #expect(try await run(["node", "init", "--home", home, "--chain-id", "contract-chain", "--moniker", "harbourview"]).status == 0)
        let file = dir.appendingPathComponent("icu-beds.yaml")
        try Data(Self.definition.utf8).write(to: file)
        let node = try NodeProcessTests.NodeProcess(home: home, store: "sqlite:" + dir.appendingPathComponent("store.sqlite").path,
                                                    log: dir.appendingPathComponent("node.log"))
        defer { if node.process.isRunning { node.terminate() } }

        // Before the deploy there is nothing to claim in, or vote on.
        #expect(try await run(["contract", "claim", "icu-beds", "--units", "3", "--home", home]).status == 1)
        #expect(try await run(["contract", "vote", "icu-beds", "--version", "1", "--approve", "--home", home]).status == 1)
        let deployed = try await run(["contract", "deploy", file.path, "--home", home])
        #expect(deployed.status == 0 && deployed.stdout.contains("icu-beds version 1 is in force"), "\(deployed.stdout) \(deployed.stderr)")
        #expect(try await run(["contract", "deploy", file.path, "--home", home]).status == 1, "version 1 again: the next version is 2")

        // Usage and ledger refusals.
        #expect(try await run(["contract", "claim", "icu-beds", "--units", "x", "--home", home]).status == 64)
        let fractional = try await run(["contract", "claim", "icu-beds", "--units", "7/2", "--home", home])
        #expect(fractional.status == 1 && fractional.stderr.contains("not whole units"), "\(fractional.stderr)")
        let halfBed = try await run(["contract", "supply", "icu-beds", "11/2", "--home", home])
        #expect(halfBed.status == 1 && halfBed.stderr.contains("not whole units"), "\(halfBed.stderr)")

        let claimed = try await run(["contract", "claim", "icu-beds", "--units", "7", "--attribute", "sofa=6", "--home", home])
        #expect(claimed.status == 0 && claimed.stdout.contains("harbourview claims 7 in icu-beds"), "\(claimed.stdout) \(claimed.stderr)")
        let claimHeight = try #require(Self.height(claimed.stdout))

        // The first epoch ending after the claim: 7 asked of 5.
        let first = claimHeight / 2  // epochs of 2 from height 1: epoch n ends at height 2n + 2
        let r = try #require(try await result(first, home: home))
        #expect((r["allocations"] as? [[String: Any]])?.first?["units"] as? String == "5")
        #expect(r["free"] as? String == "0" && r["mechanism"] as? String == "max-min")

        let shown = try await run(["contract", "show", "icu-beds", "--home", home])
        #expect(shown.status == 0 && shown.stdout.contains("harbourview: 7, sofa=6") && shown.stdout.contains("[group] priority 2"), "\(shown.stdout)")

        // Explained for the claimant, with a proof that verifies offline; a tampered copy fails.
        let proof = dir.appendingPathComponent("proof.json").path
        let explained = try await run(["contract", "explain", "icu-beds", "--epoch", String(first), "--claimant", "harbourview", "--prove", proof, "--home", home])
        #expect(explained.status == 0 && explained.stdout.contains("harbourview: 5") && explained.stdout.contains("[level]"), "\(explained.stdout) \(explained.stderr)")
        let genesis = dir.appendingPathComponent("node/config/genesis.json").path
        let verified = try await run(["verify", proof, "--genesis", genesis])
        #expect(verified.status == 0 && verified.stdout.hasPrefix("OK epoch \(first) of icu-beds") && verified.stdout.contains("'harbourview' got 5"), "\(verified.stdout)")
        let text = try String(contentsOfFile: proof, encoding: .utf8)
        let tampered = dir.appendingPathComponent("tampered.json").path
        try Data(text.replacingOccurrences(of: "\"units\" : \"5\"", with: "\"units\" : \"6\"").utf8).write(to: URL(fileURLWithPath: tampered))
        #expect(text.contains("\"units\" : \"5\""))
        let refused = try await run(["verify", tampered, "--genesis", genesis])
        #expect(refused.status == 1 && refused.stdout.hasPrefix("FAILED result"), "\(refused.stdout)")
        #expect(try await run(["contract", "explain", "icu-beds", "--epoch", String(first), "--claimant", "nobody", "--home", home]).status == 66)
        #expect(try await run(["contract", "show", "icu-beds", "--epoch", "999", "--home", home]).status == 66)

        // More supply: the claim is met and 3 beds stay free in a later epoch; then the claim is withdrawn.
        let supplied = try await run(["contract", "supply", "icu-beds", "10", "--home", home])
        #expect(supplied.status == 0, "\(supplied.stderr)")
        let later = try #require(Self.height(supplied.stdout)) / 2
        let r2 = try #require(try await result(later, home: home))
        #expect((r2["allocations"] as? [[String: Any]])?.first?["units"] as? String == "7" && r2["free"] as? String == "3")
        #expect(try await run(["contract", "withdraw", "icu-beds", "--home", home]).status == 0)
        #expect(try await run(["contract", "withdraw", "icu-beds", "--home", home]).status == 1, "nothing left to withdraw")
    }
}
