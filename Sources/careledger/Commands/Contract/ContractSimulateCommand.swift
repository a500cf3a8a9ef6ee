import ArgumentParser
import Contracts
import FHIRCore
import Foundation
import Services

/// `careledger contract simulate FILE --claims CLAIMS.json [--supply N] [--seed HEX]`: one epoch off the chain.
struct ContractSimulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Run one epoch of a contract off the chain over a claims file, and print the allocation with its explanation.",
        discussion: """
            What a policy committee tries before it deploys: the same execution every validator runs at an epoch's \
            end, here on FILE (a contract definition, YAML or JSON) and CLAIMS (a JSON list of claims: "claimant" \
            and "units", and where the mechanism reads them "weight", "price", "side" ("buy"/"sell"), "category" \
            and "attributes"). Numbers in a claims file are integers or strings ("7/2", "3.5"); floating point is \
            refused. Samples/contracts/ has one contract and claims file per mechanism.

            Prints one JSON object (keys sorted): "allocations" maps each claimant to its units, a JSON integer \
            when whole, else a string, the exact decimal ("3.5") when there is one, else a rational ("200/3"); a \
            claimant on both sides of an auction appears as NAME/buy and NAME/sell. Also "supply", "free", "price" \
            (when the mechanism sets one), "details" (side, price, category per allocation, when any is set), \
            "gasUsed", "seed", "failure" (when the execution failed) and "explanation": the steps (kind, claimant, \
            amounts as strings, note) in the order they happened.

            Exit codes: 0 the epoch executed; 1 FILE or CLAIMS is not a valid contract or claims file (the message \
            names the file and the field, e.g. claims.json: [2].units: …), or the execution failed (the JSON is \
            printed, its "failure" says why: out of gas, a claim the mechanism cannot take); 64 a malformed \
            --supply or --seed; 66 a file cannot be read.
            """
    )

    @Argument(help: "The contract definition: YAML, or JSON (starting with '{').")
    var file: String

    @Option(help: ArgumentHelp("The claims file: a JSON list of claims.", valueName: "CLAIMS.json"))
    var claims: String

    @Option(help: "The units to divide: an integer, a decimal or p/q. Default: the definition's pool.units.")
    var supply: String?

    @Option(help: "The lottery's seed, as hex (1 to 64 bytes). Default: SHA-256 of FILE's bytes, so a file always draws the same.")
    var seed: String?

    /// The most bytes a definition or claims file may have.
    static let maxFileBytes = 16 << 20

    func validate() throws {
        if let supply {
            do throws(ContractFailure) {
                _ = try Rational(parsing: supply)
            } catch {
                throw ValidationError("--supply: \(error.message)")
            }
        }
        if let seed {
            guard let bytes = Hex.decode(seed), (1...64).contains(bytes.count) else {
                throw ValidationError("--seed must be 2 to 128 hexadecimal digits (1 to 64 bytes)")
            }
        }
    }

    func run() throws {
        let definitionText = try Self.text(file)
        let claimsText = try Self.text(claims)
        let outcome: ContractSimulation.Outcome
        do throws(ServiceError) {
            outcome = try ContractSimulation.run(definitionText: definitionText, claimsText: claimsText,
                                                 supply: supply.flatMap { try? Rational(parsing: $0) }, seed: seed.flatMap(Hex.decode),
                                                 definitionFile: file, claimsFile: claims)
        } catch {
            throw ServiceErrorExit.exit(error, command: "contract simulate")
        }
        Output.write(outcome.report.json() + Array("\n".utf8))
        if let failure = outcome.result.failure {
            FileHandle.standardError.write(Data("careledger contract simulate: the execution failed: \(failure)\n".utf8))
            throw ExitCode(1)
        }
    }

    /// A file's text: exits 66 when it cannot be read, 1 when it is too large or not UTF-8.
    static func text(_ path: String) throws -> String {
        let bytes: [UInt8]?
        do {
            bytes = try InputFile.contents(of: path, atMost: maxFileBytes)
        } catch {
            FileHandle.standardError.write(Data("careledger contract simulate: \(error)\n".utf8))
            throw ExitCode(66)
        }
        guard let bytes else {
            FileHandle.standardError.write(Data("careledger contract simulate: \(path): larger than \(maxFileBytes) bytes\n".utf8))
            throw ExitCode(1)
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            FileHandle.standardError.write(Data("careledger contract simulate: \(path): not UTF-8 text\n".utf8))
            throw ExitCode(1)
        }
        return text
    }
}
