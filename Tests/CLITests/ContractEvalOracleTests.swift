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

    static var runnable: Bool {
        GatewayClientsTests.required || (celpyAvailable && sdist != nil)
    }

    @Test(.enabled(if: runnable,
                   "needs python3 with cel-python (pip install cel-python) and CEL_PYTHON_SDIST naming its sdist (pip download --no-deps --no-binary :all: cel-python==0.5.0); CI=true downloads it"))
    func careledgerAgreesWithCelPythonAndTheSpec() throws {
        try #require(Self.celpyAvailable, "python3 with cel-python is required in CI: pip install cel-python")
        let dir = try Repository.temporaryDirectory("careledger-cel-oracle")
        defer { try? FileManager.default.removeItem(at: dir) }
        var arguments = ["scripts/cel-conformance.py", "--careledger", CLITests.binary.path, "--generated", "2000", "--seed", "18"]
        if let sdist = Self.sdist { arguments += ["--sdist", sdist] }
        let run = try GatewayClientsTests.python(arguments, in: dir)
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
