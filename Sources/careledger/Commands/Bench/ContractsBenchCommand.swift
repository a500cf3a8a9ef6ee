import ArgumentParser
import Contracts
import Foundation
import Ledger
import Services

/// `careledger bench contracts`: allocation contracts (issue 18 point 8) — epochs per mechanism, priority expressions
/// beside plain Swift, one epoch inside block finalization, and `contract simulate` as a child process.
struct ContractsBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "contracts",
        abstract: "Allocation contracts: epochs/s per mechanism, the expression evaluator beside plain Swift, an epoch inside block finalization, and contract simulate as a process.",
        discussion: """
            Four parts, each printed beside a reference measured in the same run on the same claims, on every data \
            set of --data (seeded: "uniform" demands and attributes; "skewed", heavy-tailed demands with many ties):
              1. one epoch of each of the 12 mechanisms through ContractExecutor.execute at --claimants, beside \
            sorting the same claims by id and summing their demands (what any division does first);
              2. two priority expressions evaluated per claimant through Expression.evaluate(slots:), the fastest \
            entry point, and as the executor calls it (the slots built per claim with Claim.binding, then \
            evaluate(slots:)), beside the same computation written in plain Swift over the same attribute dictionaries \
            (goal ≤ 3×);
              3. one epoch inside LedgerApplication.finalizeBlock + commit (as the node runs it), with --claimants \
            registered participants claiming in two contracts (max-min with a triage priority, and pro-rata), beside \
            an empty block at a height where no epoch ends (goal: the difference ≤ 10 ms);
              4. `careledger contract simulate` as a child process on a --claimants claims file, beside the same \
            binary's process start (`contract simulate --help`) and the same simulation in-process.
            Each figure is the median of the runs that fit in --seconds (at least 3). Build in release mode for the \
            issue's figures: scripts/bench-contracts.sh runs this on the release build.

            Exit codes: 0 every figure printed; 1 an execution failed (its row says FAILED) or a check did not hold \
            (the evaluator and plain Swift disagree, a transaction was refused, a child process failed); 64 bad usage.
            """
    )

    @Option(help: "Claimants (claims) per epoch.")
    var claimants = 1_000

    @Option(help: "Seconds spent on each figure; its median run is reported.")
    var seconds = 0.25

    @Option(help: "Data sets, comma-separated: uniform, skewed.")
    var data = "uniform,skewed"

    @Option(help: "Parts to run, comma-separated: mechanisms, expressions, finalize, cli (default: all).")
    var only: String?

    @Option(help: "Seed of the generated claims.")
    var seed: UInt64 = 18

    static let parts = ["mechanisms", "expressions", "finalize", "cli"]

    func validate() throws {
        guard (2...CompiledContract.maxClaimants).contains(claimants) else { throw ValidationError("--claimants must be 2 to \(CompiledContract.maxClaimants)") }
        guard seconds > 0, seconds <= 60 else { throw ValidationError("--seconds must be above 0 and at most 60") }
        for name in dataSets where !ContractsBenchData.names.contains(name) { throw ValidationError("--data takes \(ContractsBenchData.names.joined(separator: ", ")), not '\(name)'") }
        for part in chosenParts where !Self.parts.contains(part) { throw ValidationError("--only takes \(Self.parts.joined(separator: ", ")), not '\(part)'") }
    }

    var dataSets: [String] { data.split(separator: ",").map { String($0) } }
    var chosenParts: [String] { only.map { $0.split(separator: ",").map { String($0) } } ?? Self.parts }

    func run() throws {
        let sets = dataSets.map { ContractsBenchData(name: $0, claimants: claimants, seed: seed) }
        #if DEBUG
        let build = "debug build: figures for development only; build with -c release for the issue's"
        #else
        let build = "release build"
        #endif
        print("contracts benchmark: \(claimants) claimants, data sets \(dataSets.joined(separator: ", ")), seed \(seed), median of the runs in \(seconds) s per figure, \(build)")
        for set in sets { print("  \(set.name): \(set.summary)") }
        let parts = chosenParts
        let failed = parts.contains("mechanisms") ? try mechanisms(sets) : 0
        if parts.contains("expressions") { try expressions(sets) }
        if parts.contains("finalize") { try finalization(sets) }
        if parts.contains("cli") { try processes(sets) }
        if failed > 0 { throw ContractsBenchFailure("\(failed) executions failed (FAILED above)") }
    }

    /// Per-run seconds of `body`: the median of the runs that fit in `--seconds` (at least 3, after one warm-up).
    func time(_ body: () throws -> Void) rethrows -> Double {
        try body()
        let clock = ContinuousClock()
        let end = clock.now + .milliseconds(Int64(seconds * 1000))
        var times: [Double] = []
        while times.count < 3 || clock.now < end {
            let start = clock.now
            try body()
            times.append(Bench.seconds(clock.now - start))
        }
        return Bench.middle(times)
    }

    // MARK: 1. Mechanisms

    /// Prints part 1; returns how many executions failed.
    func mechanisms(_ sets: [ContractsBenchData]) throws -> Int {
        var failed = 0
        print("")
        print("1. One epoch through ContractExecutor.execute; reference: sorting the same claims by id and summing their demands")
        for set in sets {
            print("  \(set.name)")
            print("    " + "mechanism".padding(toLength: 18, withPad: " ", startingAt: 0)
                  + "  epochs/s   ms/epoch   reference ms   × reference        gas   steps  result")
            for kind in MechanismSpec.Kind.allCases {
                let claims = set.claims(for: kind)
                let contract = try CompiledContract(set.definition(for: kind))
                let lotterySeed = [UInt8](repeating: 18, count: 32)
                let supply = contract.definition.pool.units
                var result = ContractExecutor.execute(contract, epoch: 0, supply: supply, claims: claims, seed: lotterySeed)
                let epoch = time { result = ContractExecutor.execute(contract, epoch: 0, supply: supply, claims: claims, seed: lotterySeed) }
                var sink = Rational.zero
                let reference = try time {
                    let sorted = claims.sorted { idPrecedes($0.claimant, $1.claimant) }
                    sink = try Rational.sum(sorted.map(\.units))
                }
                guard sink >= .zero else { throw ContractsBenchFailure("a negative demand in the generated claims") }
                if result.failure != nil { failed += 1 }
                let outcome = result.failure.map { "FAILED: \($0)" } ?? "allocated \(result.allocated.displayText) of \(result.supply.displayText)"
                print("    " + kind.rawValue.padding(toLength: 18, withPad: " ", startingAt: 0)
                      + String(format: "%10.1f %10.3f %14.3f %13.1f× %10d %7d  ", 1 / epoch, epoch * 1000, reference * 1000, epoch / reference,
                               Int(result.gasUsed), result.steps.count) + outcome)
            }
        }
        return failed
    }

    // MARK: 2. Expressions

    /// A priority expression and the same computation in plain Swift.
    struct ExpressionCase: Sendable {
        var name: String
        var source: String
        var swift: @Sendable (Claim) -> Int64?
    }

    static let expressionCases: [ExpressionCase] = [
        ExpressionCase(name: "triage", source: "attributes.sofa <= 7 ? 3 : (attributes.sofa <= 11 ? 2 : 0)") { claim in
            guard case .int(let sofa) = claim.attributes["sofa"] else { return nil }
            return sofa <= 7 ? 3 : (sofa <= 11 ? 2 : 0)
        },
        ExpressionCase(name: "need", source: "units * 2 + attributes.beds - attributes.staff / 2") { claim in
            guard let units = claim.units.int64, case .int(let beds) = claim.attributes["beds"], case .int(let staff) = claim.attributes["staff"] else { return nil }
            let (doubled, o1) = units.multipliedReportingOverflow(by: 2)
            let (sum, o2) = doubled.addingReportingOverflow(beds)
            let (need, o3) = sum.subtractingReportingOverflow(staff / 2)
            return o1 || o2 || o3 ? nil : need
        },
    ]

    func expressions(_ sets: [ContractsBenchData]) throws {
        print("")
        print("2. Priority expressions per claimant; reference: the same computation as a plain Swift closure over the same claims' attribute dictionaries")
        for c in Self.expressionCases {
            let expression = try Expression(c.source)
            print("  \(c.name): \(c.source)")
            for set in sets {
                let claims = set.claims(for: .maxMin)
                let supply = Rational(claims.count)
                // The slots are built before timing, as a caller that evaluates one expression many times does.
                let slots = claims.map { claim in expression.variables.map { claim.binding($0, supply: supply, epoch: 0) } }
                for (claim, s) in zip(claims, slots) {
                    var meter = Meter(budget: .max)
                    let value = try expression.evaluate(slots: s, meter: &meter)
                    guard let expected = c.swift(claim), value == .int(expected) else {
                        throw ContractsBenchFailure("\(c.name) for \(claim.claimant): the evaluator gave \(value), plain Swift \(c.swift(claim).map(String.init) ?? "nothing")")
                    }
                }
                var total: Int64 = 0
                let evaluator = try time {
                    var meter = Meter(budget: .max)
                    for s in slots { if case .int(let v) = try expression.evaluate(slots: s, meter: &meter) { total &+= v } }
                }
                // What ExecutionContext.evaluate does per claim: the slots of the variables the expression reads, each
                // from Claim.binding, then evaluate(slots:).
                let executorPath = try time {
                    var meter = Meter(budget: .max)
                    for claim in claims {
                        var claimSlots: [Value?] = []
                        claimSlots.reserveCapacity(expression.variables.count)
                        for name in expression.variables { claimSlots.append(claim.binding(name, supply: supply, epoch: 0)) }
                        if case .int(let v) = try expression.evaluate(slots: claimSlots, meter: &meter) { total &+= v }
                    }
                }
                let swift = time {
                    for claim in claims { total &+= c.swift(claim) ?? 0 }
                }
                if total == 42 { print("") }
                let n = Double(claims.count)
                let ratio = evaluator / swift
                print("    " + set.name.padding(toLength: 9, withPad: " ", startingAt: 0)
                      + String(format: "evaluate(slots:) %8.1f ns/claimant   plain Swift %7.1f ns   ratio %5.1f×   goal ≤ 3×: %@",
                               evaluator / n * 1e9, swift / n * 1e9, ratio, ratio <= 3 ? "met" : "NOT met"))
                print(String(repeating: " ", count: 13)
                      + String(format: "as the executor calls it (slots built per claim with Claim.binding): %.1f ns/claimant, %.1f× plain Swift",
                               executorPath / n * 1e9, executorPath / swift))
            }
        }
    }

    // MARK: 3. Block finalization

    func finalization(_ sets: [ContractsBenchData]) throws {
        print("")
        print("3. One epoch inside LedgerApplication.finalizeBlock + commit, \(claimants) standing claims per contract; reference: an empty block where no epoch ends")
        let setupStart = ContinuousClock.now
        var chain = try ContractsBenchChain(claimants: claimants)
        let triage = Self.expressionCases[0].source
        let total = sets.first.map { $0.profiles.reduce(0) { $0 + $1.demand } } ?? claimants
        // Epochs of 3 blocks: the max-min contract's end at heights ≡ 0 (mod 3), pro-rata's at ≡ 1, none at ≡ 2.
        let maxMin = ContractDefinition(id: "ventilator-triage", description: "ventilators max-min fair, by SOFA triage priority",
                                        pool: Pool(resource: "ventilator", units: Rational(total / 2), divisible: false, owners: [ContractsBenchChain.names[0]]),
                                        epochs: EpochSchedule(start: 1, length: 3), mechanism: MechanismSpec(type: .maxMin), priority: triage)
        let proRata = ContractDefinition(id: "icu-bed-days", description: "ICU bed-days pro rata to demand",
                                         pool: Pool(resource: "ICU bed-day", units: Rational(total / 2), divisible: false, owners: [ContractsBenchChain.names[0]]),
                                         epochs: EpochSchedule(start: 2, length: 3), mechanism: MechanismSpec(type: .proRata))
        try chain.deploy([maxMin, proRata])
        print(String(format: "  setup: %d participants registered, 2 contracts voted in (%.1f s)", claimants + 4, Bench.seconds(ContinuousClock.now - setupStart)))
        for set in sets {
            let claims = set.claims(for: .maxMin)
            try chain.claim(claims, in: [maxMin.id, proRata.id])
            var times: [UInt64: [Double]] = [0: [], 1: [], 2: []]
            let clock = ContinuousClock()
            let end = clock.now + .milliseconds(Int64(seconds * 3000))
            var checked: Set<String> = []
            while (times[2]?.count ?? 0) < 5 || clock.now < end {
                let height = chain.app.height + 1
                times[height % 3, default: []].append(try chain.emptyBlock())
                for d in [maxMin, proRata] where d.epochs.epoch(endingAt: height) != nil && !checked.contains(d.id) {
                    guard let epoch = d.epochs.epoch(endingAt: height), let result = chain.app.state.allocation(d.id, epoch: epoch) else {
                        throw ContractsBenchFailure("\(d.id): no result stored at height \(height)")
                    }
                    if let failure = result.failure { throw ContractsBenchFailure("\(d.id) epoch \(epoch) failed: \(failure)") }
                    guard result.allocations.count == claims.count else { throw ContractsBenchFailure("\(d.id): \(result.allocations.count) allocations for \(claims.count) claims") }
                    checked.insert(d.id)
                }
            }
            let reference = Bench.middle(times[2] ?? []) * 1000
            print("  \(set.name)")
            print("    " + "empty block, no epoch ends (reference)".padding(toLength: 54, withPad: " ", startingAt: 0)
                  + String(format: "%8.2f ms per finalizeBlock + commit", reference))
            for (label, residue) in [("max-min epoch (triage priority)", UInt64(0)), ("pro-rata epoch", UInt64(1))] {
                let ms = Bench.middle(times[residue] ?? []) * 1000
                print("    " + ("empty block ending a " + label).padding(toLength: 54, withPad: " ", startingAt: 0)
                      + String(format: "%8.2f ms   the epoch: %+.2f ms   goal ≤ 10 ms: %@", ms, ms - reference, ms - reference <= 10 ? "met" : "NOT met"))
            }
        }
    }

    // MARK: 4. The command as users run it

    func processes(_ sets: [ContractsBenchData]) throws {
        print("")
        print("4. careledger contract simulate as a child process; reference: the same binary's process start (contract simulate --help)")
        guard let binary = Bundle.main.executablePath else { throw ContractsBenchFailure("cannot find this executable's path") }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("careledger-bench-contracts-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        func child(_ arguments: [String]) throws {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: binary)
            p.arguments = arguments
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            p.standardInput = FileHandle.nullDevice
            try p.run()
            p.waitUntilExit()
            guard p.terminationStatus == 0 else { throw ContractsBenchFailure("careledger \(arguments.joined(separator: " ")) exited \(p.terminationStatus)") }
        }
        /// Median seconds of the command and of the reference, run in turn so that both see the same neighbours.
        func timedChild(_ arguments: [String]) throws -> (process: Double, start: Double) {
            let clock = ContinuousClock()
            let help = ["contract", "simulate", "--help"]
            try child(help)
            try child(arguments)
            var starts: [Double] = [], runs: [Double] = []
            let end = clock.now + .milliseconds(Int64(seconds * 1000))
            while runs.count < 3 || clock.now < end {
                starts.append(Bench.seconds(try clock.measure { try child(help) }))
                runs.append(Bench.seconds(try clock.measure { try child(arguments) }))
            }
            return (Bench.middle(runs), Bench.middle(starts))
        }
        for set in sets {
            for kind in [MechanismSpec.Kind.maxMin, .priorityTiers] {
                let definition = dir.appendingPathComponent("\(set.name)-\(kind.rawValue).json")
                let claimsFile = dir.appendingPathComponent("\(set.name)-\(kind.rawValue).claims.json")
                let definitionData = try encoder.encode(set.definition(for: kind))
                let claimsData = try encoder.encode(set.claims(for: kind))
                try definitionData.write(to: definition)
                try claimsData.write(to: claimsFile)
                let definitionText = String(decoding: definitionData, as: UTF8.self), claimsText = String(decoding: claimsData, as: UTF8.self)
                var bytes = 0
                let inProcess = try time {
                    do throws(ServiceError) {
                        let outcome = try ContractSimulation.run(definitionText: definitionText, claimsText: claimsText,
                                                                 definitionFile: definition.path, claimsFile: claimsFile.path)
                        bytes = outcome.report.json().count
                    } catch {
                        throw ContractsBenchFailure("simulate \(kind.rawValue) on \(set.name): \(error)")
                    }
                }
                let (process, start) = try timedChild(["contract", "simulate", definition.path, "--claims", claimsFile.path])
                print("  " + "\(set.name), \(kind.rawValue)".padding(toLength: 28, withPad: " ", startingAt: 0)
                      + String(format: "%8.1f ms as a process, start %.1f ms (%.1f ms above it)   in-process %.1f ms   (%d claims, %d KB of output)",
                               process * 1000, start * 1000, (process - start) * 1000, inProcess * 1000, set.profiles.count, bytes / 1024))
            }
        }
    }
}

/// Something the benchmark found wrong while it ran (exit 1), as opposed to bad usage (exit 64).
struct ContractsBenchFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A generated population of claimants: what each asks and the attributes expressions read, from a seeded
/// SplitMix64 (ContractsBenchRandom) so that every run divides the same claims.
struct ContractsBenchData {
    static let names = ["uniform", "skewed"]

    /// One claimant's figures, from which every mechanism's claim is made.
    struct Profile {
        var id: String
        var demand: Int
        var weight: Int
        var sofa: Int
        var beds: Int
        var staff: Int
        var essential: Bool
        var clinical: Int
        var price: Int
        var side: Claim.Side
        var intercept: Int
        var slope: Int
    }

    let name: String
    let profiles: [Profile]

    init(name: String, claimants: Int, seed: UInt64) {
        self.name = name
        var rng = ContractsBenchRandom(seed: seed &+ (name == "skewed" ? 1 : 0))
        let width = max(4, String(claimants).count)
        var profiles: [Profile] = []
        for i in 1...claimants {
            let id = "claimant-" + String(repeating: "0", count: width - String(i).count) + String(i)
            let side: Claim.Side = i % 2 == 0 ? .buy : .sell
            if name == "skewed" {
                // Heavy tails (Pareto, α ≈ 1.16: a fifth of the claimants ask for most of the units) and many ties.
                let pareto = min(500, Int(2 / pow(max(rng.unit(), 1e-9), 1 / 1.16)))
                let tied = rng.below(10) < 6
                profiles.append(Profile(id: id, demand: max(1, pareto), weight: rng.below(5) == 0 ? 10 : 1, sofa: tied ? 9 : rng.int(0...20),
                                        beds: [50, 50, 200, 800][rng.below(4)], staff: [20, 20, 100, 400][rng.below(4)], essential: rng.below(10) == 0,
                                        clinical: rng.int(1...20), price: [10, 20, 20, 50][rng.below(4)], side: side,
                                        intercept: side == .buy ? min(200, 20 + pareto) : rng.int(0...5), slope: side == .buy ? -[1, 2][rng.below(2)] : 1))
            } else {
                profiles.append(Profile(id: id, demand: rng.int(1...20), weight: rng.int(1...5), sofa: rng.int(0...20), beds: rng.int(10...500),
                                        staff: rng.int(5...300), essential: rng.below(10) < 3, clinical: rng.int(1...1000), price: rng.int(1...100),
                                        side: side, intercept: side == .buy ? rng.int(20...40) : rng.int(0...10), slope: side == .buy ? -1 : 1))
            }
        }
        // Claims arrive in no particular order: the executor sorts them.
        for i in stride(from: profiles.count - 1, to: 0, by: -1) { profiles.swapAt(i, rng.below(i + 1)) }
        self.profiles = profiles
    }

    var summary: String {
        let demands = profiles.map(\.demand).sorted()
        let total = demands.reduce(0, +)
        let top = demands.suffix(max(1, demands.count / 5)).reduce(0, +)
        return "demands \(demands.first ?? 0)–\(demands.last ?? 0) units (total \(total), the top fifth ask \(total > 0 ? top * 100 / total : 0)%), "
            + "\(Set(demands).count) distinct demands, \(Set(profiles.map(\.sofa)).count) distinct SOFA scores; supply half the total demand"
    }

    var totalDemand: Int { profiles.reduce(0) { $0 + $1.demand } }

    /// The claims `kind` reads: sides and prices for the markets, weights where they count, attributes always.
    func claims(for kind: MechanismSpec.Kind) -> [Claim] {
        profiles.map { p in
            let attributes: [String: Value] = ["sofa": .int(Int64(p.sofa)), "beds": .int(Int64(p.beds)), "staff": .int(Int64(p.staff)),
                                               "essential": .bool(p.essential), "clinical": .int(Int64(p.clinical))]
            switch kind {
            case .doubleAuction:
                return Claim(claimant: p.id, units: Rational(min(p.demand, 5)), price: Rational(p.price), side: p.side)
            case .tatonnement:
                return Claim(claimant: p.id, units: Rational(100), side: p.side,
                             attributes: ["intercept": .int(Int64(p.intercept)), "slope": .int(Int64(p.slope))])
            case .weightedMaxMin, .lottery:
                return Claim(claimant: p.id, units: Rational(p.demand), weight: Rational(p.weight), attributes: attributes)
            default:
                return Claim(claimant: p.id, units: Rational(p.demand), attributes: attributes)
            }
        }
    }

    /// A contract of `kind` over half the total demand, with the parameters the samples in Samples/contracts use.
    func definition(for kind: MechanismSpec.Kind) -> ContractDefinition {
        let supply = totalDemand / 2
        var spec = MechanismSpec(type: kind)
        switch kind {
        case .reserve:
            let essential = supply / 5
            spec.categories = [ReserveCategory(name: "unreserved", capacity: Rational(supply - essential), priority: "attributes.clinical"),
                               ReserveCategory(name: "essential", capacity: Rational(essential), eligible: "attributes.essential",
                                               priority: "attributes.clinical")]
            spec.order = ["unreserved", "essential"]
        case .priorityTiers:
            spec.tiers = [Tier(name: "red", when: "attributes.sofa <= 7"), Tier(name: "yellow", when: "attributes.sofa <= 11"),
                          Tier(name: "blue", when: "true", excluded: true)]
            spec.within = .maxMin
        case .tatonnement:
            // Aggregate excess demand falls by about 1.25–1.5 units per unit of price per claimant pair: λ = 1/(2N) converges.
            spec.initialPrice = Rational(10)
            spec.step = (try? Rational(1, Int128(2 * profiles.count))) ?? .one
            spec.maxIterations = 200
            spec.tolerance = Rational(max(1, profiles.count / 100))
        default:
            break
        }
        let divisible: Set<MechanismSpec.Kind> = [.weightedMaxMin, .proportional, .cea, .cel, .talmud, .tatonnement]
        return ContractDefinition(id: "bench-\(kind.rawValue)", description: "bench contracts, \(name) data",
                                  pool: Pool(resource: "unit", units: Rational(supply), divisible: divisible.contains(kind), owners: ["claimant-0001"]),
                                  epochs: EpochSchedule(start: 1, length: 100), mechanism: spec)
    }
}

/// SplitMix64 (Steele, Lea, Flood 2014): a seeded generator for the benchmark's data.
struct ContractsBenchRandom {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    mutating func int(_ range: ClosedRange<Int>) -> Int { range.lowerBound + below(range.count) }
    /// Uniform in (0, 1].
    mutating func unit() -> Double { Double((next() >> 11) + 1) / Double(1 << 53) }
}

/// An in-memory chain for part 3: four genesis participants with equal stake (three of them vote contracts in)
/// and the claimants, registered by their own RegisterParticipant transactions.
struct ContractsBenchChain {
    static let chainId = "careledger-bench-contracts"
    static let names = ["hospital-a", "hospital-b", "hospital-c", "hospital-d"]
    let genesisKeys: [SigningKey]
    var claimantKeys: [String: SigningKey] = [:]
    var nonces: [PublicKey: UInt64] = [:]
    var app: LedgerApplication

    init(claimants: Int) throws {
        genesisKeys = try (1...4).map { try SigningKey(seed: [UInt8](repeating: UInt8(40 + $0), count: 32)) }
        app = LedgerApplication(genesis: LedgerState(chainId: Self.chainId, participants: genesisKeys.enumerated().map { i, k in
            (k.publicKey, Participant(name: Self.names[i], nodeKey: k.publicKey, stake: 10))
        }))
        let width = max(4, String(claimants).count)
        var registrations: [Transaction] = []
        for i in 1...claimants {
            let name = "claimant-" + String(repeating: "0", count: width - String(i).count) + String(i)
            var seed = [UInt8](repeating: 0xC1, count: 32)
            withUnsafeBytes(of: UInt64(i).bigEndian) { for (k, b) in $0.enumerated() { seed[k] = b } }
            let key = try SigningKey(seed: seed)
            claimantKeys[name] = key
            registrations.append(try tx(.registerParticipant(RegisterParticipant(name: name, nodeKey: key.publicKey)), key))
        }
        for chunk in stride(from: 0, to: registrations.count, by: 500) {
            _ = try block(Array(registrations[chunk..<min(chunk + 500, registrations.count)]))
        }
    }

    mutating func tx(_ body: TransactionBody, _ key: SigningKey) throws -> Transaction {
        let nonce = nonces[key.publicKey, default: 0]
        nonces[key.publicKey] = nonce + 1
        return try Transaction(signing: body, nonce: nonce, chainId: Self.chainId, with: key)
    }

    /// Deploys each definition and votes it in with three of the four stakes, in one block.
    mutating func deploy(_ definitions: [ContractDefinition]) throws {
        var txs: [Transaction] = []
        for d in definitions {
            txs.append(try tx(.contract(.deploy(d)), genesisKeys[0]))
            for k in genesisKeys[1...2] { txs.append(try tx(.contract(.vote(contract: d.id, version: d.version, approve: true)), k)) }
        }
        _ = try block(txs)
        for d in definitions where app.state.contract(d.id) == nil { throw ContractsBenchFailure("\(d.id) is not in force after its votes") }
    }

    /// Each claim, signed by its claimant, in every contract of `contracts` (replacing its earlier claim there).
    mutating func claim(_ claims: [Claim], in contracts: [String]) throws {
        var txs: [Transaction] = []
        for c in claims {
            guard let key = claimantKeys[c.claimant] else { throw ContractsBenchFailure("no participant '\(c.claimant)'") }
            for id in contracts { txs.append(try tx(.contract(.claim(contract: id, c)), key)) }
        }
        for chunk in stride(from: 0, to: txs.count, by: 1_000) { _ = try block(Array(txs[chunk..<min(chunk + 1_000, txs.count)])) }
    }

    /// Finalizes and commits an empty block; returns the seconds finalizeBlock + commit took.
    mutating func emptyBlock() throws -> Double { try block([]) }

    /// Finalizes and commits a block of `txs`, as the node does; every transaction must apply. Returns the seconds
    /// finalizeBlock + commit took.
    mutating func block(_ txs: [Transaction]) throws -> Double {
        let zero = [UInt8](repeating: 0, count: 32)
        let height = app.height + 1
        let header = BlockHeader(chainId: app.chainId, height: height, time: 1_000 * Int64(height), previousBlockId: zero,
                                 transactionsRoot: Block.transactionsRoot(txs), stateRoot: app.committedRoot,
                                 validatorsHash: app.state.validators.hash, nextValidatorsHash: app.state.validators.hash, proposer: genesisKeys[0].publicKey)
        let block = Block(header: header, transactions: txs, lastCommit: nil)
        let clock = ContinuousClock()
        let start = clock.now
        let finalized = app.finalizeBlock(block)
        app.commit()
        let elapsed = Bench.seconds(clock.now - start)
        if let (i, r) = finalized.results.enumerated().first(where: { $0.element.code != nil }) {
            throw ContractsBenchFailure("transaction \(i) of the block at height \(height) was refused: \(r.message)")
        }
        return elapsed
    }
}
