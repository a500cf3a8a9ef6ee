import Foundation
import Ledger
import Node
import TestSupport
import Testing

/// Four validator processes under load: one killed with SIGKILL and restarted, another cut off from its peers
/// and reconnected. Afterwards every node holds the same blocks, the same app hash, and every transaction that
/// was committed anywhere (CometBFT's end-to-end perturbations, on loopback).
@Suite("Four validator processes: kill -9, partition, same chain", .timeLimit(.minutes(6)))
struct NetworkProcessTests {
    let cli = CLITests()

    /// What node `k` reports with `node status --json` (the latest height, or `height`).
    func status(_ network: LocalNetwork, _ k: Int, height: UInt64? = nil) throws -> [String: Any] {
        var arguments = ["node", "status", "--home", network.homes[k].root.path, "--json"]
        if let height { arguments += ["--height", String(height)] }
        let run = try cli.run(arguments)
        guard run.status == 0, let object = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any] else {
            throw NodeError("node status for node\(k) failed (exit \(run.status)): \(run.stderr)")
        }
        return object
    }

    func height(_ network: LocalNetwork, _ k: Int) async -> UInt64 {
        guard let answer = try? await network.call(k, "GET", "/status", timeout: 5),
              let object = try? JSONSerialization.jsonObject(with: Data(answer.body)) as? [String: Any] else { return 0 }
        return (object["height"] as? NSNumber)?.uint64Value ?? 0
    }

    /// Waits until every node has reached `target`.
    func waitForAll(_ network: LocalNetwork, toReach target: UInt64, within: Duration) async throws {
        let deadline = ContinuousClock.now + within
        while true {
            var heights: [UInt64] = []
            for k in 0..<network.count { heights.append(await height(network, k)) }
            if heights.allSatisfy({ $0 >= target }) { return }
            guard ContinuousClock.now < deadline else { throw NodeError("the nodes did not all reach height \(target) within \(within): \(heights)") }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    @Test func killedAndPartitionedValidatorsRejoinWithTheSameChain() async throws {
        let dir = try Repository.temporaryDirectory("careledger-network")
        defer { try? FileManager.default.removeItem(at: dir) }
        // Node K uses base+10K and base+10K+1. The range sits below Linux's ephemeral ports (32768 and up), which
        // every port-0 listener and client connection of the tests running beside this one draw from, and above the
        // demo's 26800–26880.
        let base = 27_000 + Int.random(in: 0..<570) * 10
        let made = try cli.run(["testnet", "init", "--dir", dir.path, "--validators", "4", "--base-port", String(base), "--chain-id", "process-net"])
        #expect(made.status == 0, "\(made.stderr)")
        let network = try LocalNetwork(directory: dir, binary: CLITests.binary,
                                       arguments: ["--unsafe-rpc", "--block-interval-ms", "50", "--empty-block-ms", "300"])
        defer { network.stopAll() }
        do {
            try await exercise(network)
        } catch {
            // The homes are removed afterwards: keep what the nodes said with the failure.
            for home in network.homes {
                let log = (try? String(contentsOf: home.root.appendingPathComponent("node.log"), encoding: .utf8)) ?? ""
                print("--- \(home.root.lastPathComponent)/node.log (last 40 lines)\n" + log.split(separator: "\n").suffix(40).joined(separator: "\n"))
            }
            throw error
        }
    }

    func exercise(_ network: LocalNetwork) async throws {
        try await network.startAll()
        try await waitForAll(network, toReach: 2, within: .seconds(30))

        // Load for 14 s while one node is killed and restarted and another is cut off and reconnected.
        var settings = LoadGenerator.Settings(rate: 60, duration: .seconds(14), txSize: 300)
        settings.keys = 16
        settings.drain = .seconds(30)
        // The faults hit the timed load, not the registration of its keys.
        let (loadStarted, started) = AsyncStream<Void>.makeStream()
        settings.onLoadStart = { started.yield(); started.finish() }
        let load = Task {
            defer { started.finish() }
            return try await LoadGenerator.run(network: network, settings: settings)
        }
        var loading = false
        for await _ in loadStarted { loading = true; break }
        if !loading {
            // The load ended before it began (the keys were not registered): its error says why.
            _ = try await load.value
            Issue.record("the load ended before it started")
            return
        }
        try await Task.sleep(for: .seconds(4))
        network.kill9(1)
        try await Task.sleep(for: .seconds(2))
        try await network.start(1)
        try await Task.sleep(for: .seconds(2))
        let cut = try await network.call(2, "POST", "/unsafe/disconnect")
        #expect(cut.status == 200)
        try await Task.sleep(for: .seconds(3))
        let rejoined = try await network.call(2, "POST", "/unsafe/reconnect")
        #expect(rejoined.status == 200)
        let report = try await load.value
        print("network under faults: \(report.detail); \(report.line)")
        #expect(report.committed > 300, "\(report.detail)")
        // Every transaction a node acknowledged was committed, the killed node's included (its mempool journal).
        #expect(report.lost == 0, "\(report.detail)")

        // Everyone catches up to the highest height seen, then stops (clean SIGTERM). Blocks may still be made
        // while they stop: compare up to the lowest tip.
        var highest: UInt64 = 0
        for k in 0..<network.count { highest = max(highest, await height(network, k)) }
        try await waitForAll(network, toReach: highest, within: .seconds(60))
        network.stopAll()
        let tips = try network.homes.map { try BlockStore(path: $0.blocksFile.path, writable: false).height }
        let top = try #require(tips.min())
        #expect(top >= highest)

        // The same blocks at every height, and the same app hash, on all four block stores.
        let genesis = try network.homes[0].genesis()
        var chains: [Chain] = []
        for home in network.homes {
            chains.append(try await Chain(genesis: genesis, blocks: try BlockStore(path: home.blocksFile.path, writable: false), key: nil, solo: false, upTo: top))
        }
        for h in 1...top {
            let ids = try await chains.asyncMap { try await $0.block(at: h)?.block.header.id }
            #expect(Set(ids.map { $0 ?? [] }).count == 1, "height \(h): \(ids.map { $0.map { Ledger.Hex.encode($0).prefix(8) } ?? "none" })")
        }
        let roots = await chains.asyncMap { await $0.status.stateRoot }
        #expect(Set(roots).count == 1)
        // node status agrees with the block stores: its latest height, and at the common top the same block id
        // and app hash everywhere.
        let topId = try #require(try await chains[0].block(at: top)).block.header.id
        for k in 0..<network.count {
            let latest = try status(network, k)
            #expect((latest["height"] as? NSNumber)?.uint64Value == tips[k])
            let atTop = try status(network, k, height: top)
            #expect((atTop["height"] as? NSNumber)?.uint64Value == top)
            #expect(atTop["appHash"] as? String == Ledger.Hex.encode(roots[0]))
            #expect(atTop["blockId"] as? String == Ledger.Hex.encode(topId))
        }
        // Every transaction committed on node0 during the run is in every chain at the same height; nobody
        // double-signed (no evidence was committed).
        for (hash, h) in report.committedHashes.sorted(by: { $0.value < $1.value }).prefix(2_000) where h <= top {
            let block = try #require(try await chains[3].block(at: h))
            #expect(block.block.transactions.contains { $0.hash == hash })
        }
        for h in 1...top {
            let block = try #require(try await chains[0].block(at: h))
            #expect(!block.block.transactions.contains { if case .evidence = $0.body { true } else { false } }, "evidence at height \(h)")
        }
    }
}

extension Array {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var out: [T] = []
        for e in self { out.append(try await transform(e)) }
        return out
    }
}
