import Foundation

/// Runs the built `careledger` in a directory of the test's choosing, with a controlled environment, so that a
/// file the command must not create would be seen there (`CLITests.run` runs in the repository).
struct CLIProcess {
    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs the binary in `directory` (so a store it should not create would land there), with `environment`
    /// added to this process's (`CARELEDGER_STORE` removed unless given).
    func run(_ arguments: [String], in directory: URL, environment: [String: String] = [:]) throws -> Run {
        let process = Process()
        process.executableURL = CLITests.binary
        process.arguments = arguments
        process.currentDirectoryURL = directory
        var env = ProcessInfo.processInfo.environment
        env["CARELEDGER_STORE"] = nil
        env.merge(environment) { _, new in new }
        process.environment = env
        return try Self.capture(process, in: directory)
    }

    /// Runs a configured `process` to its end with its standard output and error written to files in `directory`
    /// (not pipes, which a chatty process fills and stalls on), and returns both with its exit status.
    static func capture(_ process: Process, in directory: URL) throws -> Run {
        let out = directory.appendingPathComponent(".out-\(UUID().uuidString)")
        let err = directory.appendingPathComponent(".err-\(UUID().uuidString)")
        FileManager.default.createFile(atPath: out.path, contents: nil)
        FileManager.default.createFile(atPath: err.path, contents: nil)
        defer {
            try? FileManager.default.removeItem(at: out)
            try? FileManager.default.removeItem(at: err)
        }
        let outHandle = try FileHandle(forWritingTo: out)
        let errHandle = try FileHandle(forWritingTo: err)
        process.standardOutput = outHandle
        process.standardError = errHandle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        try outHandle.close()
        try errHandle.close()
        return Run(status: process.terminationStatus,
                   stdout: String(decoding: try Data(contentsOf: out), as: UTF8.self),
                   stderr: String(decoding: try Data(contentsOf: err), as: UTF8.self))
    }

    /// The names in `directory`, without the runner's own output files.
    func entries(_ directory: URL) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { !$0.hasPrefix(".out-") && !$0.hasPrefix(".err-") }.sorted()
    }
}
