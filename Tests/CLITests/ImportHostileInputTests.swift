import Foundation
import TestSupport
import Testing

/// `careledger import` given what a hostile (or careless) user gives it (issue 16, items 2, 3, 6 and the import
/// part of 15), run through the built binary. Unreadable input is made of things even root
/// cannot read — dangling and looping symbolic links, FIFOs, sockets — as the tests may run as root; permission
/// bits are tested only when they are not.
@Suite("careledger import: hostile input")
struct ImportHostileInputTests {
    static let isRoot = getuid() == 0
    let cli = CLIProcess()

    static let patient = #"{"resourceType":"Patient","id":"hostile-ok","gender":"female"}"#

    // MARK: - Item 6: nothing unreadable is skipped silently

    /// Before: the link, the loop and the FIFO were skipped without a word and the import exited 0.
    @Test func unreadableEntriesOfAFolderAreReportedAndRejected() throws {
        let dir = try Repository.temporaryDirectory("careledger-unreadable")
        defer { try? FileManager.default.removeItem(at: dir) }
        let export = dir.appendingPathComponent("export")
        try FileManager.default.createDirectory(at: export, withIntermediateDirectories: true)
        try Data(Self.patient.utf8).write(to: export.appendingPathComponent("patient.json"))
        try FileManager.default.createSymbolicLink(atPath: export.appendingPathComponent("observations.ndjson").path,
                                                   withDestinationPath: "/nonexistent/observations.ndjson")
        try FileManager.default.createSymbolicLink(atPath: export.appendingPathComponent("loop.json").path, withDestinationPath: "loop.json")
        #expect(mkfifo(export.appendingPathComponent("feed.json").path, 0o600) == 0)
        let store = "sqlite:" + dir.appendingPathComponent("store.sqlite").path

        let r = try cli.run(["import", export.path, "--store", store], in: dir)
        #expect(r.status == 1, "something was rejected: \(r.stdout) \(r.stderr)")
        #expect(r.stdout.contains("imported 1 (1 new, 0 updated), unchanged 0, rejected 3"), "\(r.stdout)")
        #expect(r.stdout.contains("3 file(s) or folder(s) could not be read"), "\(r.stdout)")
        for name in ["observations.ndjson", "loop.json", "feed.json"] {
            #expect(r.stderr.contains(export.appendingPathComponent(name).path), "\(name) is named on stderr: \(r.stderr)")
        }
        #expect(r.stderr.contains("dangling symbolic link") && r.stderr.contains("/nonexistent/observations.ndjson"))
        #expect(r.stderr.contains("FIFO"))

        let list = try cli.run(["deadletters", "list", "--store", store], in: dir)
        #expect(list.stdout.split(separator: "\n").count == 3, "each is a dead letter: \(list.stdout)")
        #expect(list.stdout.contains("cannot read"))
    }

    /// A named dangling link is missing input: exit 66, nothing imported.
    @Test func aNamedDanglingLinkExits66() throws {
        let dir = try Repository.temporaryDirectory("careledger-named-link")
        defer { try? FileManager.default.removeItem(at: dir) }
        let good = dir.appendingPathComponent("patient.json")
        try Data(Self.patient.utf8).write(to: good)
        let link = dir.appendingPathComponent("export.json")
        try FileManager.default.createSymbolicLink(atPath: link.path, withDestinationPath: "moved-away.json")
        let store = "sqlite:" + dir.appendingPathComponent("store.sqlite").path
        let r = try cli.run(["import", good.path, link.path, "--store", store], in: dir)
        #expect(r.status == 66)
        #expect(r.stderr.contains(link.path) && r.stderr.contains("moved-away.json"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("store.sqlite").path), "nothing was imported")
    }

    /// Item 15: a named file that cannot be read is exit 66 before anything is imported. Before: a socket given
    /// as a file became a dead letter with exit 1. (A socket because root can read a file of mode 000.)
    @Test func aNamedSocketIsNotAFileAndExits66() throws {
        // sun_path holds 108 bytes: a short directory.
        let dir = URL(fileURLWithPath: "/tmp/cl-sock-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let socketPath = dir.appendingPathComponent("export.json").path
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        try #require(fd >= 0)
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(socketPath.utf8)
        try #require(bytes.count < MemoryLayout.size(ofValue: address.sun_path))
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            buffer.copyBytes(from: bytes)
            buffer[bytes.count] = 0
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        try #require(bound == 0)

        let store = "sqlite:" + dir.appendingPathComponent("store.sqlite").path
        let r = try cli.run(["import", socketPath, "--store", store], in: dir)
        #expect(r.status == 66, "\(r.stdout) \(r.stderr)")
        #expect(r.stderr.contains(socketPath) && r.stderr.contains("socket"), "\(r.stderr)")
        let list = try cli.run(["deadletters", "list", "--store", store], in: dir)
        #expect(list.stdout.contains("no open dead letters"), "\(list.stdout)")
    }

    @Test(.enabled(if: !isRoot, "root reads files whatever their permissions"))
    func aNamedFileWithoutPermissionExits66() throws {
        let dir = try Repository.temporaryDirectory("careledger-named-mode")
        defer { try? FileManager.default.removeItem(at: dir) }
        let secret = dir.appendingPathComponent("secret.json")
        try Data(Self.patient.utf8).write(to: secret)
        #expect(chmod(secret.path, 0o000) == 0)
        let r = try cli.run(["import", secret.path, "--store", "sqlite:" + dir.appendingPathComponent("store.sqlite").path], in: dir)
        #expect(r.status == 66)
        #expect(r.stderr.contains("permission denied"), "\(r.stderr)")
    }

    // MARK: - Items 2 and 3 through the command

    @Test func aTransactionWithADuplicateFullUrlIsADeadLetterNamingBothEntries() throws {
        let dir = try Repository.temporaryDirectory("careledger-bdl7-cli")
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = "sqlite:" + dir.appendingPathComponent("store.sqlite").path
        let seed = Repository.root.appendingPathComponent("Fuzz/seeds/fhir-json/transaction-duplicate-fullurl.json").path
        let r = try cli.run(["import", seed, "--store", store], in: dir)
        #expect(r.status == 1)
        #expect(r.stdout.contains("imported 0 (0 new, 0 updated), unchanged 0, rejected 1"), "\(r.stdout)")
        let list = try cli.run(["deadletters", "list", "--store", store], in: dir)
        let id = try #require(list.stdout.split(separator: "\t").first.map(String.init))
        let show = try cli.run(["deadletters", "show", id, "--store", store], in: dir)
        #expect(show.stdout.contains("bdl-7"))
        #expect(show.stdout.contains("\"/entry/0/fullUrl\"") && show.stdout.contains("\"/entry/1/fullUrl\""), "\(show.stdout)")
    }

    @Test func aTransactionWithAnUnresolvedURNIsADeadLetterWithItsPointer() throws {
        let dir = try Repository.temporaryDirectory("careledger-urn-cli")
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = "sqlite:" + dir.appendingPathComponent("store.sqlite").path
        let seed = Repository.root.appendingPathComponent("Fuzz/seeds/fhir-json/transaction-unresolved-urn-uuid.json").path
        let r = try cli.run(["import", seed, "--store", store], in: dir)
        #expect(r.status == 1)
        #expect(r.stdout.contains("rejected 1"), "\(r.stdout)")
        let list = try cli.run(["deadletters", "list", "--store", store], in: dir)
        #expect(list.stdout.contains("/entry/1/resource/performer/0/reference"), "\(list.stdout)")
    }
}
