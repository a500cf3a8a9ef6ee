import Foundation
import Node
import Testing

/// `careledger node start` stopped by SIGTERM or SIGINT: the service group finishes, the process exits 0, the RPC
/// endpoint file is removed, and the home opens again with its chain.
@Suite("careledger node start, stopped by a signal", .timeLimit(.minutes(5)))
struct NodeShutdownTests {
    let cli = CLITests()

    /// Starts `node start` on `home` and returns once its RPC answers `/status`.
    static func start(home: String, store: String, log: URL) async throws -> Process {
        let process = Process()
        process.executableURL = CLITests.binary
        process.arguments = ["node", "start", "--home", home, "--store", store, "--rpc-port", "0", "--block-interval-ms", "20"]
        process.currentDirectoryURL = CLITests.repoRoot
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: log)
        process.standardError = process.standardOutput
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let deadline = ContinuousClock.now + .seconds(90)
        while ContinuousClock.now < deadline {
            if let port = try? NodeHome(home).rpcPort(),
               let answer = try? await RPCClient.send(port: port, method: "GET", path: "/status", timeout: 5), answer.status == 200 {
                return process
            }
            guard process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        process.terminate()
        throw NodeError("the node did not start: \((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
    }

    /// Sends `signal` and waits (bounded) for the process to exit.
    static func stop(_ process: Process, with signal: Int32) async throws {
        kill(process.processIdentifier, signal)
        let deadline = ContinuousClock.now + .seconds(90)
        while process.isRunning && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            Issue.record("the node did not exit within 90 s of signal \(signal)")
        }
    }

    @Test func sigtermAndSigintStopTheNodeCleanlyWithExitZero() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("careledger-shutdown-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let home = dir.appendingPathComponent("node").path
        let store = "sqlite:" + dir.appendingPathComponent("store.sqlite").path
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        #expect(try cli.run(["node", "init", "--home", home]).status == 0)

        let first = try await Self.start(home: home, store: store, log: dir.appendingPathComponent("node-1.log"))
        let port = try NodeHome(home).rpcPort()
        let health = try await RPCClient.send(port: port, method: "GET", path: "/health", timeout: 30)
        #expect(health.status == 200 && String(decoding: health.body, as: UTF8.self) == #"{"status":"ok"}"#)
        let before = try RPCJSON.decode(NodeStatusAnswer.self, from: try await RPCClient.send(port: port, method: "GET", path: "/status", timeout: 30).body)

        try await Self.stop(first, with: SIGTERM)
        let log = (try? String(contentsOf: dir.appendingPathComponent("node-1.log"), encoding: .utf8)) ?? ""
        #expect(first.terminationReason == .exit && first.terminationStatus == 0, "\(log)")
        #expect(log.contains("stopped"), "\(log)")
        #expect(!FileManager.default.fileExists(atPath: NodeHome(home).rpcFile.path), "data/rpc.json is removed on a clean stop")

        // Consistent: the home opens again (its lock was released), the chain replays to at least where it was.
        let second = try await Self.start(home: home, store: store, log: dir.appendingPathComponent("node-2.log"))
        let after = try RPCJSON.decode(NodeStatusAnswer.self,
                                       from: try await RPCClient.send(port: try NodeHome(home).rpcPort(), method: "GET", path: "/status", timeout: 30).body)
        #expect(after.chainId == before.chainId && after.height >= before.height)
        try await Self.stop(second, with: SIGINT)
        #expect(second.terminationReason == .exit && second.terminationStatus == 0)
        let status = try cli.run(["node", "status", "--home", home, "--json"])
        #expect(status.status == 0 && status.stdout.contains("\"running\" : false"), "\(status.stdout)")
    }
}
