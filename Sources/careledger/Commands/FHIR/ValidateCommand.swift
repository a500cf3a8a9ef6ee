import ArgumentParser
import FHIRCore

/// `careledger fhir validate FILE`.
struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check a resource's structure against the FHIR R4 definitions and print an OperationOutcome.",
        discussion: """
            Checks: known resourceType, known elements, JSON value kinds, primitive lexical forms (the spec's \
            regular expressions), cardinality, choice types, primitive extensions and empty values (`<id/>` too), \
            XML elements only in the FHIR namespace, and a narrative of basic XHTML with some content (FHIR txt-1 \
            and txt-2: no script, event handlers, javascript: URLs or elements beyond formatting, tables, lists, \
            links and images) — in contained resources and Bundle entries too. Each issue names its location: a \
            JSON pointer, plus line and column for XML input. Exit 0 when there are no errors, 1 otherwise. \
            Profiles and terminology are not checked.
            """
    )

    @Argument(help: "The resource file (JSON or XML), or '-' for standard input.")
    var file: String

    func run() throws {
        let bytes = try InputFile.read(file)
        let outcome = FHIRDocument.validate(bytes)
        Output.write(JSONWriter(style: .pretty).write(.object(outcome.resource)))
        if outcome.hasErrors { throw ExitCode(1) }
    }
}
