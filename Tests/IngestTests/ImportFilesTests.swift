import Foundation
import Ingest
import TestSupport
import Testing

/// What `ImportFiles.expand` makes of paths that cannot be read (issue 16, items 6 and 15): nothing is skipped
/// silently. Symbolic links and FIFOs are used because they cannot be read even by root, where permission bits
/// do not stop a read; the permission cases run only when the tests are not root.
@Suite("Import files: unreadable paths")
struct ImportFilesTests {
    static let isRoot = getuid() == 0

    func directory() throws -> URL { try Repository.temporaryDirectory("careledger-import-files") }

    func write(_ text: String, _ url: URL) throws { try Data(text.utf8).write(to: url) }

    @Test func entriesOfAFolderThatCannotBeReadComeBackWithTheirProblem() throws {
        let dir = try directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try write(#"{"resourceType":"Patient","id":"a"}"#, dir.appendingPathComponent("good.json"))
        try FileManager.default.createSymbolicLink(atPath: dir.appendingPathComponent("gone.json").path, withDestinationPath: "nowhere.json")
        try FileManager.default.createSymbolicLink(atPath: dir.appendingPathComponent("loop").path, withDestinationPath: "loop")
        #expect(mkfifo(dir.appendingPathComponent("feed.ndjson").path, 0o600) == 0)
        // Not input by its name: a FIFO called notes.txt is not an import's business.
        #expect(mkfifo(dir.appendingPathComponent("notes.txt").path, 0o600) == 0)

        let files = try ImportFiles.expand([dir.path])
        let byName = Dictionary(uniqueKeysWithValues: files.map { (URL(fileURLWithPath: $0.path).lastPathComponent, $0) })
        #expect(Set(byName.keys) == ["good.json", "gone.json", "loop", "feed.ndjson"])
        #expect(byName["good.json"]?.problem == nil)
        #expect(byName["gone.json"]?.problem?.reason.contains("dangling symbolic link") == true)
        #expect(byName["gone.json"]?.problem?.reason.contains("nowhere.json") == true)
        #expect(byName["loop"]?.problem?.reason.contains("loop") == true)
        #expect(byName["feed.ndjson"]?.problem?.reason.contains("FIFO") == true)
    }

    @Test func aNamedPathThatCannotBeReadThrows() throws {
        let dir = try directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let gone = dir.appendingPathComponent("gone.json").path
        try FileManager.default.createSymbolicLink(atPath: gone, withDestinationPath: "nowhere.json")
        #expect(throws: ImportError.self) { try ImportFiles.expand([gone]) }
        let missing = dir.appendingPathComponent("missing.json").path
        #expect(throws: ImportError.self) { try ImportFiles.expand([missing]) }
    }

    /// A folder reached again through a symbolic link is walked once, not forever.
    @Test func aLinkBackToAnAncestorIsWalkedOnce() throws {
        let dir = try directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let sub = dir.appendingPathComponent("sub")
        try FileManager.default.createDirectory(at: sub, withIntermediateDirectories: true)
        try write(#"{"resourceType":"Patient","id":"a"}"#, sub.appendingPathComponent("a.json"))
        try FileManager.default.createSymbolicLink(atPath: sub.appendingPathComponent("up").path, withDestinationPath: "..")
        let files = try ImportFiles.expand([dir.path])
        #expect(files.map(\.path) == [sub.appendingPathComponent("a.json").path])
    }

    @Test(.enabled(if: !isRoot, "root reads files and folders whatever their permissions"))
    func filesAndFoldersWithoutPermissionAreProblemsInsideAFolderAndThrowWhenNamed() throws {
        let dir = try directory()
        defer {
            chmod(dir.appendingPathComponent("closed").path, 0o700)
            try? FileManager.default.removeItem(at: dir)
        }
        let secret = dir.appendingPathComponent("secret.json")
        try write(#"{"resourceType":"Patient","id":"s"}"#, secret)
        #expect(chmod(secret.path, 0o000) == 0)
        let closed = dir.appendingPathComponent("closed")
        try FileManager.default.createDirectory(at: closed, withIntermediateDirectories: true)
        try write(#"{"resourceType":"Patient","id":"c"}"#, closed.appendingPathComponent("c.json"))
        #expect(chmod(closed.path, 0o000) == 0)

        let files = try ImportFiles.expand([dir.path])
        #expect(files.count == 2)
        #expect(files.allSatisfy { $0.problem?.reason.contains("permission denied") == true })
        #expect(throws: ImportError.self) { try ImportFiles.expand([secret.path]) }
    }
}
