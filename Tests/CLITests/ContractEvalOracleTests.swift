import Foundation
import TestSupport
import Testing

/// Issue 18, point 2: the contract expression language checked against cel-python, on cel-spec's conformance cases
/// the subset covers and on seeded random expressions, through the built `careledger contract eval`
/// (scripts/cel-conformance.py, which lists its known deviations with their reasons).
@Suite("Contract expressions against cel-python", .timeLimit(.minutes(5)))
struct ContractEvalOracleTests {
    /// The cel-python sdist holding cel-spec's features/*.textproto, when given; without it the script downloads it
    /// with pip, which only CI (CI=true) is expected to do.
    static var sdist: String? {
        guard let path = ProcessInfo.processInfo.environment["CEL_PYTHON_SDIST"],
              FileManager.default.fileExists(atPath: path) else { return nil }
        return path
    }

    static let celpyAvailable = GatewayClientsTests.pythonImports("celpy")

    /// What the oracle script relies on, without python: typed results, failures with their code, and one result
    /// line per input line in order.
    @Test func evalPrintsTypedResultsAndFailuresOnePerLine() throws {
        let cli = CLITests()
        let one = try cli.run(["contract", "eval", "attributes.sofa <= 7 ? 3 : (attributes.sofa <= 11 ? 2 : 0)",
                               "--bindings", #"{"attributes": {"sofa": 9}}"#])
        #expect(one.status == 0)
        #expect(one.stdout == #"{"value":2}"# + "\n")
        let failed = try cli.run(["contract", "eval", "1 + 3.5"])
        #expect(failed.status == 1)
        #expect(failed.stdout.hasPrefix(#"{"error":"syntax","message":"at column 5: "#))
        let lines = [
            #"{"expr": "rational(7, 2) + 1"}"#,
            #"{"expr": "{2: 'b', 'a': [true]}"}"#,
            "not json",
            #"{"expr": "x / 0", "bindings": {"x": 1}}"#,
            #"{"expr": "s + 'é'", "bindings": {"s": "caf"}}"#,
        ]
        let many = try cli.run(["contract", "eval"], stdin: Data((lines.joined(separator: "\n") + "\n").utf8))
        #expect(many.status == 0)
        #expect(many.stdout.split(separator: "\n").map(String.init) == [
            #"{"value":{"rational":"9/2"}}"#,
            #"{"value":{"map":[["a",[true]],[2,"b"]]}}"#,
            #"{"error":"input","message":"a line is a JSON object {\"expr\": string, \"bindings\": object}"}"#,
            #"{"error":"divisionByZero","message":"at column 3: 1 / 0"}"#,
            #"{"value":"café"}"#,
        ])
    }

    static var runnable: Bool {
        GatewayClientsTests.required || (celpyAvailable && sdist != nil)
    }

    @Test(.enabled(if: runnable,
                   "needs python3 with cel-python (pip install cel-python) and CEL_PYTHON_SDIST naming its sdist (pip download --no-deps --no-binary :all: cel-python==0.5.0); CI=true downloads it"))
    func careledgerAgreesWithCelPythonAndTheSpec() async throws {
        try #require(Self.celpyAvailable, "python3 with cel-python is required in CI: pip install cel-python")
        let dir = try Repository.temporaryDirectory("careledger-cel-oracle")
        defer { try? FileManager.default.removeItem(at: dir) }
        var arguments = ["scripts/cel-conformance.py", "--careledger", CLITests.binary.path, "--generated", "2000", "--seed", "18"]
        if let sdist = Self.sdist { arguments += ["--sdist", sdist] }
        // Off the concurrency pool: the script runs for a minute or more, the sdist's download included.
        let script = arguments
        let run = try await offPool { try GatewayClientsTests.python(script, in: dir) }
        #expect(run.status == 0, "cel-conformance.py: \(run.stdout) \(run.stderr)")

        // The summary line: enough cases really ran on both sides, and none disagreed.
        let summary = try #require(run.stdout.split(separator: "\n").last { $0.hasPrefix("summary: ") }, "no summary: \(run.stdout) \(run.stderr)")
        var counts: [String: Int] = [:]
        for pair in summary.dropFirst("summary: ".count).split(separator: " ") {
            let parts = pair.split(separator: "=")
            if parts.count == 2, let n = Int(parts[1]) { counts[String(parts[0])] = n }
        }
        #expect(counts["conformance_run", default: 0] >= 250, "\(summary)")
        #expect(counts["generated_run"] == 2000, "\(summary)")
        #expect(counts["disagreements"] == 0, "\(run.stdout)")
        print(run.stdout.split(separator: "\n").filter { !$0.hasPrefix("DISAGREE") && !$0.hasPrefix(" ") }.joined(separator: "\n"))
    }
}
