/// Why a throwaway PostgreSQL server could not be found, started, used or stopped.
///
/// It carries everything needed to diagnose the failure from a test log alone: the command that failed, its exit
/// status and output, and the last lines of the server's own log.
public struct PostgresServerError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, in one sentence (with a remedy where there is one).
    public var message: String
    /// The command line that failed (empty when no command was involved).
    public var command: [String]
    /// The command's exit status, when it ran to completion.
    public var exitStatus: Int32?
    /// What the command wrote to standard output and standard error (truncated to its tail).
    public var output: String
    /// The last lines of the server log, when there is one.
    public var logTail: String

    public init(
        _ message: String,
        command: [String] = [],
        exitStatus: Int32? = nil,
        output: String = "",
        logTail: String = ""
    ) {
        self.message = message
        self.command = command
        self.exitStatus = exitStatus
        self.output = Self.tail(output, maxLines: 40)
        self.logTail = logTail
    }

    public var description: String {
        var lines = ["PostgresServerError: \(message)"]
        if !command.isEmpty {
            lines.append("  command: \(command.joined(separator: " "))")
        }
        if let exitStatus {
            lines.append("  exit status: \(exitStatus)")
        }
        let trimmedOutput = output.trimmingTrailingNewlines()
        if !trimmedOutput.isEmpty {
            lines.append("  output:")
            lines.append(contentsOf: trimmedOutput.split(separator: "\n", omittingEmptySubsequences: false).map { "    \($0)" })
        }
        let trimmedLog = logTail.trimmingTrailingNewlines()
        if !trimmedLog.isEmpty {
            lines.append("  server log (tail):")
            lines.append(contentsOf: trimmedLog.split(separator: "\n", omittingEmptySubsequences: false).map { "    \($0)" })
        }
        return lines.joined(separator: "\n")
    }

    /// The last `maxLines` lines of `text`.
    static func tail(_ text: String, maxLines: Int) -> String {
        let lines = text.trimmingTrailingNewlines().split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count > maxLines else { return text.trimmingTrailingNewlines() }
        return lines.suffix(maxLines).joined(separator: "\n")
    }
}

extension String {
    func trimmingTrailingNewlines() -> String {
        var result = Substring(self)
        while let last = result.last, last == "\n" || last == "\r" {
            result = result.dropLast()
        }
        return String(result)
    }
}
