import ArgumentParser
import FHIRCore

/// `careledger fhir canonical FILE`.
struct CanonicalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "canonical",
        abstract: "Print the canonical form of a resource: the exact bytes CareLedger hashes and anchors.",
        discussion: """
            The form is specified in docs/canonical-form.md (version careledger-canonical/1): RFC 8785 member \
            order and escaping, no whitespace, FHIR decimals as written, the narrative div as Canonical XML 1.0. \
            The same resource read from JSON or from XML gives the same bytes. No newline is added. The input is \
            validated first: what `careledger fhir validate` refuses exits 1 with the same OperationOutcome.
            """
    )

    @Argument(help: "The resource file (JSON or XML), or '-' for standard input.")
    var file: String

    func run() throws {
        Output.write(try ValidatedInput.canonicalBytes(file))
    }
}
