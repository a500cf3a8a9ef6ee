import ArgumentParser
import Contracts
import Foundation
import Node
import Services

/// `careledger contract claim ID --units U [--weight W] [--price P] [--side S] [--category C] [--attribute K=V …]
/// --home DIR`, or `--file CLAIM.json`.
struct ContractClaimCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "claim",
        abstract: "Claim in a contract for this home's participant (replacing its earlier claim on the same side).",
        discussion: """
            The claim is signed with the home's participant key and is for that participant: its claimant is the \
            participant's name. Give the fields as options, or --file with one claim object as in a claims file \
            (its claimant is replaced by the participant's name). Numbers are integers, decimals or p/q; an \
            --attribute value is an integer, p/q, true, false, or else a string. The claim stands, for every \
            epoch from the next one executed, until it is replaced or withdrawn. Exit codes: 0 committed; 1 \
            refused by the ledger (not eligible, fractional units of an indivisible pool, a side or price the \
            mechanism needs is missing, no such contract) or an invalid --file; 64 a malformed option; 66 the \
            home or --file cannot be read, or no node is running; 69 the node cannot be reached.
            """
    )

    @Argument(help: "The contract id.")
    var id: String

    @Option(help: "The units claimed (bought or offered, for markets).")
    var units: String?

    @Option(help: "The claim's weight (weighted mechanisms).")
    var weight: String?

    @Option(help: "The bid or ask per unit (auctions).")
    var price: String?

    @Option(help: "buy or sell (auctions, tâtonnement).")
    var side: SideOption?

    @Option(help: "A category the mechanism reads.")
    var category: String?

    @Option(name: .customLong("attribute"), help: ArgumentHelp("An attribute a priority or weight expression reads; repeatable.", valueName: "NAME=VALUE"))
    var attributes: [String] = []

    @Option(help: ArgumentHelp("One claim as a JSON object, instead of the options.", valueName: "CLAIM.json"))
    var file: String?

    @Option(help: "The node's home directory: its participant key signs, its running node submits.")
    var home: String

    func validate() throws {
        guard (file == nil) != (units == nil) else { throw ValidationError("give --units (with the other options) or --file, not both and not neither") }
    }

    func claim() throws -> Claim {
        if let file {
            let text = try ContractCommand.read(file)
            do throws(ServiceError) {
                let claims = try ContractFiles.claims("[" + text + "]", file: file)
                guard claims.count == 1 else { throw ServiceError(.unprocessable, "\(file): one claim object") }
                return claims[0]
            } catch {
                throw ServiceErrorExit.exit(error, command: "contract claim")
            }
        }
        var values: [String: Value] = [:]
        for a in attributes {
            guard let eq = a.firstIndex(of: "="), eq != a.startIndex else { throw ValidationError("--attribute \(a): write NAME=VALUE") }
            let name = String(a[..<eq]), raw = String(a[a.index(after: eq)...])
            values[name] = Self.value(raw)
        }
        return Claim(claimant: "", units: try ContractCommand.rational(units ?? "", "--units"), weight: try weight.map { try ContractCommand.rational($0, "--weight") },
                     price: try price.map { try ContractCommand.rational($0, "--price") }, side: side?.side, category: category, attributes: values)
    }

    /// An integer, p/q, true or false, else the text as a string.
    static func value(_ raw: String) -> Value {
        if raw == "true" { return .bool(true) }
        if raw == "false" { return .bool(false) }
        if let i = Int64(raw) { return .int(i) }
        if raw.contains("/"), let r = try? Rational(parsing: raw) { return Value.exact(r) }
        return .string(raw)
    }

    func run() async throws {
        let claim = try claim()
        do throws(ServiceError) {
            let ledger = ContractLedger(home: NodeHome(home))
            let committed = try await ledger.claim(contract: id, claim)
            Output.line("\(try await ledger.participantName()) claims \(claim.units.displayText) in \(id) from height \(committed.height)")
        } catch {
            throw ServiceErrorExit.exit(error, command: "contract claim")
        }
    }
}
