import Foundation
import TestSupport
import Testing

/// `careledger import` killed with SIGKILL at arbitrary moments, then run again, ends in exactly the state of an
/// uninterrupted import: every resource once, one version each, one anchoring-queue entry each.
@Suite("careledger import survives kill -9", .timeLimit(.minutes(5)))
struct ImportCrashTests {
    static let inputs = [
        CLITests.repoRoot.deletingLastPathComponent().appendingPathComponent("shared/corpus/synthea/bulk-ndjson").path,
        CLITests.repoRoot.deletingLastPathComponent().appendingPathComponent("shared/corpus/synthea/bundles").path,
    ]

    /// Runs careledger with `arguments`; with `killAfter`, sends SIGKILL after that many seconds if it still runs.
    /// Returns the exit status and standard output.
    static func careledger(_ arguments: [String], killAfter: Double? = nil) throws -> (status: Int32, stdout: String, killed: Bool) {
        let process = Process()
        process.executableURL = CLITests.binary
        process.arguments = arguments
        process.currentDirectoryURL = CLITests.repoRoot
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        var killed = false
        if let killAfter {
            let deadline = Date().addingTimeInterval(killAfter)
            while process.isRunning && Date() < deadline { usleep(2_000) }
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                killed = true
            }
        }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self), killed)
    }

    static func stats(_ store: String) throws -> [String: Any] {
        let r = try careledger(["store", "stats", "--json", "--store", store])
        try #require(r.status == 0, "store stats failed: \(r.stdout)")
        return try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
    }

    /// Kills the import at several moments, finishes it, and compares with an uninterrupted import.
    func killAndResume(store: String, reference: String) throws {
        let clean = try Self.careledger(["import", "--store", reference, "--plain"] + Self.inputs)
        #expect(clean.status == 0, "\(clean.stdout)")
        var kills = 0
        for delay in [0.15, 0.4, 0.7, 1.0, 1.5] {
            let r = try Self.careledger(["import", "--store", store, "--plain"] + Self.inputs, killAfter: delay)
            if r.killed { kills += 1 }
        }
        let finish = try Self.careledger(["import", "--store", store, "--plain"] + Self.inputs)
        #expect(finish.status == 0, "\(finish.stdout)")
        let expected = try Self.stats(reference)
        let actual = try Self.stats(store)
        #expect(actual["resources"] as? [String: Int] == expected["resources"] as? [String: Int])
        #expect(actual["total"] as? Int == expected["total"] as? Int)
        // One version per resource and one queue entry per version: nothing doubled by the kills.
        #expect(actual["versions"] as? Int == expected["total"] as? Int)
        #expect(actual["anchorQueue"] as? Int == expected["total"] as? Int)
        #expect(actual["deadLetters"] as? Int == 0)
        print("kill -9: \(kills) import(s) killed mid-run, then completed: \(actual["total"] ?? "?") resources, \(actual["versions"] ?? "?") versions — same as the uninterrupted import")
        #expect(kills >= 1, "no import was still running when killed; the test proved nothing")
    }

    @Test func sqlite() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("careledger-kill-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try killAndResume(store: "sqlite:" + dir.appendingPathComponent("killed.sqlite").path,
                          reference: "sqlite:" + dir.appendingPathComponent("clean.sqlite").path)
    }

    @Test func postgres() async throws {
        try await PostgresServer.withSharedTestDatabase { killed in
            try await PostgresServer.withSharedTestDatabase { clean in
                try killAndResume(store: killed.url, reference: clean.url)
            }
        }
    }
}
