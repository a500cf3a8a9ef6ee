import ArgumentParser
import Foundation
import Ledger
import Node
import RecordStore

/// `careledger node …`: a validator's home and, next, its process.
struct NodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node",
        abstract: "Set up and run a ledger validator.",
        subcommands: [NodeInitCommand.self, NodeStartCommand.self, NodeStatusCommand.self, NodeIdentifiersCommand.self]
    )
}

/// `careledger node init --home DIR`.
struct NodeInitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create a node home: a fresh Ed25519 node key, a consortium key for patient pseudonyms, and a one-validator genesis.json.",
        discussion: """
            Writes DIR/config/node_key.json and DIR/config/consortium_key.json (mode 0600) and DIR/config/genesis.json \
            (chain id, genesis time, this node as the only validator, with the --identifier values Consents name it by). \
            Refuses to overwrite an existing home. Exit codes: 0 written; 1 the home exists or cannot be written; 64 \
            an invalid --identifier (each is SYSTEM|VALUE, printable ASCII, at most 256 bytes; at most 16).
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

    @Option(name: .customLong("identifier"),
            help: "An organization identifier SYSTEM|VALUE by which Consents name this provider as an actor (repeatable), e.g. http://hl7.org/fhir/sid/us-npi|1234567893.")
    var identifiers: [String] = []

    func validate() throws {
        if let problem = ParticipantIdentifiers.problem(ParticipantIdentifiers.canonical(identifiers)) { throw ValidationError("--identifier: \(problem)") }
    }

    func run() throws {
        let home = NodeHome(self.home)
        do {
            let genesis = try home.initialize(chainId: chainId, moniker: moniker, power: power, genesisTime: Date(), identifiers: identifiers)
            Output.line("initialized \(home.root.path) for chain \(genesis.chainId)")
            Output.line("  genesis   \(home.genesisFile.path)")
            Output.line("  validator \(moniker) \(Base64.encode(genesis.validators[0].publicKey.bytes)) power \(power)")
            for identifier in genesis.validators[0].identifiers { Output.line("  identifier \(identifier)") }
        } catch let error as NodeError {
            FileHandle.standardError.write(Data("careledger node init: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}

/// Waiting for a termination signal in an async command.
enum Signals {
    static func wait(for signals: [Int32]) async {
        let stream = AsyncStream<Void> { continuation in
            var sources: [any DispatchSourceSignal] = []
            for s in signals {
                signal(s, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: s, queue: .global())
                source.setEventHandler { continuation.yield() }
                source.resume()
                sources.append(source)
            }
            nonisolated(unsafe) let keep = sources
            continuation.onTermination = { _ in for s in keep { s.cancel() } }
        }
        for await _ in stream { return }
    }
}
