import ArgumentParser
import FHIRCore
import Foundation

/// Reading FILE or '-' (standard input), with the CLI's exit codes.
enum InputFile {
    /// The bytes of `path`, or of standard input for `-`. Exits 66 if the file cannot be read; an input larger
    /// than `limit` bytes is refused with an OperationOutcome before it is read into memory.
    static func read(_ path: String, limit: Int = FHIRLimits.default.maxDocumentBytes) throws -> [UInt8] {
        let tooLarge = OperationOutcome(error: FHIRError(.tooLarge, "the input is larger than \(limit) bytes, the most one document may have"))
        if path == "-" {
            var bytes: [UInt8] = []
            while true {
                let chunk = FileHandle.standardInput.readData(ofLength: 1 << 20)
                if chunk.isEmpty { break }
                bytes.append(contentsOf: chunk)
                if bytes.count > limit { Output.reject(tooLarge) }
            }
            return bytes
        }
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        if let size = attributes?[.size] as? Int, size > limit { Output.reject(tooLarge) }
        guard let data = FileManager.default.contents(atPath: path) else {
            FileHandle.standardError.write(Data("careledger: cannot read '\(path)': no such file or not readable\n".utf8))
            throw ExitCode(66)
        }
        return [UInt8](data)
    }

    /// Detects the format and returns the resource's canonical bytes, or prints an OperationOutcome and exits 1.
    static func readCanonical(_ path: String, limits: FHIRLimits = .default) throws -> [UInt8] {
        let bytes = try read(path)
        do {
            return try FHIRDocument.canonicalBytes(bytes, limits: limits)
        } catch {
            Output.reject(OperationOutcome(error: error))
        }
    }

    /// Detects the format and parses a resource, or prints an OperationOutcome and exits 1.
    static func readResource(_ path: String, limits: FHIRLimits = .default) throws -> (Resource, FHIRFormat, [UInt8]) {
        let bytes = try read(path)
        do {
            let document = try FHIRDocument.read(bytes, limits: limits)
            return (document.resource, document.format, bytes)
        } catch {
            Output.reject(OperationOutcome(error: error))
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
