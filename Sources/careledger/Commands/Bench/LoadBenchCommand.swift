import ArgumentParser
import Foundation
import Ledger
import Node

/// `careledger bench load`: transactions at a fixed rate against four validator processes (CometBFT's loadtime).
struct LoadBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "load",
        abstract: "Throughput and commit latency of a network of validator processes under a fixed transaction rate.",
        discussion: """
            Uses the testnet in --dir (made with `testnet init --validators 4` when the directory is empty), starts \
            its validators as processes of this binary, registers load keys, then sends --tx-size byte transactions \
            at --rate per second for --duration seconds, spread over the validators' RPCs. Each transaction carries \
            its send time; its latency is the moment its block reached node0's block store minus that time. Ends \
            with `throughput: X tx/s, p50: Y ms, p99: Z ms, lost: N`. With --sweep R1,R2,… each rate runs in turn on \
            the same network and the highest rate that loses nothing is reported. The reference, measured in the \
            same run: Ed25519 verifications per second on this machine, and from it the ceiling every validator \
            verifying every transaction once allows. Build in release mode: swift run -c release careledger bench load …
            """
    )

    @Option(help: "The testnet directory (created with 4 validators if it holds none).")
    var dir: String

    @Option(help: "Transactions per second.")
    var rate = 2_000

    @Option(help: "Seconds of load per rate.")
    var duration = 30

    @Option(help: "Encoded size of each transaction in bytes.")
    var txSize = 1_024

    @Option(help: "Comma-separated rates to run in turn (instead of --rate).")
    var sweep: String?

    @Option(help: "First port of a testnet this command creates (node K uses base+10K and base+10K+1).")
    var basePort = 26_700

    @Option(help: "The validators' --block-interval-ms (default: the node's, 100).")
    var blockIntervalMs: Int?

    func run() async throws {
        let rates: [Int]
        if let sweep {
            let parsed = sweep.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard !parsed.isEmpty, parsed.allSatisfy({ ($0 ?? 0) > 0 }) else { throw ValidationError("--sweep takes positive rates separated by commas, e.g. 1000,2000,3000") }
            rates = parsed.compactMap { $0 }
        } else {
            guard rate > 0 else { throw ValidationError("--rate must be positive") }
            rates = [rate]
        }
        guard duration > 0, duration <= 3_600 else { throw ValidationError("--duration must be 1 to 3600 seconds") }
        let directory = URL(fileURLWithPath: dir)
        if !FileManager.default.fileExists(atPath: directory.appendingPathComponent("node0/config/genesis.json").path) {
            let testnet = try Testnet(validators: 4, chainId: "careledger-load", basePort: basePort)
            _ = try testnet.initialize(in: directory, genesisTime: Date())
            Output.line("created a 4-validator testnet in \(directory.path)")
        }
        guard let binary = Bundle.main.executableURL else { throw ValidationError("cannot find this executable to start the validators") }
        let network = try LocalNetwork(directory: directory, binary: binary, arguments: (blockIntervalMs.map { ["--block-interval-ms", String($0)] } ?? []))
        let reference = Self.ed25519PerSecond()
        let ceiling = reference * Double(ProcessInfo.processInfo.activeProcessorCount) / Double(network.count)
        Output.line("reference: Ed25519 verifies \(Int(reference))/s on one core; \(network.count) validators on \(ProcessInfo.processInfo.activeProcessorCount) cores each verifying every transaction once allow at most \(Int(ceiling)) tx/s")
        try await network.startAll()
        Output.line("\(network.count) validators running (logs in \(directory.path)/nodeK/node.log)")
        var reports: [LoadGenerator.Report] = []
        do {
            for r in rates {
                var settings = LoadGenerator.Settings(rate: r, duration: .seconds(duration), txSize: txSize)
                settings.keys = 64
                let report = try await LoadGenerator.run(network: network, settings: settings) { Output.line("  \($0)") }
                reports.append(report)
                Output.line(report.detail)
                Output.line(String(format: "  %.2f of the verification ceiling", report.throughput / max(1, ceiling)))
                Output.line(report.line)
            }
        } catch {
            network.stopAll()
            throw error
        }
        network.stopAll()
        if reports.count > 1 {
            let clean = reports.filter { $0.lost == 0 && $0.committed > 0 }
            if let best = clean.max(by: { $0.rate < $1.rate }) {
                Output.line("highest rate that lost nothing: \(best.rate) tx/s — \(best.line)")
            } else {
                Output.line("every rate lost transactions")
            }
        }
    }

    /// Ed25519 verifications per second on one core, timed now.
    static func ed25519PerSecond() -> Double {
        let key = SigningKey()
        let message = [UInt8](repeating: 7, count: 1_024)
        guard let signature = try? key.sign(message) else { return 0 }
        let count = 3_000
        let start = ContinuousClock.now
        var ok = 0
        for _ in 0..<count where key.publicKey.verifies(signature, over: message) { ok += 1 }
        let elapsed = ContinuousClock.now - start
        let seconds = Bench.seconds(elapsed)
        return seconds > 0 ? Double(ok) / seconds : 0
    }
}
