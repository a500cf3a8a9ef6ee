public import Foundation

/// Where the tests find the repository and `../shared` (the corpus, vectors and definitions), from this file's
/// path, so they run from any working directory.
public enum Repository {
    /// The repository root (the folder holding Package.swift).
    public static let root: URL = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
        }
        return URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
    }()

    /// `../shared` next to the repository.
    public static let shared: URL = root.deletingLastPathComponent().appendingPathComponent("shared")

    /// A new empty temp directory (the caller removes it).
    public static func temporaryDirectory(_ prefix: String) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Compresses `path` with the system gzip into `destination` (default `path.gz`) and returns that path.
    public static func gzip(_ path: String, to destination: String? = nil) throws -> String {
        let out = destination ?? path + ".gz"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", "gzip -c \"$0\" > \"$1\"", path, out]
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: out]) }
        return out
    }
}
