import Foundation
import Testing

/// `careledger bench contracts` at tiny sizes: every part runs and prints its figures beside its reference. Nothing
/// here is timed: the figures only have to be there, positive, and every execution must have succeeded.
@Suite struct ContractsBenchTests {
    let cli = CLITests()

    static let mechanisms = ["pro-rata", "max-min", "weighted-max-min", "proportional", "cea", "cel", "talmud", "reserve", "lottery",
                             "priority-tiers", "double-auction", "tatonnement"]

    /// The numbers in `line`, in order (a figure such as "12.5" or "+0.31"; "×" and units ignored).
    static func numbers(_ line: Substring) -> [Double] {
        line.split(whereSeparator: { !($0.isNumber || $0 == "." || $0 == "-" || $0 == "+") }).compactMap { Double($0) }
    }

    @Test func everyPartPrintsItsFiguresBesideItsReference() async throws {
        // Off the concurrency pool (``offPool``): the run takes a while in a debug build, beside other suites.
        let cli = self.cli
        let run = try await offPool { try cli.run(["bench", "contracts", "--claimants", "12", "--seconds", "0.01"]) }
        #expect(run.status == 0, "\(run.stderr)")
        let lines = run.stdout.split(separator: "\n")

        // 1. A row per mechanism and data set, with epochs/s, ms/epoch, the reference and the ratio, and a success.
        for name in Self.mechanisms {
            let rows = lines.filter { $0.hasPrefix("    " + name + " ") }
            #expect(rows.count == 2, "\(name): one row per data set")
            for row in rows {
                #expect(row.contains("allocated") && !row.contains("FAILED"), "\(row)")
                let figures = Self.numbers(row.dropFirst(4 + name.count))
                #expect(figures.count >= 4 && figures.prefix(4).allSatisfy { $0 > 0 }, "\(row)")
            }
        }

        // 2. Both expressions on both data sets: the evaluator, plain Swift and their ratio; and the executor's path.
        let evaluator = lines.filter { $0.contains("evaluate(slots:)") }
        #expect(evaluator.count == 4)
        for line in evaluator {
            #expect(line.contains("plain Swift") && line.contains("goal ≤ 3×"), "\(line)")
            #expect(Self.numbers(line).filter { $0 > 0 }.count >= 3, "\(line)")
        }
        #expect(lines.filter { $0.contains("as the executor calls it") }.count == 4)

        // 3. Per data set: the reference block and one block per contract whose epoch ends in it.
        #expect(lines.filter { $0.contains("empty block, no epoch ends (reference)") }.count == 2)
        #expect(lines.filter { $0.contains("empty block ending a max-min epoch") && $0.contains("goal ≤ 10 ms") }.count == 2)
        #expect(lines.filter { $0.contains("empty block ending a pro-rata epoch") && $0.contains("goal ≤ 10 ms") }.count == 2)

        // 4. Simulate as a process beside the process start, and in-process: two mechanisms on each data set.
        let simulate = lines.filter { $0.contains("as a process, start") && $0.contains("in-process") }
        #expect(simulate.count == 4)
        for line in simulate {
            #expect(line.contains("(12 claims"), "\(line)")
            #expect(Self.numbers(line).prefix(2).allSatisfy { $0 > 0 }, "\(line)")
        }
    }

    @Test func unknownDataSetsAndPartsAreRefusedAsBadUsage() throws {
        #expect(try cli.run(["bench", "contracts", "--data", "uniform,zipf"]).status == 64)
        #expect(try cli.run(["bench", "contracts", "--only", "everything"]).status == 64)
        #expect(try cli.run(["bench", "contracts", "--claimants", "1"]).status == 64)
    }

    @Test func onePartAloneRunsAlone() throws {
        let run = try cli.run(["bench", "contracts", "--claimants", "8", "--seconds", "0.01", "--data", "skewed", "--only", "expressions"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("evaluate(slots:)"))
        #expect(!run.stdout.contains("1. One epoch") && !run.stdout.contains("as a process"))
    }
}
