import ArgumentParser
import Foundation
import Ledger
import Node

/// `careledger node …`: a validator's home and, next, its process.
struct NodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node",
        abstract: "Set up and run a ledger validator.",
        subcommands: [NodeInitCommand.self]
    )
}

/// `careledger node init --home DIR`.
struct NodeInitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create a node home: a fresh Ed25519 node key, a consortium key for patient pseudonyms, and a one-validator genesis.json.",
        discussion: """
            Writes DIR/config/node_key.json and DIR/config/consortium_key.json (mode 0600) and DIR/config/genesis.json \
            (chain id, genesis time, this node as the only validator). Refuses to overwrite an existing home.
            """
    )

    @Option(help: "The node's home directory.")
    var home: String

    @Option(help: "The chain id every signature is bound to.")
    var chainId = "careledger-local"

    @Option(help: "This validator's name in the genesis.")
    var moniker = "validator-0"

    @Option(help: "This validator's voting power (its stake).")
    var power: UInt64 = 10

    func run() throws {
        let home = NodeHome(self.home)
        do {
            let genesis = try home.initialize(chainId: chainId, moniker: moniker, power: power, genesisTime: Date())
            Output.line("initialized \(home.root.path) for chain \(genesis.chainId)")
            Output.line("  genesis   \(home.genesisFile.path)")
            Output.line("  validator \(moniker) \(Base64.encode(genesis.validators[0].publicKey.bytes)) power \(power)")
        } catch let error as NodeError {
            FileHandle.standardError.write(Data("careledger node init: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}
