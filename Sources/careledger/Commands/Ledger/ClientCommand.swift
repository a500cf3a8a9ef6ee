import ArgumentParser
import Foundation
import Ledger
import Node
import Services

/// `careledger client register|show`: partners' SMART Backend Services clients, registered on the ledger.
struct ClientCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "client",
        abstract: "Register a partner's SMART Backend Services client on the ledger, or show one.",
        subcommands: [ClientRegisterCommand.self, ClientShowCommand.self]
    )

    /// Prints a use case's failure and exits with its documented code.
    static func fail(_ command: String, _ error: ServiceError) -> ExitCode {
        FileHandle.standardError.write(Data("careledger client \(command): \(error.reason)\n".utf8))
        return ExitCode(error.exitCode)
    }
}

/// `careledger client register --home DIR --jwks FILE --scope 'system/*.rs …' [--client-id ID]`.
struct ClientRegisterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "register",
        abstract: "Register (or rotate the keys of) a SMART client of this home's participant: its public JWKS and the scopes the consortium grants.",
        discussion: """
            The registration is a ledger transaction signed by the home's participant key and submitted to the home's \
            running node (careledger node start --home DIR), which answers once it is in a block; every gateway of the \
            consortium then accepts client assertions signed by these keys, with these scopes. Registering the same \
            client id again replaces its keys and scopes (key rotation); another participant cannot take a client id \
            over. The JWKS (RFC 7517) holds public keys only (at most 16, at most 16 KiB; RS384, ES384 or EdDSA keys \
            for the token endpoint); scopes are SMART system scopes (system/Patient.rs, system/*.read), at most 32. \
            Without --client-id the id is the RFC 7638 thumbprint (SHA-256, base64url) of the JWKS's first key, so \
            the same key always gives the same id; a rotation that replaces the first key names the id. Prints the \
            client id on stdout. Exit codes: 0 registered; 1 refused by the ledger (the home's key is not a \
            participant, or the client id is another participant's); 64 bad usage (an invalid JWKS, scope or client \
            id); 66 the JWKS file or the home cannot be read, or no node is running for it; 69 the node cannot be reached.
            """
    )

    @Option(help: "The node's home directory: its participant key signs, its running node submits.")
    var home: String

    @Option(help: "The client's public keys, a JWKS file (JSON with a \"keys\" array).")
    var jwks: String

    @Option(help: "The scopes granted, space-separated ('system/Patient.rs system/Observation.rs'); repeatable.")
    var scope: [String]

    @Option(help: "The client id (1–128 printable ASCII characters, no spaces). Default: the RFC 7638 thumbprint of the first key.")
    var clientId: String?

    func run() async throws {
        let bytes: [UInt8]?
        do {
            bytes = try InputFile.contents(of: jwks, atMost: JWKSDocument.maxBytes)
        } catch {
            FileHandle.standardError.write(Data("careledger client register: \(error)\n".utf8))
            throw ExitCode(66)
        }
        guard let bytes else {
            FileHandle.standardError.write(Data("careledger client register: \(jwks) is larger than \(JWKSDocument.maxBytes) bytes, the most a JWKS may have\n".utf8))
            throw ExitCode(64)
        }
        let scopes = scope.flatMap { $0.split(whereSeparator: \.isWhitespace).map(String.init) }
        do throws(ServiceError) {
            let registered = try await ClientRegistrar(home: NodeHome(home)).register(jwks: bytes, scopes: scopes, clientId: clientId)
            Output.line(registered.clientId)
            FileHandle.standardError.write(Data("registered client \(registered.clientId) of participant \(registered.participant) at height \(registered.height) (transaction \(registered.transaction))\n".utf8))
        } catch {
            throw ClientCommand.fail("register", error)
        }
    }
}

/// `careledger client show --home DIR --id ID`.
struct ClientShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show a client as the ledger has it: participant, identifiers, JWKS, scopes, heights (the JSON of the node's GET /client).",
        discussion: "Exit codes: 0 shown; 1 no such client; 66 no running node for the home; 69 the node cannot be reached."
    )

    @Option(help: "The node's home directory (its running node answers).")
    var home: String

    @Option(help: "The client id.")
    var id: String

    func run() async throws {
        let home = NodeHome(self.home)
        let port: Int
        do {
            port = try home.rpcPort()
        } catch {
            throw ClientCommand.fail("show", ServiceError(.notFound, "no running node's RPC port in \(home.root.path): \(error)"))
        }
        let view: ClientView?
        do {
            view = try await RPCClient.client(id: id, port: port)
        } catch {
            throw ClientCommand.fail("show", ServiceError(.unavailable, "the node at 127.0.0.1:\(port) cannot be asked: \(error)"))
        }
        guard let view else {
            FileHandle.standardError.write(Data("careledger client show: no client '\(id)' is registered on the ledger\n".utf8))
            throw ExitCode(1)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        Output.write(Array(try encoder.encode(view)) + [0x0A])
    }
}
