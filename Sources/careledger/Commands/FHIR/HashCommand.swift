import ArgumentParser
import FHIRCore

/// `careledger fhir hash FILE`.
struct HashCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hash",
        abstract: "Print the canonical hash of a resource: lowercase hex SHA-256 of its canonical form.",
        discussion: """
            With --salt, also print the record commitment SHA-256("careledger/record/v1" ‖ salt ‖ hash) that \
            CareLedger anchors on the ledger for a record version stored with that salt. The input is validated \
            first: what `careledger fhir validate` refuses is not hashed (exit 1, the same OperationOutcome).
            """
    )

    @Argument(help: "The resource file (JSON or XML), or '-' for standard input.")
    var file: String

    @Option(name: .long, help: "A 32-byte salt as 64 hex digits: also print the record commitment.")
    var salt: String?

    func validate() throws {
        if let salt, Hex.decode(salt)?.count != RecordCommitment.saltLength {
            throw ValidationError("--salt must be 64 hexadecimal digits (32 bytes)")
        }
    }

    func run() throws {
        let canonical = try ValidatedInput.canonicalBytes(file)
        let digest = CanonicalForm.sha256(canonical)
        if let salt, let saltBytes = Hex.decode(salt) {
            // validate() checked the salt's length, so this cannot fail.
            let commitment = try RecordCommitment(canonicalHash: digest, salt: saltBytes)
            Output.line("canonical-hash \(Hex.encode(digest))")
            Output.line("commitment     \(Hex.encode(commitment.value))")
        } else {
            Output.line(Hex.encode(digest))
        }
    }
}
