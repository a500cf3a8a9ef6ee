import Foundation
import TestSupport
import Testing

/// `careledger import`, `store stats` and `deadletters` as an integration engineer runs them.
@Suite("careledger import and dead letters")
struct ImportCommandTests {
    let cli = CLITests()

    @Test func importReportsRejectsAndTheDeadLettersSayWhere() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("careledger-cli-import-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = "sqlite:" + dir.appendingPathComponent("store.sqlite").path
        let input = dir.appendingPathComponent("export.ndjson")
        try Data("""
            {"resourceType":"Patient","id":"p1","gender":"female"}
            {"resourceType":"Patient","id":"p2","birthDate":"1970-02-30"}
            {"resourceType":"Patient","id":"p3",
            """.utf8).write(to: input)

        let r = try cli.run(["import", input.path, "--store", store])
        #expect(r.status == 1, "a rejected line makes the import exit 1")
        #expect(r.stdout.contains("imported 1 (1 new, 0 updated), unchanged 0, rejected 2"), "\(r.stdout)")
        #expect(r.stdout.contains("Patient"))

        let list = try cli.run(["deadletters", "list", "--store", store])
        #expect(list.status == 0)
        let rows = list.stdout.split(separator: "\n")
        #expect(rows.count == 2, "\(list.stdout)")
        #expect(rows.first?.contains("export.ndjson line 2") == true)
        #expect(rows.last?.contains("export.ndjson line 3, column") == true)

        let id = try #require(rows.first?.split(separator: "\t").first.map(String.init))
        let show = try cli.run(["deadletters", "show", id, "--store", store])
        #expect(show.status == 0)
        #expect(show.stdout.contains("\"resourceType\": \"OperationOutcome\""))
        #expect(show.stdout.contains("1970-02-30"))

        // Retrying input that is still bad keeps it open and exits 1.
        let retry = try cli.run(["deadletters", "retry", id, "--store", store])
        #expect(retry.status == 1)
        #expect(retry.stdout.contains("still rejected"))

        let stats = try cli.run(["store", "stats", "--json", "--store", store])
        let json = try #require(try JSONSerialization.jsonObject(with: Data(stats.stdout.utf8)) as? [String: Any])
        #expect(json["total"] as? Int == 1)
        #expect(json["deadLetters"] as? Int == 2)

        // The same import again: nothing new, the same two open dead letters.
        let again = try cli.run(["import", input.path, "--store", store])
        #expect(again.stdout.contains("imported 0 (0 new, 0 updated), unchanged 1, rejected 2"), "\(again.stdout)")
        #expect(try cli.run(["deadletters", "list", "--store", store]).stdout.split(separator: "\n").count == 2)
    }

    @Test func missingInputAndUnreachableStoreExitWithTheirCodes() throws {
        let missing = try cli.run(["import", "no/such/export", "--store", "sqlite:/tmp/careledger-never-\(UUID().uuidString).sqlite"])
        #expect(missing.status == 66)
        #expect(missing.stderr.contains("no/such/export"))
        let unreachable = try cli.run(["store", "stats", "--store", "postgres://nobody@127.0.0.1:1/none"])
        #expect(unreachable.status == 69)
        #expect(unreachable.stderr.contains("cannot open the store"))
    }

    /// On a terminal the import draws a progress bar with records/s and an ETA; into a pipe it logs lines instead.
    @Test func progressBarOnATerminalLogLinesOtherwise() throws {
        let dir = try Repository.temporaryDirectory("careledger-cli-progress")
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = Repository.shared.appendingPathComponent("corpus/synthea/bulk-ndjson").path
        // util-linux `script` gives the command a pseudo-terminal.
        let script = "/usr/bin/script"
        try #require(FileManager.default.isExecutableFile(atPath: script), "util-linux script is needed to test the terminal output")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: script)
        let command = "\(CLITests.binary.path) import \(input) --store sqlite:\(dir.path)/tty.sqlite"
        process.arguments = ["-qec", command, "/dev/null"]
        let out = Pipe()
        process.standardOutput = out
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        #expect(process.terminationStatus == 0)
        #expect(text.contains("\r[") && text.contains("records") && text.contains("/s") && text.contains("ETA"), "\(text.prefix(300))")
        #expect(!text.contains("import: "), "no log lines on a terminal")

        let piped = try cli.run(["import", input, "--store", "sqlite:\(dir.path)/pipe.sqlite"])
        #expect(piped.status == 0)
        #expect(piped.stderr.contains("import: ") && !piped.stderr.contains("ETA"))
        #expect(piped.stdout.contains("imported 2324 (2324 new, 0 updated)"))
    }
}
