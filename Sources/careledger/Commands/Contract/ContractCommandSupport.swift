import ArgumentParser
import Contracts
import Foundation
import Ledger
import Node

extension ContractCommand {
    /// The most bytes a definition, claim or claims file may have.
    static let maxFileBytes = 16 << 20

    /// A file's text; exit 66 when it cannot be read or is too large.
    static func read(_ path: String) throws -> String {
        do {
            guard let bytes = try InputFile.contents(of: path, atMost: maxFileBytes) else {
                throw NodeError("'\(path)' is larger than \(maxFileBytes) bytes")
            }
            return String(decoding: bytes, as: UTF8.self)
        } catch {
            FileHandle.standardError.write(Data("careledger contract: cannot read \(path): \(error)\n".utf8))
            throw ExitCode(66)
        }
    }

    /// An amount given on the command line; a malformed one is a usage error (64).
    static func rational(_ text: String, _ option: String) throws -> Rational {
        do throws(ContractFailure) {
            return try Rational(parsing: text)
        } catch {
            throw ValidationError("\(option): \(error.message)")
        }
    }

    /// The home's chain as its block store has it now (nil when it cannot be read: the caller's message says less).
    static func committedState(_ home: String) async throws(Never) -> LedgerState? {
        try? await NodeHome(home).openChain().state
    }

    /// The home's chain, read from its block store; exit 66 when there is none.
    static func chain(_ home: String, command: String) async throws -> Chain {
        do {
            return try await NodeHome(home).openChain()
        } catch {
            FileHandle.standardError.write(Data("careledger contract \(command): \(error)\n".utf8))
            throw ExitCode(66)
        }
    }
}
