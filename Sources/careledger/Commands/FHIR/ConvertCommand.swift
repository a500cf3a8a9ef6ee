import ArgumentParser
import FHIRCore

/// `careledger fhir convert FILE --to json|xml`.
struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Convert a resource between FHIR JSON and FHIR XML, losing nothing.",
        discussion: """
            Everything read is kept: extensions, primitive extensions (_birthDate), element ids, contained \
            resources, the narrative and decimals exactly as written (1.50 stays 1.50). XML elements are written \
            in the order the FHIR R4 definitions give, whatever the JSON member order was. The input is validated \
            first: what `careledger fhir validate` refuses is not converted (exit 1, the same OperationOutcome).
            """
    )

    enum Target: String, ExpressibleByArgument, CaseIterable {
        case json, xml
    }

    @Argument(help: "The resource file (JSON or XML), or '-' for standard input.")
    var file: String

    @Option(name: .long, help: "Output format: json or xml.")
    var to: Target

    @Flag(name: .long, help: "JSON output on one line (NDJSON style) instead of indented.")
    var compact = false

    func run() throws {
        let resource = try ValidatedInput.document(file).resource
        switch to {
        case .json:
            Output.write(JSONWriter(style: compact ? .compact : .pretty).write(resource))
        case .xml:
            do {
                Output.write(try XMLWriter().write(resource))
            } catch {
                Output.reject(OperationOutcome(error: error))
            }
        }
    }
}
