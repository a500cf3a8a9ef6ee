import ArgumentParser

/// `careledger fhir …`: the record core on single files.
struct FHIRCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fhir",
        abstract: "Convert, canonicalize, hash and validate FHIR R4 resources (JSON or XML, detected from the content).",
        discussion: """
            Each subcommand reads one resource (or Bundle) from FILE, or from standard input when FILE is '-', \
            and writes to standard output. A rejected input exits 1 and prints an OperationOutcome (JSON) naming \
            what is wrong and where (JSON pointer, or line and column).
            """,
        subcommands: [ConvertCommand.self, CanonicalCommand.self, HashCommand.self, ValidateCommand.self]
    )
}
