import ArgumentParser
import Contracts
import Foundation
import Ledger
import Node
import Services

/// `careledger contract deploy FILE --home DIR`: proposes a contract (or its next version) on the ledger.
struct ContractDeployCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deploy",
        abstract: "Propose a contract, or its next version, by a transaction signed with the home's participant key.",
        discussion: """
            FILE is a contract definition (YAML or JSON, docs/contracts.md), checked as every validator will check \
            it before it is submitted. A contract divides what the consortium shares, so the deploy is a proposal: \
            it takes effect once participants holding more than 2/3 of the stake have approved it (the proposer's \
            deploy counts as its approval; others use contract vote), and it is dropped once participants holding \
            a third reject it. A new version (version: n+1) applies from the first epoch executed after it takes \
            effect, never to an epoch already executed. Prints whether the contract is in force or waiting for votes. \
            Exit codes: 0 submitted and committed; 1 FILE is not a valid definition, or the ledger refused the \
            deploy (not the next version, a participant it names does not exist); 66 FILE or the home cannot be \
            read, or no node is running for it; 69 the node cannot be reached; 75 another version is waiting for votes.
            """
    )

    @Argument(help: "The contract definition: YAML, or JSON (starting with '{').")
    var file: String

    @Option(help: "The node's home directory: its participant key signs, its running node submits.")
    var home: String

    func run() async throws {
        let text = try ContractCommand.read(file)
        do throws(ServiceError) {
            let contract = try ContractFiles.definition(text, file: file)
            let d = contract.definition
            let committed = try await ContractLedger(home: NodeHome(home)).deploy(contract)
            let state = try await ContractCommand.committedState(home)
            if state?.contract(d.id)?.definition.version == d.version {
                Output.line("\(d.id) version \(d.version) is in force from height \(committed.height) (\(d.mechanism.type.rawValue), \(d.pool.units.displayText) \(d.pool.resource))")
            } else {
                Output.line("\(d.id) version \(d.version) proposed at height \(committed.height); it takes effect once participants holding more than 2/3 of the stake approve it (contract vote \(d.id) --version \(d.version) --approve)")
            }
        } catch {
            throw ServiceErrorExit.exit(error, command: "contract deploy", exitCodes: [.conflict: 75])
        }
    }
}

/// `careledger contract vote ID --version N (--approve | --reject) --home DIR`.
struct ContractVoteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vote",
        abstract: "Approve or reject the deploy of a contract version that is waiting for votes.",
        discussion: """
            One vote per participant and proposal, signed with the home's participant key. The proposal takes \
            effect once approvals hold more than 2/3 of the voting stake and is dropped once rejections hold a \
            third. Exit codes: 0 committed; 1 refused by the ledger (no such proposal); 66 the home cannot be read \
            or no node is running for it; 69 the node cannot be reached; 75 this participant already voted.
            """
    )

    @Argument(help: "The contract id.")
    var id: String

    @Option(help: "The proposed version.")
    var version: UInt32

    @Flag(exclusivity: .exclusive, help: "Approve or reject the proposal.")
    var decision: Decision

    enum Decision: EnumerableFlag {
        case approve, reject
    }

    @Option(help: "The node's home directory: its participant key signs, its running node submits.")
    var home: String

    func run() async throws {
        do throws(ServiceError) {
            let committed = try await ContractLedger(home: NodeHome(home)).vote(contract: id, version: version, approve: decision == .approve)
            let state = try await ContractCommand.committedState(home)
            let inForce = state?.contract(id)?.definition.version == version
            Output.line("\(decision == .approve ? "approved" : "rejected") \(id) version \(version) at height \(committed.height)"
                        + (inForce ? "; it is in force" : state?.proposal(id) == nil ? "; the proposal was dropped" : "; still waiting for votes"))
        } catch {
            throw ServiceErrorExit.exit(error, command: "contract vote", exitCodes: [.conflict: 75])
        }
    }
}

/// `careledger contract supply ID UNITS --home DIR`.
struct ContractSupplyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "supply",
        abstract: "Set a contract pool's supply for the next executions (the pool's owners only).",
        discussion: """
            UNITS is an integer, a decimal or p/q; whole units for an indivisible pool. Exit codes: 0 committed; \
            1 refused by the ledger (not an owner of the pool, no such contract, not whole units); 64 malformed \
            UNITS; 66 the home cannot be read or no node is running for it; 69 the node cannot be reached.
            """
    )

    @Argument(help: "The contract id.")
    var id: String

    @Argument(help: "The supply: an integer, a decimal or p/q.")
    var units: String

    @Option(help: "The node's home directory: its participant key signs, its running node submits.")
    var home: String

    func run() async throws {
        let amount = try ContractCommand.rational(units, "UNITS")
        do throws(ServiceError) {
            let committed = try await ContractLedger(home: NodeHome(home)).supply(contract: id, units: amount)
            Output.line("the supply of \(id) is \(amount.displayText) from height \(committed.height)")
        } catch {
            throw ServiceErrorExit.exit(error, command: "contract supply")
        }
    }
}

/// `careledger contract withdraw ID [--side buy|sell] --home DIR`.
struct ContractWithdrawCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "withdraw",
        abstract: "Withdraw this participant's standing claim in a contract.",
        discussion: """
            Exit codes: 0 committed; 1 refused by the ledger (no such claim or contract); 66 the home cannot be read \
            or no node is running for it; 69 the node cannot be reached.
            """
    )

    @Argument(help: "The contract id.")
    var id: String

    @Option(help: "The side of the claim, for auctions: buy or sell.")
    var side: SideOption?

    @Option(help: "The node's home directory: its participant key signs, its running node submits.")
    var home: String

    func run() async throws {
        do throws(ServiceError) {
            let committed = try await ContractLedger(home: NodeHome(home)).withdraw(contract: id, side: side?.side)
            Output.line("claim in \(id) withdrawn at height \(committed.height)")
        } catch {
            throw ServiceErrorExit.exit(error, command: "contract withdraw")
        }
    }
}

/// `--side buy|sell`.
enum SideOption: String, ExpressibleByArgument {
    case buy, sell

    var side: Claim.Side { self == .buy ? .buy : .sell }
}
