import Foundation
import Node
import TestSupport
import Testing

/// `careledger serve` as an operator runs it: it prints its real URL, answers over HTTP (and HTTPS with a PEM
/// certificate), refuses protected requests without a token, stops with exit 0 on SIGTERM, and refuses unusable
/// options with the documented exit codes.
@Suite("careledger serve", .timeLimit(.minutes(5)))
struct ServeCommandTests {
    let cli = CLITests()

    /// A running `serve` and the URL it printed.
    struct Server {
        let process: Process
        let url: String
        var port: Int { Int(url.split(separator: ":").last ?? "") ?? 0 }
    }

    /// Starts `serve` with `arguments` and returns once it printed `listening on URL`.
    static func start(_ arguments: [String], log: URL) async throws -> Server {
        let process = Process()
        process.executableURL = CLITests.binary
        process.arguments = ["serve"] + arguments
        process.currentDirectoryURL = CLITests.repoRoot
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: log)
        // Its standard error too, so a serve that exits names why in the failure.
        process.standardError = process.standardOutput
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let deadline = ContinuousClock.now + .seconds(90)
        while ContinuousClock.now < deadline {
            let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            if let line = text.split(separator: "\n").first(where: { $0.hasPrefix("listening on ") }) {
                return Server(process: process, url: String(line.dropFirst("listening on ".count)))
            }
            guard process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        let status = process.isRunning ? "still running" : "exited with \(process.terminationStatus)"
        process.terminate()
        throw NodeError("serve did not start (\(status)): \((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
    }

    /// Sends SIGTERM and returns the exit status (bounded wait).
    static func stop(_ process: Process) async throws -> Int32 {
        kill(process.processIdentifier, SIGTERM)
        let deadline = ContinuousClock.now + .seconds(90)
        while process.isRunning && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            Issue.record("serve did not exit within 90 s of SIGTERM")
        }
        return process.terminationStatus
    }

    static func folder() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("careledger-serve-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test func servesItsRealPortAndStopsWithExitZeroOnSIGTERM() async throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let home = dir.appendingPathComponent("node").path
        #expect(try cli.run(["node", "init", "--home", home]).status == 0)
        let server = try await Self.start(["--home", home, "--store", "sqlite:" + dir.appendingPathComponent("store.sqlite").path,
                                           "--listen", "127.0.0.1:0"], log: dir.appendingPathComponent("serve.log"))
        #expect(server.url.hasPrefix("http://127.0.0.1:") && server.port > 0)

        let health = try await RPCClient.send(port: server.port, method: "GET", path: "/health", timeout: 30)
        #expect(health.status == 200 && String(decoding: health.body, as: UTF8.self) == #"{"status":"ok"}"#)
        let metadata = try await RPCClient.send(port: server.port, method: "GET", path: "/metadata", timeout: 30)
        #expect(metadata.status == 200)
        let statement = try JSONSerialization.jsonObject(with: Data(metadata.body)) as? [String: Any]
        #expect(statement?["resourceType"] as? String == "CapabilityStatement")
        // Protected without a token: 401 with an OperationOutcome.
        let read = try await RPCClient.send(port: server.port, method: "GET", path: "/Patient/anyone", timeout: 30)
        #expect(read.status == 401)
        #expect(String(decoding: read.body, as: UTF8.self).contains("OperationOutcome"))
        #expect(try await Self.stop(server.process) == 0)
    }

    /// The absolute path of `name` on PATH, or nil.
    static func executable(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    static let hasTools = executable("openssl") != nil && executable("curl") != nil

    /// Runs a tool to completion: its exit status and standard output.
    static func tool(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable(arguments[0]) ?? arguments[0])
        process.arguments = Array(arguments.dropFirst())
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test(.enabled(if: hasTools, "needs openssl (to make a certificate) and curl (an HTTPS client)"))
    func servesHTTPSWithAPEMCertificateAndKey() async throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let home = dir.appendingPathComponent("node").path
        #expect(try cli.run(["node", "init", "--home", home]).status == 0)
        let cert = dir.appendingPathComponent("cert.pem").path, key = dir.appendingPathComponent("key.pem").path
        let openssl = try Self.tool(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                                                     "-nodes", "-subj", "/CN=127.0.0.1", "-days", "1", "-keyout", key, "-out", cert])
        #expect(openssl.status == 0)
        let server = try await Self.start(["--home", home, "--store", "sqlite:" + dir.appendingPathComponent("store.sqlite").path,
                                           "--listen", "127.0.0.1:0", "--tls-cert", cert, "--tls-key", key],
                                          log: dir.appendingPathComponent("serve.log"))
        #expect(server.url.hasPrefix("https://127.0.0.1:"))
        let curl = try Self.tool(["curl", "-s", "--max-time", "60", "--cacert", cert, server.url + "/health"])
        #expect(curl.status == 0 && curl.output.contains(#"{"status":"ok"}"#))
        #expect(try await Self.stop(server.process) == 0)
    }

    @Test func unusableOptionsExitWithTheDocumentedCodes() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let home = dir.appendingPathComponent("node").path
        let store = "sqlite:" + dir.appendingPathComponent("store.sqlite").path
        #expect(try cli.run(["serve", "--home", home, "--store", store, "--listen", "127.0.0.1:0"]).status == 66)
        #expect(try cli.run(["node", "init", "--home", home]).status == 0)
        #expect(try cli.run(["serve", "--home", home, "--store", store, "--listen", "nowhere"]).status == 64)
        #expect(try cli.run(["serve", "--home", home, "--store", store, "--tls-cert", "c.pem"]).status == 64)
        #expect(try cli.run(["serve", "--home", home, "--store", "mysql://x/y"]).status == 64)
        let missing = try cli.run(["serve", "--home", home, "--store", store, "--listen", "127.0.0.1:0",
                                   "--tls-cert", dir.appendingPathComponent("none.pem").path, "--tls-key", dir.appendingPathComponent("none.key").path])
        #expect(missing.status == 78)
        #expect(missing.stderr.contains("TLS"))
    }
}
