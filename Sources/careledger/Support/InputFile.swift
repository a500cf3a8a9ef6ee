import ArgumentParser
import FHIRCore
import Foundation

/// Reading FILE or '-' (standard input), with the CLI's exit codes.
enum InputFile {
    /// The bytes of `path`, or of standard input for `-`. Exits 66 if the file cannot be read; an input larger
    /// than `limit` bytes is refused with an OperationOutcome, having read at most `limit + 1` bytes of it.
    static func read(_ path: String, limit: Int = FHIRLimits.default.maxDocumentBytes) throws -> [UInt8] {
        let bytes: [UInt8]?
        do {
            bytes = try contents(of: path, atMost: limit)
        } catch {
            FileHandle.standardError.write(Data("careledger: \(error)\n".utf8))
            throw ExitCode(66)
        }
        guard let bytes else {
            Output.reject(OperationOutcome(error: FHIRError(.tooLarge, "the input is larger than \(limit) bytes, the most one document may have")))
        }
        return bytes
    }

    /// The bytes of `path` (standard input for `-`), or nil when it has more than `limit`: it reads at most
    /// `limit + 1` bytes, whatever the file's size (a FIFO or a device has none).
    static func contents(of path: String, atMost limit: Int) throws(Unreadable) -> [UInt8]? {
        let handle: FileHandle
        if path == "-" {
            handle = FileHandle.standardInput
        } else {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { throw Unreadable(path: path, reason: "no such file") }
            guard !isDirectory.boolValue else { throw Unreadable(path: path, reason: "it is a directory") }
            guard let opened = FileHandle(forReadingAtPath: path) else { throw Unreadable(path: path, reason: "not readable (permission denied?)") }
            handle = opened
        }
        defer { if path != "-" { try? handle.close() } }
        var bytes: [UInt8] = []
        while bytes.count <= limit {
            let chunk: Data?
            do {
                chunk = try handle.read(upToCount: min(1 << 20, limit + 1 - bytes.count))
            } catch {
                throw Unreadable(path: path, reason: "\(error.localizedDescription)")
            }
            guard let chunk, !chunk.isEmpty else { break }
            bytes.append(contentsOf: chunk)
        }
        return bytes.count > limit ? nil : bytes
    }

    /// A file that cannot be read (exit 66), and why.
    struct Unreadable: Error, CustomStringConvertible {
        let path: String
        let reason: String
        var description: String { "cannot read '\(path == "-" ? "standard input" : path)': \(reason)" }
    }

    /// Detects the format, parses and validates a resource, or prints the OperationOutcome `fhir validate` would
    /// print and exits 1 (no command takes what the validator refuses).
    static func readResource(_ path: String, limits: FHIRLimits = .default) throws -> (Resource, FHIRFormat, [UInt8]) {
        let bytes = try read(path)
        do throws(FHIRDocument.Rejection) {
            let document = try FHIRDocument.readValidated(bytes, limits: limits)
            return (document.resource, document.format, bytes)
        } catch {
            Output.reject(error.outcome)
        }
    }
}

/// Writing results and rejections.
enum Output {
    static func write(_ bytes: [UInt8]) {
        FileHandle.standardOutput.write(Data(bytes))
    }

    static func line(_ text: String) {
        write(Array((text + "\n").utf8))
    }

    /// Prints the outcome as FHIR JSON on stdout and exits 1.
    static func reject(_ outcome: OperationOutcome) -> Never {
        write(JSONWriter(style: .pretty).write(.object(outcome.resource)))
        Foundation.exit(1)
    }
}
