import ArgumentParser

/// `careledger bench …`: benchmarks that print each figure beside a reference measured in the same run.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks, each printed beside a reference measured in the same run on the same bytes.",
        discussion: "Build in release mode for meaningful numbers: swift run -c release careledger bench record-core",
        subcommands: [RecordCoreBenchCommand.self, ImportBenchCommand.self, ReceiptBenchCommand.self, AnchoringBenchCommand.self, LoadBenchCommand.self, HL7BenchCommand.self, CCDABenchCommand.self, ContractsBenchCommand.self]
    )
}
