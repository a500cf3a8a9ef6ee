import ArgumentParser
import FHIRCore
import Foundation
import Mapping

/// `careledger ccda …`: C-CDA documents through the mappings in Mappings/ccda.
struct CCDACommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ccda",
        abstract: "Convert C-CDA documents to FHIR R4 through the mappings in Mappings/ccda.",
        subcommands: [CCDAConvertCommand.self]
    )
}

struct CCDAConvertCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Print the FHIR transaction Bundle of a C-CDA document, storing nothing.",
        discussion: """
            FILE is a ClinicalDocument (urn:hl7-org:v3): a CCD, discharge summary, referral note, … ('-' reads \
            standard input). The Bundle holds the Patient, the entries of the mapped sections (problems, \
            allergies, medications, results, vital signs, immunizations, procedures, encounters) and a \
            DocumentReference for the document with its SHA-1 and SHA-256. A document that is refused prints an \
            OperationOutcome and exits 1. Warnings (sections no mapping covers, times without a zone) go to standard \
            error.
            """
    )

    @Argument(help: "The C-CDA document ('-' for standard input).")
    var file: String

    @Option(help: "The mappings folder (default: Mappings/ of the working directory or of the repository holding this binary).")
    var mappings: String?

    @Flag(help: "One line of JSON instead of pretty JSON.")
    var compact = false

    @Flag(help: "Do not print warnings.")
    var quiet = false

    func run() async throws {
        let converter = try MappingsLocation.ccdaConverter(mappings)
        let bytes = try InputFile.read(file, limit: 32 << 20)
        do {
            let conversion = try converter.convert(bytes)
            if !quiet {
                for issue in conversion.warnings { HL7ConvertCommand.warn("\(file): \(issue.diagnostics)") }
            }
            Output.write(JSONWriter(style: compact ? .compact : .pretty).write(conversion.bundle))
            if compact { Output.write([0x0A]) }
        } catch {
            Output.reject(error.outcome)
        }
    }
}
