import ArgumentParser

/// `careledger`: the node every participating provider runs.
@main
struct CareLedgerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "careledger",
        abstract: "Import, anchor and verify patient records, under each patient's consent.",
        discussion: """
            Exit codes (each command's --help says which it uses):
              0   success
              1   input rejected or a check failed (OperationOutcome, or FAILED, on stdout)
              64  bad usage: unknown option, malformed value, unknown --store scheme
              66  an input cannot be read: a file or folder, --home, the Mappings folder
              69  a service is unavailable: the store, the MLLP port
              70  an internal failure stopped the work midway (import)
              75  try again later: not anchored yet (receipt), no block yet (consent)
              78  configuration error: unusable mappings, a demo store of another chain
            """,
        subcommands: [DemoCommand.self, ServeCommand.self, ImportCommand.self, StoreCommand.self, DeadLettersCommand.self, FHIRCommand.self, NodeCommand.self, TestnetCommand.self, ReceiptCommand.self, ConsentCommand.self, ClientCommand.self, ContractCommand.self, VerifyCommand.self, SimCommand.self, BenchCommand.self, HL7Command.self, CCDACommand.self, MLLPCommand.self]
    )
}
