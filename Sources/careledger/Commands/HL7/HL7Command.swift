import ArgumentParser
import FHIRCore
import Foundation
import HL7v2
import Mapping

/// `careledger hl7 …`: HL7 v2 messages through the mappings in Mappings/hl7v2.
struct HL7Command: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hl7",
        abstract: "Convert HL7 v2 messages to FHIR R4 through the mappings in Mappings/hl7v2.",
        subcommands: [HL7ConvertCommand.self]
    )
}

struct HL7ConvertCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Print the FHIR transaction Bundle of each message in FILE, storing nothing.",
        discussion: """
            FILE holds one message, several, or FHS/BHS batches ('-' reads standard input); segments may end with \
            CR, LF or CRLF. One message prints one Bundle (pretty JSON); several print one Bundle per line \
            (NDJSON, in file order). A message that is refused prints an OperationOutcome in its place, and the \
            command exits 1; with --ndjson, a file refused as a whole also prints its OperationOutcome on one line. \
            Warnings (segments and fields no rule maps, times without a zone, escape sequences that were repaired or \
            kept as written, each with its segment and field) go to standard error.
            """
    )

    @Argument(help: "The HL7 v2 file ('-' for standard input).")
    var file: String

    @Option(help: "The mappings folder (default: Mappings/ of the working directory or of the repository holding this binary).")
    var mappings: String?

    @Flag(help: "One JSON document per line even for a single message.")
    var ndjson = false

    @Flag(help: "Do not print warnings.")
    var quiet = false

    func run() async throws {
        let converter = try MappingsLocation.converter(mappings)
        let bytes = try InputFile.read(file, limit: HL7Limits.default.maxFileBytes)
        let parsed: HL7File
        do {
            parsed = try HL7File.parse(bytes)
        } catch {
            let outcome = OperationOutcome(issues: HL7ConversionError(error).issues)
            // NDJSON is one object per line, a refusal of the whole file included.
            guard ndjson else { Output.reject(outcome) }
            Output.write(JSONWriter(style: .compact).write(.object(outcome.resource)) + [0x0A])
            throw ExitCode(1)
        }
        let lines = ndjson || parsed.entries.count > 1
        var refused = 0
        for warning in parsed.warnings where !quiet { Self.warn("\(file): \(warning)") }
        for entry in parsed.entries {
            let document: FHIRValue
            switch entry.result {
            case .failure(let error):
                refused += 1
                document = .object(OperationOutcome(issues: HL7ConversionError(error).issues).resource)
            case .success(let message):
                do {
                    let conversion = try converter.convert(message)
                    document = conversion.bundle
                    if !quiet {
                        for issue in conversion.warnings { Self.warn("\(file): message \(entry.number) (line \(entry.line)): \(issue.diagnostics)") }
                    }
                } catch {
                    refused += 1
                    document = .object(error.outcome.resource)
                }
            }
            Output.write(JSONWriter(style: lines ? .compact : .pretty).write(document))
            if lines { Output.write([0x0A]) }
        }
        if refused > 0 { throw ExitCode(1) }
    }

    static func warn(_ text: String) {
        FileHandle.standardError.write(Data("warning: \(text)\n".utf8))
    }
}

/// Where the mappings are: `--mappings`, else `$CARELEDGER_MAPPINGS`, else `Mappings/` in the working directory,
/// else `Mappings/` beside the repository the binary was built in (`.build/<config>/careledger`).
enum MappingsLocation {
    static func root(_ option: String?) -> String? {
        if let option { return option }
        if let env = ProcessInfo.processInfo.environment["CARELEDGER_MAPPINGS"] { return env }
        let fm = FileManager.default
        if fm.fileExists(atPath: "Mappings/hl7v2") { return "Mappings" }
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<5 {
            let candidate = url.appendingPathComponent("Mappings")
            if fm.fileExists(atPath: candidate.appendingPathComponent("hl7v2").path) { return candidate.path }
            url.deleteLastPathComponent()
        }
        return nil
    }

    static func ccdaConverter(_ option: String?) throws -> CCDAConverter {
        guard let root = root(option) else {
            FileHandle.standardError.write(Data("careledger: no Mappings folder found; pass --mappings DIR or set CARELEDGER_MAPPINGS\n".utf8))
            throw ExitCode(66)
        }
        do {
            return CCDAConverter(mappings: try CCDAMappingSet.load(directory: (root as NSString).appendingPathComponent("ccda")))
        } catch {
            FileHandle.standardError.write(Data("careledger: the C-CDA mappings cannot be used: \(error)\n".utf8))
            throw ExitCode(78)
        }
    }

    static func converter(_ option: String?) throws -> HL7Converter {
        guard let root = root(option) else {
            FileHandle.standardError.write(Data("careledger: no Mappings folder found; pass --mappings DIR or set CARELEDGER_MAPPINGS\n".utf8))
            throw ExitCode(66)
        }
        do {
            return HL7Converter(mappings: try HL7MappingSet.load(directory: (root as NSString).appendingPathComponent("hl7v2")))
        } catch {
            FileHandle.standardError.write(Data("careledger: the mappings cannot be used: \(error)\n".utf8))
            throw ExitCode(78)
        }
    }
}
