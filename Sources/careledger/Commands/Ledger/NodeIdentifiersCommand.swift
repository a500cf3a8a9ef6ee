import ArgumentParser
import Foundation
import Ledger
import Node
import Services

/// `careledger node identifiers --home DIR [--identifier SYSTEM|VALUE …] [--clear]`.
struct NodeIdentifiersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "identifiers",
        abstract: "Show or set, by a ledger transaction, the organization identifiers by which Consents name this home's participant.",
        discussion: """
            Without --identifier or --clear, prints the participant's identifiers as the running node's committed \
            state has them, one per line. With --identifier (repeatable), replaces them by a SetIdentifiers \
            transaction signed with the home's participant key and committed through its running node; --clear \
            removes them. Each is SYSTEM|VALUE (http://hl7.org/fhir/sid/us-npi|1234567893), printable ASCII, at most \
            256 bytes; at most 16; an identifier names one participant. Genesis validators get theirs from node init \
            --identifier or the testnet spec. Exit codes: 0 done; 1 refused by the ledger (the key is not a \
            participant, another participant holds an identifier); 64 an invalid identifier; 66 the home cannot be \
            read or no node is running for it; 69 the node cannot be reached.
            """
    )

    @Option(help: "The node's home directory: its participant key signs, its running node submits.")
    var home: String

    @Option(name: .customLong("identifier"), help: "An identifier SYSTEM|VALUE; repeatable. The list replaces the participant's.")
    var identifiers: [String] = []

    @Flag(help: "Remove all of the participant's identifiers.")
    var clear = false

    func validate() throws {
        if clear && !identifiers.isEmpty { throw ValidationError("give --identifier or --clear, not both") }
        let canonical = ParticipantIdentifiers.canonical(identifiers)
        if let problem = ParticipantIdentifiers.problem(canonical) { throw ValidationError("--identifier: \(problem)") }
    }

    func run() async throws {
        let home = NodeHome(self.home)
        do throws(ServiceError) {
            if clear || !identifiers.isEmpty {
                let list = ParticipantIdentifiers(ParticipantIdentifiers.canonical(identifiers))
                let committed = try await ParticipantSubmission(home: home).submit(.setIdentifiers(list), refusedAsConflict: [.identifierTaken])
                FileHandle.standardError.write(Data("identifiers of participant \(committed.participant) set at height \(committed.height)\n".utf8))
                for identifier in list.identifiers { Output.line(identifier) }
            } else {
                for identifier in try await current(home) { Output.line(identifier) }
            }
        } catch {
            FileHandle.standardError.write(Data("careledger node identifiers: \(error.reason)\n".utf8))
            throw ExitCode(error.exitCode)
        }
    }

    /// The participant's identifiers as the running node has them.
    func current(_ home: NodeHome) async throws(ServiceError) -> [String] {
        try await ParticipantSubmission(home: home).participant().identifiers
    }
}
