import ArgumentParser
import Consensus
import Foundation

/// `careledger sim --seeds N [--start S]`: the deterministic consensus simulation over many seeds.
struct SimCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sim",
        abstract: "Run the deterministic consensus simulation for N seeds and print every failing seed (replay one with --start S --seeds 1 --verbose).",
        discussion: """
            Each seed draws 4–7 validators with random stakes, sometimes a byzantine twin, packet loss, delay, \
            duplication, reordering, partitions, crashes and restarts; then the faults heal and new blocks must \
            commit. Checks: one block per height, a valid certificate for every block, no honest double sign, one \
            application hash per height, every equivocation seen committed as evidence, and liveness after healing. \
            Exit 1 if any seed fails.
            """
    )

    @Option(help: "How many seeds.")
    var seeds: UInt64 = 200

    @Option(help: "The first seed.")
    var start: UInt64 = 1

    @Flag(help: "Print every seed's summary, not only failures.")
    var verbose = false

    func run() throws {
        let begin = ContinuousClock.now
        var failed: [UInt64] = []
        var twins = 0, crashes = 0, partitions = 0, evidence = 0, equivocations = 0
        var heights: UInt64 = 0
        var messages = 0
        for seed in start..<(start &+ seeds) {
            let r = Simulation.run(seed: seed)
            if !r.ok {
                failed.append(seed)
                print("FAILED \(r)")
                if verbose { for line in r.nodes { print("  \(line)") } }
            } else if verbose {
                print(r)
            }
            twins += r.twin ? 1 : 0
            crashes += r.crashes
            partitions += r.partitions
            evidence += r.evidenceCommitted
            equivocations += r.equivocationsSeen
            heights += r.heights
            messages += r.messages
        }
        let seconds = (ContinuousClock.now - begin).components.seconds
        print("\(seeds) seeds from \(start): \(seeds - UInt64(failed.count)) clean, \(failed.count) failed\(failed.isEmpty ? "" : ": " + failed.map(String.init).joined(separator: " "))")
        print("  \(twins) with a byzantine twin, \(crashes) crashes, \(partitions) partitions, \(equivocations) equivocations seen, \(evidence) committed as evidence")
        print("  \(heights) heights committed, \(messages) messages delivered or lost, \(seconds) s")
        if !failed.isEmpty { throw ExitCode(1) }
    }
}
