import Foundation

/// The outcome of one finished command.
struct CommandResult: Sendable {
    var command: [String]
    /// The exit status; `128 + signal` when the command was killed by a signal (the shell's convention).
    var exitStatus: Int32
    /// Standard output and standard error, interleaved as written.
    var output: String

    var succeeded: Bool { exitStatus == 0 }
}

/// Runs commands with Foundation's `Process`: standard input from /dev/null, standard output and error into a
/// temporary file (not a pipe, so a chatty command cannot fill a pipe and stall).
///
/// On Linux, Foundation learns that a child exited when a socket it hands to the child reaches end-of-file. A
/// command that leaves a daemon behind (`pg_ctl start`) passes that socket on to the daemon, and the termination
/// handler would then wait for the daemon to exit. `detachesDaemon: true` runs such a command under bash with
/// every descriptor above 2 closed, so only the bash wrapper holds the socket and its exit is seen at once.
enum CommandRunner {
    /// Closes every descriptor above 2 for the command given as its arguments, runs it, and exits with its status.
    private static let closeDescriptorsScript = #"""
        c=""; for f in /proc/$$/fd/*; do n=${f##*/}; if [ "$n" -gt 2 ]; then c="$c $n>&-"; fi; done; eval "\"\$@\"$c"
        """#

    /// Runs `command` (an absolute executable path followed by its arguments) without blocking a thread while it
    /// runs. Throws only when the command could not be started; a non-zero exit is reported in the result.
    static func run(
        _ command: [String],
        currentDirectory: String? = nil,
        detachesDaemon: Bool = false
    ) async throws(PostgresServerError) -> CommandResult {
        let prepared = try prepare(command, currentDirectory: currentDirectory, detachesDaemon: detachesDaemon)
        defer { prepared.cleanUp() }
        let outcome: Result<Int32, PostgresServerError> = await withCheckedContinuation { continuation in
            prepared.process.terminationHandler = { process in
                continuation.resume(returning: .success(exitStatus(of: process)))
            }
            do {
                try prepared.process.run()
            } catch {
                prepared.process.terminationHandler = nil
                continuation.resume(returning: .failure(startFailure(command, error)))
            }
        }
        let status = try outcome.get()
        return CommandResult(command: command, exitStatus: status, output: prepared.readOutput())
    }

    /// Runs `command` and blocks the calling thread until it exits. Only for places that cannot await, such as
    /// an `atexit` handler.
    static func runBlocking(
        _ command: [String],
        currentDirectory: String? = nil
    ) throws(PostgresServerError) -> CommandResult {
        let prepared = try prepare(command, currentDirectory: currentDirectory, detachesDaemon: false)
        defer { prepared.cleanUp() }
        do {
            try prepared.process.run()
        } catch {
            throw startFailure(command, error)
        }
        prepared.process.waitUntilExit()
        return CommandResult(command: command, exitStatus: exitStatus(of: prepared.process), output: prepared.readOutput())
    }

    /// The absolute path of `name` on `PATH` (plus the usual sbin directories, where `runuser` lives), or nil.
    static func findExecutable(_ name: String) -> String? {
        if name.hasPrefix("/") {
            return FileManager.default.isExecutableFile(atPath: name) ? name : nil
        }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        var directories = path.split(separator: ":").map(String.init)
        for extra in ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        where !directories.contains(extra) {
            directories.append(extra)
        }
        for directory in directories where !directory.isEmpty {
            let candidate = directory + "/" + name
            if FileManager.default.isExecutableFile(atPath: candidate) {
                return candidate
            }
        }
        return nil
    }

    // MARK: - Details

    private struct Prepared {
        var process: Process
        var outputPath: String
        var outputHandle: FileHandle

        func readOutput() -> String {
            try? outputHandle.close()
            guard let data = FileManager.default.contents(atPath: outputPath) else { return "" }
            return String(decoding: data, as: UTF8.self)
        }

        func cleanUp() {
            try? outputHandle.close()
            try? FileManager.default.removeItem(atPath: outputPath)
        }
    }

    private static func prepare(
        _ command: [String],
        currentDirectory: String?,
        detachesDaemon: Bool
    ) throws(PostgresServerError) -> Prepared {
        guard !command.isEmpty else {
            throw PostgresServerError("internal error: empty command line")
        }
        var launched = command
        if detachesDaemon {
            guard let bash = findExecutable("bash") else {
                throw PostgresServerError("bash is needed to start a daemon but is not on PATH", command: command)
            }
            launched = [bash, "-c", closeDescriptorsScript, "careledger-close-fds"] + command
        }
        let outputPath = FileManager.default.temporaryDirectory
            .appendingPathComponent("careledger-cmd-\(UUID().uuidString).out").path
        guard FileManager.default.createFile(atPath: outputPath, contents: nil),
            let outputHandle = FileHandle(forWritingAtPath: outputPath)
        else {
            throw PostgresServerError("could not create a temporary file for command output at \(outputPath)", command: command)
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: launched[0])
        process.arguments = Array(launched.dropFirst())
        if let currentDirectory {
            process.currentDirectoryURL = URL(fileURLWithPath: currentDirectory, isDirectory: true)
        }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = outputHandle
        process.standardError = outputHandle
        return Prepared(process: process, outputPath: outputPath, outputHandle: outputHandle)
    }

    private static func exitStatus(of process: Process) -> Int32 {
        switch process.terminationReason {
        case .exit: return process.terminationStatus
        case .uncaughtSignal: return 128 + process.terminationStatus
        @unknown default: return process.terminationStatus
        }
    }

    private static func startFailure(_ command: [String], _ error: any Error) -> PostgresServerError {
        PostgresServerError("could not start the command: \(error)", command: command)
    }
}
