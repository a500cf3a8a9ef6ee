import Foundation
import TestSupport
import Testing

/// Issue 17, Deliver 8: "the README's curl examples run as written". The shell block of README's "The FHIR gateway"
/// section is taken from README.md and run by bash, command by command, in a temporary folder that holds the
/// repository's `scripts` and `Samples` (the block's relative paths) with the built `careledger` first on PATH. The
/// one change made to the text: the port 8080 becomes a free one, since tests run side by side. Each command's exit
/// status and output are checked against what the README's comment on it says.
@Suite("README's FHIR gateway example", .timeLimit(.minutes(5)))
struct ReadmeGatewayExampleTests {
    /// With CI=true the tools are required (.ci/run installs the Python packages), so a missing one fails.
    static var required: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }

    static let toolsAvailable: Bool = {
        guard ["bash", "curl", "openssl", "python3"].allSatisfy({ ServeCommandTests.executable($0) != nil }) else { return false }
        return GatewayClientsTests.pythonImports("jwt, cryptography")
    }()

    /// The shell blocks (```sh) of the README section headed `### The FHIR gateway`.
    static func gatewayBlocks() throws -> [String] {
        let readme = try String(contentsOf: CLITests.repoRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let lines = readme.components(separatedBy: "\n")
        let start = try #require(lines.firstIndex { $0.hasPrefix("### The FHIR gateway") }, "README has no FHIR gateway section")
        let end = lines[(start + 1)...].firstIndex { $0.hasPrefix("## ") || $0.hasPrefix("### ") } ?? lines.endIndex
        var blocks: [String] = [], current: [String]?
        for line in lines[start..<end] {
            if current == nil, line == "```sh" {
                current = []
            } else if let block = current, line == "```" {
                blocks.append(block.joined(separator: "\n"))
                current = nil
            } else if current != nil {
                current?.append(line)
            }
        }
        return blocks
    }

    /// The block's commands: blank lines dropped, lines ending in `\` joined with the next.
    static func commands(_ block: String) -> [String] {
        var commands: [String] = [], pending = ""
        for line in block.components(separatedBy: "\n") where !(pending.isEmpty && line.trimmingCharacters(in: .whitespaces).isEmpty) {
            pending += pending.isEmpty ? line : "\n" + line
            if !line.hasSuffix("\\") {
                commands.append(pending)
                pending = ""
            }
        }
        if !pending.isEmpty { commands.append(pending) }
        return commands
    }

    /// One command's result: its exit status and what it wrote on standard output.
    struct Step {
        var command: String
        var status: Int?
        var output: String
    }

    /// What each command must do, in the README's order: a fragment its text must contain (so a changed README is
    /// noticed here) and the check of its result. `dir` is the folder the block ran in.
    static func expectations(port: Int, dir: URL) -> [(fragment: String, check: (Step, String) throws -> Void)] {
        func json(_ text: String) throws -> [String: Any] {
            try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "not JSON: \(text.prefix(300))")
        }
        func file(_ path: String) throws -> String {
            try String(contentsOf: dir.appendingPathComponent(path), encoding: .utf8)
        }
        let ok: (Step) -> Void = { #expect($0.status == 0, "\($0.command) exited \($0.status ?? -1)") }
        return [
            ("careledger node init", { step, _ in ok(step); #expect(step.output.contains("initialized")) }),
            ("openssl genpkey", { step, _ in
                ok(step)
                let pem = try file("gw/ehr.pem")
                #expect(pem.contains("PRIVATE KEY"))
            }),
            ("--print-jwks", { step, _ in
                ok(step)
                let key = try #require((try json(try file("gw/ehr.jwks.json"))["keys"] as? [[String: Any]])?.first)
                #expect(key["crv"] as? String == "P-384" && key["kid"] as? String == "ehr-1" && key["d"] == nil)
            }),
            ("config/clients.json", { step, _ in
                ok(step)
                let clients = try json(try file("gw/node/config/clients.json"))
                #expect(clients["clients"] != nil)
            }),
            ("careledger serve", { step, all in ok(step); #expect(all.contains("listening on http://127.0.0.1:\(port)\n")) }),
            ("until curl -sf", { step, _ in ok(step); #expect(step.output.contains(#"{"status":"ok"}"#)) }),
            ("/metadata -o gw/metadata.json", { step, _ in
                ok(step)
                let statement = try json(try file("gw/metadata.json"))
                #expect(statement["resourceType"] as? String == "CapabilityStatement")
            }),
            ("TOKEN=$(", { step, _ in ok(step) }),
            ("-X PUT", { step, _ in
                ok(step)
                #expect(step.output.hasPrefix("HTTP/1.1 201"), "\(step.output.prefix(200))")
                #expect(step.output.contains("ETag: W/\"1\"") && step.output.contains("Location: http://127.0.0.1:\(port)/Patient/sample-xml-1/_history/1"))
            }),
            ("/Patient/sample-xml-1 -H", { step, _ in
                ok(step)
                let patient = try json(step.output)
                #expect(patient["resourceType"] as? String == "Patient" && patient["id"] as? String == "sample-xml-1")
                #expect((patient["meta"] as? [String: Any])?["versionId"] as? String == "1")
            }),
            ("_format=xml&_pretty=true", { step, _ in
                ok(step)
                #expect(step.output.hasPrefix("<?xml") && step.output.contains("\n<Patient xmlns=\"http://hl7.org/fhir\">\n"))
                #expect(step.output.contains("\n  <id value=\"sample-xml-1\"/>"), "pretty: \(step.output.prefix(300))")
            }),
            ("If-None-Match: W/\"1\"", { step, _ in ok(step); #expect(step.output.trimmingCharacters(in: .whitespacesAndNewlines) == "304") }),
            ("bundle-hypertension.json", { step, _ in
                ok(step)
                let response = try json(step.output)
                let sent = try json(try file("Samples/fhir/bundle-hypertension.json"))["entry"] as? [Any]
                let entries = response["entry"] as? [[String: Any]] ?? []
                #expect(response["type"] as? String == "transaction-response" && entries.count == sent?.count)
                #expect(entries.allSatisfy { ($0["response"] as? [String: Any])?["status"] as? String == "201 Created" })
            }),
            ("-X DELETE", { step, _ in ok(step); #expect(step.output.trimmingCharacters(in: .whitespacesAndNewlines) == "204") }),
            ("/Patient/sample-xml-1 -H", { step, _ in
                ok(step)
                let outcome = try json(step.output)
                let issue = (outcome["issue"] as? [[String: Any]])?.first
                #expect(outcome["resourceType"] as? String == "OperationOutcome" && issue?["code"] as? String == "not-found")
                #expect((issue?["diagnostics"] as? String)?.contains("deleted (version 2") == true)
            }),
            ("/Patient/sample-xml-1/_history", { step, _ in
                ok(step)
                let bundle = try json(step.output)
                let methods = (bundle["entry"] as? [[String: Any]] ?? []).map { ($0["request"] as? [String: Any])?["method"] as? String }
                #expect(bundle["type"] as? String == "history" && methods == ["DELETE", "POST"])
            }),
            ("kill %1", { step, _ in ok(step) }),
        ]
    }

    @Test(.enabled(if: toolsAvailable || required, "needs bash, curl, openssl and python3 with PyJWT and cryptography"))
    func theGatewayBlockRunsAsWritten() throws {
        try #require(Self.toolsAvailable, "bash, curl, openssl and python3 with PyJWT and cryptography are required in CI")
        let blocks = try Self.gatewayBlocks()
        try #require(blocks.count == 1, "expected one shell block in README's FHIR gateway section, found \(blocks.count)")
        let dir = try Repository.temporaryDirectory("careledger-readme-gateway")
        defer { try? FileManager.default.removeItem(at: dir) }
        for name in ["scripts", "Samples"] {
            try FileManager.default.createSymbolicLink(at: dir.appendingPathComponent(name),
                                                       withDestinationURL: CLITests.repoRoot.appendingPathComponent(name))
        }
        let port = try GatewayClientsTests.freePort(in: dir)
        let commands = Self.commands(blocks[0]).map { $0.replacingOccurrences(of: "127.0.0.1:8080", with: "127.0.0.1:\(port)") }
        // Each command followed by a marker with its exit status; serve is stopped however the block ends, and its
        // own exit status (after the block's `kill %1`) is the last marker.
        var script = "trap 'kill $(jobs -p) 2>/dev/null' EXIT\n"
        for (index, command) in commands.enumerated() {
            script += command + "\nprintf '\\n@@step \(index) %s\\n' \"$?\"\n"
        }
        script += "wait %1\nprintf '\\n@@serve %s\\n' \"$?\"\n"
        let scriptURL = dir.appendingPathComponent("readme-gateway.sh")
        try Data(script.utf8).write(to: scriptURL)

        let run = try Self.bash(scriptURL, in: dir)
        let steps = Self.steps(run.stdout, commands: commands)
        let expected = Self.expectations(port: port, dir: dir)
        try #require(steps.count == expected.count, "the README block has \(steps.count) commands, the test expects \(expected.count): \(commands)")
        for (step, expectation) in zip(steps, expected) {
            try #require(step.command.contains(expectation.fragment), "README command changed: \(step.command)")
            try expectation.check(step, run.stdout)
        }
        #expect(run.stdout.contains("\n@@serve 0\n"), "serve's exit status after kill %1: \(run.stdout.suffix(200)) \(run.stderr.suffix(500))")
        print("README gateway example: \(steps.count) commands ran as written (port \(port)), serve stopped with exit 0")
    }

    /// Runs `script` with bash in `dir` (under `timeout` when there is one, so a hung step cannot outlive the
    /// test), the built `careledger` first on PATH; output through files, as a shell user's terminal would see it.
    static func bash(_ script: URL, in dir: URL) throws -> CLIProcess.Run {
        let bash = try #require(ServeCommandTests.executable("bash"))
        let process = Process()
        if let timeout = ServeCommandTests.executable("timeout") {
            process.executableURL = URL(fileURLWithPath: timeout)
            process.arguments = ["240", bash, script.path]
        } else {
            process.executableURL = URL(fileURLWithPath: bash)
            process.arguments = [script.path]
        }
        process.currentDirectoryURL = dir
        var environment = ProcessInfo.processInfo.environment
        environment["CARELEDGER_STORE"] = nil
        environment["PATH"] = CLITests.binary.deletingLastPathComponent().path + ":" + (environment["PATH"] ?? "/usr/bin:/bin")
        process.environment = environment
        return try CLIProcess.capture(process, in: dir)
    }

    /// Splits the block's output at the markers: each command's exit status and standard output.
    static func steps(_ output: String, commands: [String]) -> [Step] {
        var steps: [Step] = [], text = ""
        for line in output.components(separatedBy: "\n") {
            if line.hasPrefix("@@step "), let index = Int(line.split(separator: " ")[1]), index == steps.count, index < commands.count {
                let status = Int(line.split(separator: " ").last ?? "")
                // The marker's leading newline is not the command's.
                steps.append(Step(command: commands[index], status: status, output: text.hasSuffix("\n") ? String(text.dropLast()) : text))
                text = ""
            } else if !line.hasPrefix("@@serve ") {
                text += line + "\n"
            }
        }
        return steps
    }
}
