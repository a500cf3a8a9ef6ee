import Foundation

/// What the benchmarks share: timing, and the Python peers they are measured beside.
enum Bench {
    /// A duration in seconds.
    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    /// The median of `values` (the mean of the middle two for an even count); 0 for none.
    static func middle(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        let k = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[k] : (sorted[k - 1] + sorted[k]) / 2
    }

    /// Median wall time of `rounds` runs of `body`, after one warm-up run.
    static func median(rounds: Int, _ body: () -> Void) -> Double {
        body()
        var times: [Double] = []
        let clock = ContinuousClock()
        for _ in 0..<max(rounds, 1) {
            times.append(seconds(clock.measure(body)))
        }
        return times.sorted()[times.count / 2]
    }
}

/// A Python peer: a script of `scripts/` run as a subprocess, which prints its figures as one JSON object on its
/// last line of output (or `{"error": …}` when its package is missing).
enum PythonPeer {
    struct Problem: Error, CustomStringConvertible { let description: String }

    /// `scripts/<name>` in the working directory or in the repository the binary was built in.
    static func script(_ name: String) -> String? {
        let fm = FileManager.default
        let relative = "scripts/\(name)"
        if fm.fileExists(atPath: relative) { return relative }
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<5 {
            let candidate = url.appendingPathComponent(relative)
            if fm.fileExists(atPath: candidate.path) { return candidate.path }
            url.deleteLastPathComponent()
        }
        return nil
    }

    /// What a peer prints instead of its figures when it cannot run (its library is not installed).
    struct Refusal: Decodable {
        var error: String?
    }

    /// Runs `python3 scripts/<name> <arguments>` and reads its last line as `Answer` (its JSON figures), or as the
    /// `{"error": …}` it prints when it cannot run. Standard error goes to a file, so that a chatty peer cannot
    /// block on a full pipe while stdout is read; its last lines explain a failure.
    static func run<Answer: Decodable>(_ name: String, arguments: [String], as answer: Answer.Type) -> Result<Answer, Problem> {
        guard let script = script(name) else {
            return .failure(Problem(description: "scripts/\(name) not found (run from the repository)"))
        }
        let fm = FileManager.default
        let errURL = fm.temporaryDirectory.appendingPathComponent("careledger-peer-\(ProcessInfo.processInfo.processIdentifier).err")
        guard fm.createFile(atPath: errURL.path, contents: nil), let errFile = try? FileHandle(forWritingTo: errURL) else {
            return .failure(Problem(description: "cannot create \(errURL.path)"))
        }
        defer { try? errFile.close(); try? fm.removeItem(at: errURL) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", script] + arguments
        let out = Pipe()
        p.standardOutput = out
        p.standardError = errFile
        p.standardInput = FileHandle.nullDevice
        do { try p.run() } catch { return .failure(Problem(description: "python3 could not be started: \(error)")) }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let lastLine = String(decoding: data, as: UTF8.self).split(separator: "\n").last.map { Data($0.utf8) }
        if let lastLine, let problem = (try? JSONDecoder().decode(Refusal.self, from: lastLine))?.error {
            return .failure(Problem(description: problem))
        }
        guard p.terminationStatus == 0, let lastLine else {
            let errText = String(decoding: fm.contents(atPath: errURL.path) ?? Data(), as: UTF8.self)
            let tail = errText.split(separator: "\n").suffix(3).joined(separator: " | ")
            return .failure(Problem(description: "the script failed (exit \(p.terminationStatus)): \(tail)"))
        }
        do {
            return .success(try JSONDecoder().decode(Answer.self, from: lastLine))
        } catch {
            return .failure(Problem(description: "the script's last line is not its figures: \(error)"))
        }
    }
}
