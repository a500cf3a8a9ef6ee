import Foundation
import TestSupport
import Testing

/// `careledger verify` and `node status` given what a hostile or careless user gives them (issue 16, items 9, 12 and
/// 15), and the exit codes every command documents.
@Suite("careledger verify and exit codes, hostile input")
struct VerifyHostileInputTests {
    let cli = CLITests()
    /// ReceiptLimits.maxBytes, as the error must say it.
    static let maxBytes = 16 << 20

    static func seed(_ target: String, _ name: String) -> String {
        Repository.root.appendingPathComponent("Fuzz/seeds/\(target)/\(name)").path
    }

    /// A node home (for its genesis.json) in a fresh folder.
    func home() throws -> URL {
        let dir = try Repository.temporaryDirectory("careledger-verify-hostile")
        let initialized = try cli.run(["node", "init", "--home", dir.path, "--chain-id", "careledger-hostile"])
        #expect(initialized.status == 0, "\(initialized.stderr)")
        return dir
    }

    func genesis(_ home: URL) -> String { home.appendingPathComponent("config/genesis.json").path }

    /// Item 9: a 200 MB receipt (sparse: it costs no disk) is refused having read 16 MiB + 1 bytes, and the error says
    /// the bound; so is a "file" without a size that never ends.
    @Test func aReceiptAboveTheBoundIsRefusedAndTheErrorSaysTheBound() throws {
        let dir = try home()
        defer { try? FileManager.default.removeItem(at: dir) }
        let big = dir.appendingPathComponent("big-receipt.json")
        #expect(FileManager.default.createFile(atPath: big.path, contents: Data("{\"format\":\"careledger-receipt/1\"".utf8)))
        let handle = try FileHandle(forWritingTo: big)
        try handle.truncate(atOffset: 200 << 20)
        try handle.close()
        for input in [big.path, "/dev/zero"] {
            let run = try cli.run(["verify", input, "--genesis", genesis(dir)])
            #expect(run.status == 1, "\(input): \(run.stdout)\(run.stderr)")
            #expect(run.stdout.hasPrefix("FAILED receipt: ") && run.stdout.contains("larger than \(Self.maxBytes) bytes (16 MiB)"), "\(input): \(run.stdout)")
        }
        // A genesis.json is bounded too (4 MiB), and refused as an input that cannot be read.
        let bigGenesis = try cli.run(["verify", Self.seed("receipt-json", "receipt-truncated-half.json"), "--genesis", "/dev/zero"])
        #expect(bigGenesis.status == 66 && bigGenesis.stderr.contains("larger than \(4 << 20) bytes"), "\(bigGenesis.stderr)")
        // And a --record (64 MiB, the most a FHIR document may have).
        let bigRecord = try cli.run(["verify", Self.seed("receipt-json", "receipt-truncated-half.json"), "--genesis", genesis(dir), "--record", "/dev/zero"])
        #expect(bigRecord.status == 66 && bigRecord.stderr.contains("larger than \(64 << 20) bytes"), "\(bigRecord.stderr)")
    }

    /// Item 15: a truncated receipt says "truncated" and where, not "not a JSON object".
    @Test func aTruncatedReceiptSaysTruncated() throws {
        let dir = try home()
        defer { try? FileManager.default.removeItem(at: dir) }
        let run = try cli.run(["verify", Self.seed("receipt-json", "receipt-truncated-half.json"), "--genesis", genesis(dir)])
        #expect(run.status == 1, "\(run.stdout)\(run.stderr)")
        #expect(run.stdout.hasPrefix("FAILED receipt: the receipt or consent proof is truncated at line "), "\(run.stdout)")
        #expect(!run.stdout.contains("not a JSON object"))
        let empty = try cli.run(["verify", Self.seed("receipt-json", "receipt-empty.json"), "--genesis", genesis(dir)])
        #expect(empty.status == 1 && empty.stdout.contains("truncated") && empty.stdout.contains("it is empty"), "\(empty.stdout)")
    }

    /// Item 12: `true` where an integer belongs is refused, in a receipt and in a consent proof, with its JSON pointer.
    @Test func trueWhereAnIntegerBelongsIsRefusedWithItsPointer() throws {
        let dir = try home()
        defer { try? FileManager.default.removeItem(at: dir) }
        let receipt = try cli.run(["verify", Self.seed("receipt-json", "receipt-block-header-height-true.json"), "--genesis", genesis(dir)])
        #expect(receipt.status == 1, "\(receipt.stdout)\(receipt.stderr)")
        #expect(receipt.stdout.hasPrefix("FAILED receipt: receipt member /block/header/height (line ")
                && receipt.stdout.contains("is not an integer (found true)"), "\(receipt.stdout)")
        // From standard input, as from a file.
        let counted = try #require(FileManager.default.contents(atPath: Self.seed("receipt-json", "receipt-anchor-count-false.json")))
        let count = try cli.run(["verify", "-", "--genesis", genesis(dir)], stdin: counted)
        #expect(count.status == 1 && count.stdout.contains("/anchor/count") && count.stdout.contains("(found false)"), "\(count.stdout)")
        let proof = try cli.run(["verify", Self.seed("proof-json", "proof-query-at-true.json"), "--genesis", genesis(dir)])
        #expect(proof.status == 1, "\(proof.stdout)\(proof.stderr)")
        #expect(proof.stdout.hasPrefix("FAILED proof: consent proof member /query/at (line ") && proof.stdout.contains("is not an integer (found true)"),
                "\(proof.stdout)")
    }

    /// A receipt that is a directory or is missing cannot be read: 66.
    @Test func aReceiptThatCannotBeReadExits66() throws {
        let dir = try home()
        defer { try? FileManager.default.removeItem(at: dir) }
        for input in [dir.path, dir.appendingPathComponent("missing.json").path] {
            let run = try cli.run(["verify", input, "--genesis", genesis(dir)])
            #expect(run.status == 66 && run.stderr.contains("cannot read"), "\(input): \(run.stderr)")
        }
    }

    /// Item 15: a --home that does not exist, or is not a node home, is an input that cannot be read: 66 (it was 1).
    @Test func nodeStatusOfAHomeThatIsNotThereExits66() throws {
        let missing = try cli.run(["node", "status", "--home", "/nonexistent"])
        #expect(missing.status == 66, "\(missing.stderr)")
        #expect(missing.stderr.contains("/nonexistent does not exist"), "\(missing.stderr)")
        let empty = try Repository.temporaryDirectory("careledger-not-a-home")
        defer { try? FileManager.default.removeItem(at: empty) }
        let notHome = try cli.run(["node", "status", "--home", empty.path, "--height", "0"])
        #expect(notHome.status == 66 && notHome.stderr.contains("is not a node home"), "\(notHome.stderr)")
        let start = try cli.run(["node", "start", "--home", "/nonexistent"])
        #expect(start.status == 66, "\(start.stderr)")
    }

    /// Item 15: every exit code the CLI uses (ExitCode(N) in Sources/careledger, 64 from the argument parser) is
    /// documented in `careledger --help` and in the README's "Command line" section.
    @Test func everyExitCodeTheCLIUsesIsDocumented() throws {
        var codes: Set<Int> = [0, 1, 64]
        let sources = Repository.root.appendingPathComponent("Sources/careledger")
        let files = FileManager.default.enumerator(atPath: sources.path)?.compactMap { $0 as? String }.filter { $0.hasSuffix(".swift") } ?? []
        #expect(files.count > 10, "the CLI's sources are found")
        let pattern = try Regex(#"(?:ExitCode|exit)\((\d+)\)"#)
        for file in files {
            let text = try String(contentsOf: sources.appendingPathComponent(file), encoding: .utf8)
            for match in text.matches(of: pattern) {
                if let n = match.output[1].substring.flatMap({ Int($0) }) { codes.insert(n) }
            }
        }
        // And every code the application layer's errors map to, which the CLI exits with (ServiceErrorExit).
        let serviceError = try String(contentsOf: Repository.root.appendingPathComponent("Sources/Services/Errors/ServiceError.swift"), encoding: .utf8)
        let exitMapping = try #require(serviceError.components(separatedBy: "var exitCode: Int32").dropFirst().first?.components(separatedBy: "\n    }").first)
        for match in exitMapping.matches(of: try Regex(#"(?:case [^\n]*|default): (\d+)"#)) {
            if let n = match.output[1].substring.flatMap({ Int($0) }) { codes.insert(n) }
        }
        #expect(codes.isSuperset(of: [66, 69, 70, 75, 78]), "\(codes.sorted())")

        let help = try cli.run(["--help"])
        #expect(help.status == 0)
        let exitSection = try #require(help.stdout.components(separatedBy: "USAGE:").first)
        let readme = try String(contentsOf: Repository.root.appendingPathComponent("README.md"), encoding: .utf8)
        let commandLine = try #require(readme.components(separatedBy: "### Command line").dropFirst().first?.components(separatedBy: "\n## ").first)
        for code in codes.sorted() {
            #expect(exitSection.contains("\n  \(code) "), "careledger --help documents exit code \(code)")
            #expect(commandLine.contains("| `\(code)` |"), "the README's Command line section documents exit code \(code)")
        }
    }
}
