import ArgumentParser
import Consensus
import Foundation
import Synchronization

/// `careledger sim --seeds N [--start S]`: the deterministic consensus simulation over many seeds.
struct SimCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sim",
        abstract: "Run the deterministic consensus simulation for N seeds and print every failing seed (replay one with --start S --seeds 1 --verbose).",
        discussion: """
            Each seed draws 4–7 validators with random stakes, sometimes a byzantine twin, packet loss, delay, \
            duplication, reordering, partitions, crashes and restarts; then the faults heal and new blocks must \
            commit. Checks: one block per height, a valid certificate for every block, no honest double sign, one \
            application hash per height, every equivocation seen committed as evidence, the allocation invariants of every contract epoch executed (the simulation deploys, votes on and claims in an allocation contract), and liveness after healing. \
            Exit 1 if any seed fails.
            """
    )

    @Option(help: "How many seeds.")
    var seeds: UInt64 = 200

    @Option(help: "The first seed.")
    var start: UInt64 = 1

    @Option(help: "How many seeds to run at once, each on its own thread (seeds are independent; the summary is the same).")
    var jobs: Int = 1

    @Option(help: "Print a progress line at most this often, in seconds (0: never).")
    var progressEvery: Int = 30

    @Flag(help: "Print every seed's summary, not only failures.")
    var verbose = false

    func validate() throws {
        guard jobs >= 1, jobs <= 64 else { throw ValidationError("--jobs must be 1 to 64") }
        guard seeds >= 1 else { throw ValidationError("--seeds must be at least 1") }
    }

    /// The running totals, shared by the worker threads.
    struct Totals {
        var done: UInt64 = 0
        var failed: [UInt64] = []
        var twins = 0, crashes = 0, partitions = 0, evidence = 0, equivocations = 0, messages = 0
        var heights: UInt64 = 0
        var contractTransactions = 0
        var contractEpochs = 0
        var lastProgress = ContinuousClock.now

        mutating func add(_ r: Simulation.Report) {
            done += 1
            if !r.ok { failed.append(r.seed) }
            twins += r.twin ? 1 : 0
            crashes += r.crashes
            partitions += r.partitions
            evidence += r.evidenceCommitted
            equivocations += r.equivocationsSeen
            heights += r.heights
            contractTransactions += r.contractTransactions
            contractEpochs += r.contractEpochs
            messages += r.messages
        }
    }

    func run() throws {
        let begin = ContinuousClock.now
        let totals = Mutex(Totals())
        let (seeds, start, jobs, verbose, progressEvery) = (self.seeds, self.start, self.jobs, self.verbose, self.progressEvery)
        DispatchQueue.concurrentPerform(iterations: jobs) { job in
            var index = UInt64(job)
            while index < seeds {
                let r = Simulation.run(seed: start &+ index)
                index += UInt64(jobs)
                var lines: [String] = []
                if !r.ok {
                    lines.append("FAILED \(r)")
                    if verbose { lines += r.nodes.map { "  \($0)" } }
                } else if verbose {
                    lines.append(r.description)
                }
                totals.withLock { t in
                    t.add(r)
                    let now = ContinuousClock.now
                    if progressEvery > 0, now - t.lastProgress >= .seconds(progressEvery), t.done < seeds {
                        t.lastProgress = now
                        lines.append("… \(t.done)/\(seeds) seeds, \(t.failed.count) failed, \((now - begin).components.seconds) s")
                    }
                    // Written straight to the descriptor (unbuffered), so a long run piped to a file shows progress.
                    if !lines.isEmpty { FileHandle.standardOutput.write(Data(lines.map { $0 + "\n" }.joined().utf8)) }
                }
            }
        }
        let t = totals.withLock { $0 }
        let failed = t.failed.sorted()
        let seconds = (ContinuousClock.now - begin).components.seconds
        print("\(seeds) seeds from \(start): \(seeds - UInt64(failed.count)) clean, \(failed.count) failed\(failed.isEmpty ? "" : ": " + failed.map(String.init).joined(separator: " "))")
        print("  \(t.twins) with a byzantine twin, \(t.crashes) crashes, \(t.partitions) partitions, \(t.equivocations) equivocations seen, \(t.evidence) committed as evidence")
        print("  \(t.heights) heights committed, \(t.contractTransactions) contract transactions, \(t.contractEpochs) contract epochs, \(t.messages) messages delivered or lost, \(seconds) s")
        if !failed.isEmpty { throw ExitCode(1) }
    }
}
