#if canImport(Glibc)
import Glibc
#endif
import Foundation
import TestSupport
import Testing

/// Issue 16 items 8 and 13 as the user meets them: `hl7 convert` on hostile ER7, and the `mllp` command's limits.
@Suite("careledger hl7 and mllp, hostile input")
struct HL7HostileInputTests {
    let cli = CLITests()
    static let seeds = Repository.root.appendingPathComponent("Fuzz/seeds/hl7-er7")

    static func seed(_ name: String) throws -> Data { try Data(contentsOf: seeds.appendingPathComponent(name)) }

    static let admission = "MSH|^~\\&|SEND|FAC|RECV|RFAC|20240102030405-0500||ADT^A01^ADT_A01|CTRL1|P|2.5.1\r" +
        "EVN|A01|20240102030405\rPID|1||NG-1^^^HOSP^MR||Sm\\XZZ\\ith^Jo\\XFFFE\\||19800102|F\rPV1|1|I\r"

    /// Each escape that was repaired is a warning with its segment and field; the value holds U+FFFD, not the escape.
    @Test func repairedEscapesAreWarnedOneByOne() throws {
        let run = try cli.run(["hl7", "convert", "-"], stdin: Data(Self.admission.utf8))
        #expect(run.status == 0, "\(run.stdout)")
        let warnings = run.stderr.split(separator: "\n").filter { $0.contains("escape") }
        #expect(warnings.count == 2, "\(run.stderr)")
        #expect(run.stderr.contains("PID-5.1 (segment 3, line 3): the escape \\XZZ\\ is not pairs of hexadecimal digits; it was read as U+FFFD"))
        #expect(run.stderr.contains("PID-5.2 (segment 3, line 3): the escape \\XFFFE\\ spells bytes that are not UTF-8 text"))
        #expect(run.stdout.contains("\"family\": \"Sm\u{FFFD}ith\""))
        #expect(!run.stdout.contains("XZZ"))
    }

    /// `PV1XYZ|` was an unknown segment (the Encounter lost behind a warning, exit 0); it is refused like `pid|`.
    @Test(arguments: ["segment-name-six-characters.hl7", "segment-name-two-characters.hl7", "segment-name-lower-case.hl7"])
    func aSegmentNameThatIsNotThreeCharactersIsRefused(seed: String) throws {
        let run = try cli.run(["hl7", "convert", "-"], stdin: try Self.seed(seed))
        #expect(run.status == 1)
        let issues = try cli.outcome(run.stdout)
        let diagnostics = try #require(issues.first?["diagnostics"] as? String)
        #expect(diagnostics.contains("exactly three capitals or digits"), "\(diagnostics)")
        #expect(issues.first?["location"] as? [String] == ["segment 3, line 3"], "\(issues)")
    }

    /// NDJSON is one object per line: a file refused as a whole prints its OperationOutcome on one line too.
    @Test func ndjsonPrintsAFileLevelRefusalOnOneLine() throws {
        let run = try cli.run(["hl7", "convert", "--ndjson", "-"], stdin: Data("{\"resourceType\": \"Patient\"}\n".utf8))
        #expect(run.status == 1)
        #expect(run.stdout.hasSuffix("}\n"))
        let lines = run.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 2 && lines[1].isEmpty, "\(run.stdout)")
        let outcome = try #require(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
        #expect(outcome["resourceType"] as? String == "OperationOutcome")
        // Without --ndjson, one refused message is still a pretty document.
        let pretty = try cli.run(["hl7", "convert", "-"], stdin: Data("{\"resourceType\": \"Patient\"}\n".utf8))
        #expect(pretty.stdout.split(separator: "\n").count > 1)
    }

    @Test func mllpDocumentsItsDeadlinesAndCapsAndRefusesNonsense() throws {
        let help = try cli.run(["mllp", "--help"])
        #expect(help.status == 0)
        let text = help.stdout.replacingOccurrences(of: "\n", with: " ")
        for option in ["--frame-timeout", "--idle-timeout", "--max-connections ", "--max-connections-per-peer"] {
            #expect(text.contains(option), "\(option) is not in mllp --help")
        }
        #expect(text.contains("default: 30"))    // --frame-timeout
        #expect(text.contains("default: 16"))    // --max-connections-per-peer
        for bad in [["--frame-timeout", "0"], ["--max-connections-per-peer", "0"], ["--max-connections", "0"]] {
            let run = try cli.run(["mllp", "--port", "0"] + bad)
            #expect(run.status == 64, "\(bad): \(run.stderr)")
        }
    }

    /// `careledger mllp --frame-timeout 1`, as run: a sender that drips a byte every 200 ms (five times inside any
    /// idle timeout) is closed by the listener, which says why on standard error.
    @Test(.timeLimit(.minutes(2))) func mllpClosesATricklingSenderAtTheFrameTimeoutItIsGiven() throws {
        let dir = try Repository.temporaryDirectory("careledger-mllp-slowloris")
        defer { try? FileManager.default.removeItem(at: dir) }
        let process = Process()
        process.executableURL = CLITests.binary
        process.arguments = ["mllp", "--port", "0", "--frame-timeout", "1", "--store", "sqlite:" + dir.appendingPathComponent("store.sqlite").path]
        process.currentDirectoryURL = CLITests.repoRoot
        let out = Pipe()
        process.standardOutput = out
        let errorLog = dir.appendingPathComponent("stderr.log")
        #expect(FileManager.default.createFile(atPath: errorLog.path, contents: nil))
        process.standardError = try FileHandle(forWritingTo: errorLog)
        try process.run()
        defer { if process.isRunning { process.terminate() } }
        // "mllp listening on 127.0.0.1:PORT; …"
        let banner = String(decoding: out.fileHandleForReading.availableData, as: UTF8.self)
        let port = try #require(banner.split(separator: ";").first?.split(separator: ":").last.flatMap { Int($0) }, "\(banner)")

        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #expect(fd >= 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr = in_addr(s_addr: in_addr_t(0x7F00_0001).bigEndian)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        #expect(connected == 0)
        let frame = [UInt8](try Data(contentsOf: Repository.root.appendingPathComponent("Fuzz/seeds/mllp-frame/slowloris-one-frame.bin")))
        var closedByServer = false
        var reply: [UInt8] = []
        for byte in frame {
            var one = byte
            if send(fd, &one, 1, Int32(MSG_NOSIGNAL)) < 0 { closedByServer = true; break }
            usleep(200_000)
            var buffer = [UInt8](repeating: 0, count: 256)
            let n = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
            if n == 0 { closedByServer = true; break }
            if n > 0 { reply += buffer.prefix(n) }
            if n < 0, errno != EAGAIN, errno != EWOULDBLOCK { closedByServer = true; break }
        }
        #expect(closedByServer, "the trickling sender was not closed (reply: \(reply.count) bytes)")
        process.interrupt()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let log = try String(contentsOf: errorLog, encoding: .utf8)
        #expect(log.contains("connection closed: a message did not arrive in full within the frame timeout"), "\(log)")
    }
}
