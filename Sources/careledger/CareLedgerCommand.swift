import ArgumentParser

/// `careledger`: the node every participating provider runs.
@main
struct CareLedgerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "careledger",
        abstract: "Import, anchor and verify patient records, under each patient's consent.",
        discussion: """
            Exit codes: 0 success; 1 the input was rejected (an OperationOutcome on stdout says what and where); \
            64 bad command-line usage; 66 an input file could not be read.
            """,
        subcommands: [DemoCommand.self, ImportCommand.self, StoreCommand.self, DeadLettersCommand.self, FHIRCommand.self, NodeCommand.self, TestnetCommand.self, ReceiptCommand.self, ConsentCommand.self, VerifyCommand.self, SimCommand.self, BenchCommand.self, HL7Command.self, CCDACommand.self, MLLPCommand.self]
    )
}
