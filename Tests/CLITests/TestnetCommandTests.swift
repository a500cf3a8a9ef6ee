import Foundation
import Ledger
import Node
import TestSupport
import Testing

/// `careledger testnet init` and `careledger node status [--height N] --json`, run as the built binary.
@Suite("careledger testnet init and node status --height", .timeLimit(.minutes(3)))
struct TestnetCommandTests {
    let cli = CLITests()

    /// The JSON object a command printed; records an issue with its output when it printed none.
    func object(_ run: CLITests.Run, _ what: String) -> [String: Any]? {
        guard let o = try? JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any] else {
            Issue.record("\(what) printed no JSON object (exit \(run.status)): stdout \(run.stdout) stderr \(run.stderr)")
            return nil
        }
        return o
    }

    /// The documented keys of `node status --json` for `status`, as the test expects them.
    func expected(_ status: ChainStatus) -> [String: Any] {
        func list(_ set: ValidatorSet) -> [[String: Any]] {
            set.validators.map { ["publicKey": Base64.encode($0.key.bytes), "power": Int($0.power)] }
        }
        return ["chainId": status.chainId, "height": Int(status.height), "blockId": Ledger.Hex.encode(status.blockId), "time": Int(status.time),
                "appHash": Ledger.Hex.encode(status.stateRoot), "validators": list(status.validators), "nextValidators": list(status.nextValidators)]
    }

    /// Checks that `object` holds each documented key with the value of `status`.
    func expectStatus(_ object: [String: Any]?, _ status: ChainStatus, sourceLocation: SourceLocation = #_sourceLocation) {
        guard let object else { return }
        for (key, value) in expected(status) {
            let found = object[key].flatMap(canonical)
            #expect(found == canonical(value), "\(key): \(found ?? "missing") ≠ \(canonical(value) ?? "?")", sourceLocation: sourceLocation)
        }
    }

    /// A JSON value as sorted-key JSON text, so that parsed and built values compare.
    func canonical(_ value: Any) -> String? {
        (try? JSONSerialization.data(withJSONObject: ["v": value], options: [.sortedKeys])).map { String(decoding: $0, as: UTF8.self) }
    }

    /// A one-validator home (`node init`) whose block store holds `blocks` blocks, each anchoring a root, so the
    /// app hash moves; returns the home and the status after each height (index 0 is the genesis).
    func filledHome(in dir: URL, blocks: Int) async throws -> (NodeHome, [ChainStatus]) {
        let path = dir.appendingPathComponent("node").path
        let initialized = try cli.run(["node", "init", "--home", path, "--chain-id", "status-chain"])
        #expect(initialized.status == 0, "\(initialized.stderr)")
        let home = NodeHome(path)
        let genesis = try home.genesis()
        let key = try home.nodeKey()
        let chain = try await Chain(genesis: genesis, blocks: try BlockStore(path: home.blocksFile.path, writable: true), key: key)
        var statuses = [await chain.status]
        var rng = SplitMix64(seed: 41)
        let t0 = Chain.nowMillis()
        for i in 0..<blocks {
            let root = (0..<32).map { _ in UInt8.random(in: 0...255, using: &rng) }
            _ = try await chain.submit(.anchorBatch(AnchorBatch(root: root, leafCount: 3, firstTxid: 1, lastTxid: 3, canonicalForm: "careledger-canonical/1",
                                                                submitter: key.publicKey)))
            try await chain.produceBlock(now: t0 + Int64(i) * 10)
            statuses.append(await chain.status)
        }
        return (home, statuses)
    }

    @Test func testnetInitWritesTheSampleNetwork() throws {
        let dir = try Repository.temporaryDirectory("careledger-testnet-cli")
        defer { try? FileManager.default.removeItem(at: dir) }
        let net = dir.appendingPathComponent("net")
        let run = try cli.run(["testnet", "init", "--spec", "Samples/network/providers.spec", "--dir", net.path])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("initialized 4 validators of chain careledger-sample-network"), "\(run.stdout)")
        let homes = (0..<4).map { NodeHome(net.appendingPathComponent("node\($0)").path) }
        let genesis = try Data(contentsOf: homes[0].genesisFile)
        let stakes: [UInt64] = [40, 30, 20, 10]
        for (k, home) in homes.enumerated() {
            #expect(run.stdout.contains("careledger node start --home \(home.root.path)\n"), "\(run.stdout)")
            #expect(run.stdout.contains("node\(k)  "), "\(run.stdout)")
            #expect(run.stdout.contains("p2p 127.0.0.1:\(26600 + 10 * k)  rpc 127.0.0.1:\(26601 + 10 * k)  power \(stakes[k])"), "\(run.stdout)")
            #expect(try Data(contentsOf: home.genesisFile) == genesis)
            let config = try #require(try home.nodeConfig())
            #expect(config.p2pPort == 26600 + 10 * k && config.rpcPort == 26601 + 10 * k)
            #expect(config.peers.count == 3)
        }
        #expect(try homes[0].genesis().validators.map(\.power) == stakes)

        // A second init into the same directory is refused, naming the home in the way, and changes nothing.
        let again = try cli.run(["testnet", "init", "--spec", "Samples/network/providers.spec", "--dir", net.path])
        #expect(again.status == 1 && again.stderr.contains(homes[0].root.path), "\(again.stderr)")
        #expect(try Data(contentsOf: homes[0].genesisFile) == genesis)
    }

    @Test func testnetInitTakesValidatorsStakesNamesChainIdAndBasePort() throws {
        let dir = try Repository.temporaryDirectory("careledger-testnet-cli")
        defer { try? FileManager.default.removeItem(at: dir) }
        let run = try cli.run(["testnet", "init", "--dir", dir.path, "--validators", "3", "--stakes", "5, 6,7", "--names", "a,b,c",
                               "--chain-id", "cli-net", "--base-port", "40000"])
        #expect(run.status == 0, "\(run.stderr)")
        let genesis = try NodeHome(dir.appendingPathComponent("node2").path).genesis()
        #expect(genesis.chainId == "cli-net")
        #expect(genesis.validators.map(\.name) == ["a", "b", "c"])
        #expect(genesis.validators.map(\.power) == [5, 6, 7])
        #expect(try NodeHome(dir.appendingPathComponent("node2").path).nodeConfig()?.rpcPort == 40021)
    }

    @Test func testnetInitRefusesBadOptionsWritingNothing() throws {
        let dir = try Repository.temporaryDirectory("careledger-testnet-cli")
        defer { try? FileManager.default.removeItem(at: dir) }
        let net = dir.appendingPathComponent("net").path
        let cases: [(arguments: [String], status: Int32, says: String)] = [
            (["--validators", "4", "--stakes", "1,2,3"], 64, "3 stakes for 4 validators"),
            (["--validators", "2", "--names", "a"], 64, "1 names for 2 validators"),
            (["--validators", "2", "--stakes", "10,ten"], 64, "'ten' is not a positive integer"),
            (["--validators", "0"], 64, "1 to 64"),
            (["--validators", "65"], 64, "1 to 64"),
            (["--validators", "4", "--base-port", "65510"], 64, "base port"),
            ([], 64, "--validators N"),
            (["--spec", "Samples/network/providers.spec", "--validators", "4"], 64, "leave out --validators"),
            (["--spec", "Samples/network/nonexistent.json"], 66, "cannot read"),
            (["--spec", "Samples/consent/consent-mira-treatment.json"], 1, "unknown key"),
        ]
        for c in cases {
            let run = try cli.run(["testnet", "init", "--dir", net] + c.arguments)
            #expect(run.status == c.status && run.stderr.contains(c.says), "\(c.arguments): exit \(run.status) \(run.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: net))
    }

    @Test func nodeStatusAtAHeightIsTheChainReplayedThroughIt() async throws {
        let dir = try Repository.temporaryDirectory("careledger-status-height")
        defer { try? FileManager.default.removeItem(at: dir) }
        let (home, statuses) = try await filledHome(in: dir, blocks: 5)
        for height in [0, 3, 5] {
            let run = try cli.run(["node", "status", "--home", home.root.path, "--height", "\(height)", "--json"])
            #expect(run.status == 0, "\(run.stderr)")
            expectStatus(object(run, "node status --height \(height)"), statuses[height])
        }
        // The app hash moves with the anchors: each height has its own.
        #expect(Set(statuses.map(\.stateRoot)).count == 6)

        let latest = try cli.run(["node", "status", "--home", home.root.path, "--json"])
        let o = object(latest, "node status")
        expectStatus(o, statuses[5])
        #expect(o?["running"] as? Bool == false)

        let text = try cli.run(["node", "status", "--home", home.root.path, "--height", "3"])
        #expect(text.status == 0)
        for line in ["chain status-chain height 3", "block id         \(Ledger.Hex.encode(statuses[3].blockId))", "app hash         \(Ledger.Hex.encode(statuses[3].stateRoot))",
                     "validators       1, total power 10", "next validators  1, total power 10"] {
            #expect(text.stdout.contains(line), "\(line) in \(text.stdout)")
        }

        let above = try cli.run(["node", "status", "--home", home.root.path, "--height", "6"])
        #expect(above.status == 1 && above.stderr.contains("height 6 is above the tip") && above.stderr.contains("at height 5"), "\(above.stderr)")
        // A home that is not there cannot be read: 66 (issue 16, item 15), as any input that cannot be read.
        let empty = try cli.run(["node", "status", "--home", dir.appendingPathComponent("nowhere").path, "--height", "1"])
        #expect(empty.status == 66 && empty.stderr.contains("does not exist"), "\(empty.stderr)")
    }

    @Test func nodeStatusAtAHeightWorksWhileTheNodeRuns() async throws {
        let dir = try Repository.temporaryDirectory("careledger-status-running")
        defer { try? FileManager.default.removeItem(at: dir) }
        let (home, statuses) = try await filledHome(in: dir, blocks: 3)
        let process = Process()
        process.executableURL = CLITests.binary
        process.arguments = ["node", "start", "--home", home.root.path, "--rpc-port", "0"]
        process.currentDirectoryURL = CLITests.repoRoot
        let log = dir.appendingPathComponent("node.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: log)
        process.standardError = process.standardOutput
        process.standardInput = FileHandle.nullDevice
        try process.run()
        defer {
            process.terminate()
            process.waitUntilExit()
        }
        let deadline = Date().addingTimeInterval(30)
        while (try? home.rpcPort()) == nil {
            guard process.isRunning, Date() < deadline else {
                Issue.record("the node did not start: \((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
                return
            }
            usleep(20_000)
        }

        // The running node answers without --height, with the documented keys beside its older ones.
        let latest = try cli.run(["node", "status", "--home", home.root.path, "--json"])
        let o = object(latest, "node status")
        #expect(o?["running"] as? Bool == true)
        #expect((o?["height"] as? Int).map { $0 >= 3 } == true)
        #expect(o?["appHash"] as? String != nil && o?["appHash"] as? String == o?["stateRoot"] as? String)
        #expect((o?["nextValidators"] as? [[String: Any]])?.count == 1)

        // --height reads the block store the node holds open and locked.
        let run = try cli.run(["node", "status", "--home", home.root.path, "--height", "2", "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        expectStatus(object(run, "node status --height 2"), statuses[2])
    }
}
