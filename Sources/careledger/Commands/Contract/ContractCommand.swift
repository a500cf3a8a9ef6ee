import ArgumentParser

/// `careledger contract …`: allocation contracts (issue 18, docs/contracts.md).
struct ContractCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "contract",
        abstract: "Allocation contracts: scarce resources divided by published rules (docs/contracts.md).",
        subcommands: [ContractDeployCommand.self, ContractVoteCommand.self, ContractClaimCommand.self, ContractSupplyCommand.self,
                      ContractWithdrawCommand.self, ContractShowCommand.self, ContractExplainCommand.self, ContractSimulateCommand.self,
                      ContractEvalCommand.self]
    )
}
