import ArgumentParser
import FHIRCore
import Foundation
import Ledger
import Node
import RecordStore

/// `careledger bench anchoring`: latency from a record version's store commit to its receipt data in the store.
struct AnchoringBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "anchoring",
        abstract: "Anchoring latency, store commit to receipt (p50, p99), with a one-validator node or a network of validators running beside the writer.",
        discussion: """
            Starts a node (fresh home in a temp directory) that anchors the store, then commits --records single-record \
            units at --rate per second, as an import does, and watches the store's anchor batches: a version's latency \
            is the time from its commit returning to its batch's receipt data being in the store (what `careledger \
            receipt` needs). Printed beside it is the wait by design of a batch's oldest version: the batch delay T \
            plus one block interval (younger versions of the batch wait less). Default store: a temp SQLite file; pass \
            --store postgres://… for PostgreSQL. With --validators N (N > 1) a network of N validators (a fresh \
            testnet, run in this process, P2P from --base-port) runs consensus and the first one anchors.
            """
    )

    @Option(help: "Record versions to commit.")
    var records = 2_000

    @Option(help: "Commits per second.")
    var rate = 500

    @Option(help: "Anchor batch delay T in milliseconds.")
    var batchDelayMs = 100

    @Option(help: "Anchor batch size N.")
    var batchSize = 10_000

    @Option(help: "Block interval in milliseconds.")
    var blockIntervalMs = 50

    @Option(help: "The store: postgres://… or an SQLite file. Default: a temp SQLite file.")
    var store: String?

    @Option(help: "Validators: 1 (a one-validator chain) or a network of N running consensus.")
    var validators = 1

    @Option(help: "First P2P port of the network (validator K listens on base+10K).")
    var basePort = 26_900

    /// An unknown --store scheme exits 64 before anything is created (StoreOptions' rule).
    func validate() throws {
        if let store { try StoreOptions.validate(store: store) }
        guard (1...16).contains(validators) else { throw ValidationError("--validators must be 1 to 16") }
    }

    func run() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("careledger-bench-anchoring-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        var homes: [NodeHome] = []
        if validators == 1 {
            let home = NodeHome(dir.appendingPathComponent("node").path)
            _ = try home.initialize(chainId: "careledger-bench", moniker: "bench", power: 10, genesisTime: Date())
            homes = [home]
        } else {
            homes = try Testnet(validators: validators, chainId: "careledger-bench", basePort: basePort).initialize(in: dir, genesisTime: Date()).map(\.home)
        }
        let url = store ?? "sqlite:" + dir.appendingPathComponent("store.sqlite").path
        let recordStore = try await StoreLocation.open(url)
        var settings = NodeService.Settings()
        settings.rpcPort = 0
        settings.blockIntervalMillis = blockIntervalMs
        settings.anchoring = AnchoringService.Settings(maxLeaves: batchSize, maxDelayMillis: batchDelayMs, pollMillis: 5)
        var others: [NodeService] = []
        for home in homes.dropFirst() { others.append(try await NodeService.start(home: home, store: nil, settings: settings)) }
        let node = try await NodeService.start(home: homes[0], store: recordStore, settings: settings)
        let clock = ContinuousClock()
        let origin = clock.now
        func ms() -> Double { let d = clock.now - origin; return Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15 }

        // The watcher: each batch's completion time, polled every 2 ms.
        let run = UUID().uuidString.prefix(8)
        let watcher = Task { () -> [String: Double] in
            var done: [String: Double] = [:]
            var next: Int64 = (try? await recordStore.pendingAnchorBatches().first?.id) ?? 1
            while done.count < records && !Task.isCancelled {
                if let batch = try? await recordStore.anchorBatch(id: next), batch.height != nil {
                    let t = ms()
                    for leaf in (try? await recordStore.batchLeaves(batch.id)) ?? [] { done[leaf.key.id] = t }
                    next += 1
                } else {
                    try? await Task.sleep(for: .milliseconds(2))
                }
            }
            return done
        }
        var committed: [String: Double] = [:]
        let interval = 1.0 / Double(max(1, rate))
        for n in 0..<records {
            let due = Double(n) * interval * 1000
            let now = ms()
            if due > now { try await Task.sleep(for: .milliseconds(Int(due - now))) }
            let id = "bench-\(run)-\(n)"
            let json = #"{"resourceType":"Observation","id":"\#(id)","status":"final","code":{"text":"latency probe"},"valueQuantity":{"value":\#(n),"unit":"1"}}"#
            _ = try await recordStore.commit([try PreparedRecord(resource: try FHIRDocument.read(Array(json.utf8)).resource)], batch: nil)
            committed[id] = ms()
        }
        let timeout = Task {
            try? await Task.sleep(for: .seconds(60))
            watcher.cancel()
        }
        let done = await watcher.value
        timeout.cancel()
        await node.stop()
        for other in others { await other.stop() }
        try await recordStore.close()
        var latencies = committed.compactMap { id, t in done[id].map { $0 - t } }.sorted()
        guard !latencies.isEmpty else { throw ValidationError("no version was anchored within 60 s") }
        func pct(_ p: Double) -> Double { latencies[min(latencies.count - 1, Int((Double(latencies.count) * p).rounded(.up)) - 1)] }
        let floor = Double(batchDelayMs + blockIntervalMs)
        print("anchoring latency, store commit → receipt data in the store (\(url.hasPrefix("postgres") ? "PostgreSQL" : "SQLite"), \(validators) validator(s), \(records) versions at \(rate)/s, T = \(batchDelayMs) ms, block interval \(blockIntervalMs) ms)")
        print(String(format: "  p50 %.0f ms   p99 %.0f ms   max %.0f ms   anchored %d/%d", pct(0.5), pct(0.99), latencies.last ?? 0, latencies.count, records))
        print(String(format: "  by design, a batch's oldest version waits T + one block interval = %.0f ms: p50 is %.2f× that, p99 %.2f×", floor, pct(0.5) / floor, pct(0.99) / floor))
        latencies.removeAll()
        if done.count < records { throw ExitCode(1) }
    }
}
