import ArgumentParser
import Contracts
import Foundation
import Ledger
import Node
import Services

/// `careledger contract show ID [--epoch N] --home DIR [--json]`.
struct ContractShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show a contract as the ledger has it: the version in force, a proposal waiting for votes, claims, and an epoch's result.",
        discussion: """
            Read from the home's block store, at the state the last finalized header commits to. Without --epoch, \
            prints the contract, its standing claims and its last executed epoch; with --epoch, that epoch's \
            allocations and explanation. --json prints the epoch's result as JSON (the `result` of an allocation \
            proof). Exit codes: 0 shown; 66 no such contract or epoch, or the home has no block store; 75 the chain \
            has no block yet.
            """
    )

    @Argument(help: "The contract id.")
    var id: String

    @Option(help: "An executed epoch.")
    var epoch: UInt64?

    @Flag(help: "Print the epoch's result as JSON.")
    var json = false

    @Option(help: "The node's home directory, whose block store is read.")
    var home: String

    func run() async throws {
        let queries = ContractQueries(chain: try await ContractCommand.chain(home, command: "show"))
        do {
            if let epoch {
                let result = try await queries.result(id, epoch: epoch)
                if json { return try ContractCommand.printJSON(result, claimant: nil) }
                ContractCommand.print(result, claimant: nil)
                return
            }
            let status = try await queries.show(id)
            if json {
                guard let last = status.lastResult else { throw ServiceError(.notFound, "\(id) has no executed epoch yet") }
                return try ContractCommand.printJSON(last, claimant: nil)
            }
            if let r = status.record {
                let d = r.definition
                Output.line("\(d.id) version \(d.version): \(d.mechanism.type.rawValue) over \(r.supply.displayText) \(d.pool.resource)\(d.pool.divisible ? "" : " (whole units)"), in force since height \(r.activatedAt)")
                if let text = d.description { Output.line("  \(text)") }
                Output.line("  epochs of \(d.epochs.length) block(s) from height \(d.epochs.start); next to run: \(r.nextEpoch), ending at height \(d.epochs.lastHeight(of: r.nextEpoch))")
                Output.line("  owners: \(d.pool.owners.joined(separator: ", ")); claimants: \(d.claimants.isEmpty ? "every participant" : d.claimants.joined(separator: ", "))")
            }
            if let p = status.proposal {
                Output.line("  proposal: version \(p.definition.version) (\(p.definition.mechanism.type.rawValue)) waiting for votes since height \(p.height): \(p.approvals.count) approval(s), \(p.rejections.count) rejection(s)")
            }
            Output.line("  \(status.claims.count) standing claim(s)\(status.claims.isEmpty ? "" : ":")")
            for c in status.claims { Output.line("    \(ContractCommand.describe(c))") }
            if let last = status.lastResult {
                Output.line("  last executed epoch:")
                ContractCommand.print(last, claimant: nil, indent: "    ")
            }
            Output.line("  (state at height \(status.height))")
        } catch let error as ServiceError {
            throw ServiceErrorExit.exit(error, command: "contract show")
        }
    }
}

/// `careledger contract explain ID --epoch N --claimant P [--prove FILE] --home DIR`.
struct ContractExplainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain",
        abstract: "Explain what a claimant got in an epoch, step by step, and optionally write a proof of it.",
        discussion: """
            Prints the claimant's allocation and the steps of the execution that concern it (those naming it and \
            those naming nobody: orders, levels, prices), from the home's block store. --prove writes an allocation \
            proof (careledger-allocation-proof/1): the epoch's result proven against the state root of a finalized \
            header, its commit and the light path from the genesis validators, which careledger verify checks \
            offline with the chain's genesis. Exit codes: 0 explained; 66 no such contract, epoch or claimant, or \
            the home has no block store; 75 the chain has no block yet.
            """
    )

    @Argument(help: "The contract id.")
    var id: String

    @Option(help: "The executed epoch.")
    var epoch: UInt64

    @Option(help: "The claimant (a participant's name).")
    var claimant: String

    @Option(help: "Write the allocation proof to this file.")
    var prove: String?

    @Flag(help: "Print the claimant's result as JSON.")
    var json = false

    @Option(help: "The node's home directory, whose block store is read.")
    var home: String

    func run() async throws {
        let queries = ContractQueries(chain: try await ContractCommand.chain(home, command: "explain"))
        do {
            let result: EpochResult
            if let prove {
                let proven = try await queries.prove(id, epoch: epoch, claimant: claimant)
                result = proven.result
                do {
                    try AllocationJSON.encode(proven.proof, result: result).write(to: URL(fileURLWithPath: prove))
                } catch {
                    throw ServiceError(.internal, "cannot write \(prove): \(error)")
                }
            } else {
                result = try await queries.result(id, epoch: epoch)
                guard !result.allocations(of: claimant).isEmpty else {
                    throw ServiceError(.notFound, "'\(claimant)' had no claim in epoch \(epoch) of '\(id)' (claimants: \(result.allocations.map(\.claimant).joined(separator: ", ")))")
                }
            }
            if json { try ContractCommand.printJSON(result, claimant: claimant) } else { ContractCommand.print(result, claimant: claimant) }
            if let prove, !json { Output.line("proof written to \(prove) (check it with careledger verify \(prove) --genesis GENESIS)") }
        } catch let error as ServiceError {
            throw ServiceErrorExit.exit(error, command: "contract explain")
        }
    }
}

extension ContractCommand {
    static func describe(_ c: Claim) -> String {
        var parts = ["\(c.claimant): \(c.units.displayText)"]
        if let s = c.side { parts.append(s.rawValue) }
        if let w = c.weight { parts.append("weight \(w.displayText)") }
        if let p = c.price { parts.append("price \(p.displayText)") }
        if let k = c.category { parts.append("category \(k)") }
        if !c.attributes.isEmpty { parts.append(c.attributes.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")) }
        return parts.joined(separator: ", ")
    }

    /// A result for people: allocations, then the steps (those concerning `claimant` when one is given).
    static func print(_ r: EpochResult, claimant: String?, indent: String = "") {
        Output.line("\(indent)epoch \(r.epoch) of \(r.contract) (version \(r.version), \(r.mechanism.rawValue)): supply \(r.supply.displayText), free \(r.free.displayText)"
                    + (r.price.map { ", price \($0.displayText)" } ?? "") + ", gas \(r.gasUsed)")
        if let f = r.failure { Output.line("\(indent)  FAILED: \(f)") }
        for a in claimant.map({ r.allocations(of: $0) }) ?? r.allocations {
            Output.line("\(indent)  \(a.claimant)\(a.side.map { " (\($0.rawValue))" } ?? ""): \(a.units.displayText)"
                        + (a.price.map { " at \($0.displayText)" } ?? "") + (a.category.map { " via \($0)" } ?? ""))
        }
        let steps = claimant.map { r.steps(for: $0) } ?? r.steps
        Output.line("\(indent)  explanation (\(steps.count) step(s)):")
        for (i, s) in steps.enumerated() { Output.line("\(indent)    \(i + 1). [\(s.kind)] \(s.claimant.map { "\($0): " } ?? "")\(s.note)") }
    }

    static func printJSON(_ r: EpochResult, claimant: String?) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        Output.write(Array(try encoder.encode(AllocationJSON.ResultView(r, claimant: claimant))) + [10])
    }
}
