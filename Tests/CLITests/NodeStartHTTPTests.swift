import Foundation
import Node
import TestSupport
import Testing

/// `careledger node start --http`: the FHIR gateway of `careledger serve` in the node's own process, through the
/// built binary — it prints its real URL, answers /health and /metadata, refuses a protected read without a token
/// (401 OperationOutcome) beside the node's loopback RPC, and stops with the node on SIGTERM (exit 0).
@Suite("careledger node start --http", .timeLimit(.minutes(5)))
struct NodeStartHTTPTests {
    let cli = CLITests()

    @Test func servesTheGatewayBesideTheRPCAndStopsWithExitZeroOnSIGTERM() async throws {
        let dir = try Repository.temporaryDirectory("careledger-node-http")
        defer { try? FileManager.default.removeItem(at: dir) }
        let home = dir.appendingPathComponent("node").path
        let store = "sqlite:" + dir.appendingPathComponent("store.sqlite").path
        #expect(try cli.run(["node", "init", "--home", home]).status == 0)

        let log = dir.appendingPathComponent("node.log")
        let process = Process()
        process.executableURL = CLITests.binary
        process.arguments = ["node", "start", "--home", home, "--store", store, "--rpc-port", "0", "--http", "127.0.0.1:0"]
        process.currentDirectoryURL = CLITests.repoRoot
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: log)
        process.standardError = process.standardOutput
        process.standardInput = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() } }
        var url: String?
        let deadline = ContinuousClock.now + .seconds(90)
        while url == nil && ContinuousClock.now < deadline && process.isRunning {
            let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            url = text.split(separator: "\n").first { $0.hasPrefix("listening on ") }.map { String($0.dropFirst("listening on ".count)) }
            if url == nil { try await Task.sleep(for: .milliseconds(50)) }
        }
        let base = try #require(url, "no 'listening on' line: \(Self.text(log))")
        #expect(base.hasPrefix("http://127.0.0.1:"))
        let port = try #require(Int(base.split(separator: ":").last ?? ""))
        #expect(port > 0)

        // A failed exchange is reported with the node's log (whether the process is still running, what it said).
        func get(_ path: String, port: Int) async throws -> RPCResponse {
            do {
                return try await RPCClient.send(port: port, method: "GET", path: path, timeout: 90)
            } catch {
                Issue.record("GET \(path) on port \(port): \(error); running: \(process.isRunning); log: \(Self.text(log))")
                throw error
            }
        }
        let health = try await get("/health", port: port)
        #expect(health.status == 200 && String(decoding: health.body, as: UTF8.self) == #"{"status":"ok"}"#)
        let metadata = try await get("/metadata", port: port)
        #expect(metadata.status == 200)
        let statement = try JSONSerialization.jsonObject(with: Data(metadata.body)) as? [String: Any]
        #expect(statement?["resourceType"] as? String == "CapabilityStatement")
        let read = try await get("/Patient/anyone", port: port)
        #expect(read.status == 401 && String(decoding: read.body, as: UTF8.self).contains("OperationOutcome"))
        // The node's own RPC is served by the same process, on its own port.
        let rpcPort = try NodeHome(home).rpcPort()
        #expect(rpcPort != port)
        #expect(try await get("/status", port: rpcPort).status == 200)

        kill(process.processIdentifier, SIGTERM)
        let stopBy = ContinuousClock.now + .seconds(90)
        while process.isRunning && ContinuousClock.now < stopBy { try await Task.sleep(for: .milliseconds(50)) }
        #expect(!process.isRunning, "node start --http did not exit within 90 s of SIGTERM")
        if !process.isRunning { #expect(process.terminationStatus == 0) }
        #expect(!FileManager.default.fileExists(atPath: NodeHome(home).rpcFile.path))
        #expect(((try? String(contentsOf: log, encoding: .utf8)) ?? "").contains("stopped"))
    }

    static func text(_ log: URL) -> String {
        (try? String(contentsOf: log, encoding: .utf8)) ?? ""
    }

    @Test func httpWithoutAStoreOrWithABadAddressExits64() throws {
        let dir = try Repository.temporaryDirectory("careledger-node-http-options")
        defer { try? FileManager.default.removeItem(at: dir) }
        let home = dir.appendingPathComponent("node").path
        #expect(try cli.run(["node", "init", "--home", home]).status == 0)
        let noStore = try cli.run(["node", "start", "--home", home, "--http", "127.0.0.1:0"])
        #expect(noStore.status == 64 && noStore.stderr.contains("--store"), "\(noStore.stderr)")
        let bad = try cli.run(["node", "start", "--home", home, "--store", "sqlite:" + dir.appendingPathComponent("s.sqlite").path, "--http", "nowhere"])
        #expect(bad.status == 64 && bad.stderr.contains("--http"), "\(bad.stderr)")
    }
}
