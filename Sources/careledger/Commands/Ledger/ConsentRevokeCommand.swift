import ArgumentParser
import Foundation
import Ledger
import Node
import RecordStore
import Services

/// `careledger consent revoke --home DIR --consent ID [--store URL]`: withdraws the grant a stored Consent made.
struct ConsentRevokeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "revoke",
        abstract: "Revoke the grant of a stored Consent: store it again as inactive and record the revoke on the ledger.",
        discussion: """
            The same use case as `consent submit` of the Consent with status inactive (ConsentSubmission.revoke): \
            the Consent's current version is read from the store, stored again with status inactive, and its revoke \
            directive recorded by the running node (careledger node start --home DIR); the command waits for the \
            block. From the next finalized height, the gateway refuses what only that grant permitted. Exit 1: \
            refused with an OperationOutcome (nothing to revoke: the grant is already revoked, or was made by another \
            participant); 66: the home has no key or no running node's RPC port, or the Consent is not in the \
            store; 69: the node cannot be reached (nothing is stored); 75: stored but the revoke not recorded: run \
            it again.
            """
    )

    @Option(help: "The node's home directory (its consortium key and RPC port).")
    var home: String

    @Option(help: "The id of the stored Consent whose grant is revoked.")
    var consent: String

    @OptionGroup var storeOptions: StoreOptions

    func validate() throws {
        let allowed = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.".utf8)
        guard !consent.isEmpty, consent.utf8.count <= 64, consent.utf8.allSatisfy(allowed.contains) else {
            throw ValidationError("--consent '\(consent)' is not a FHIR id (1–64 of A–Z a–z 0–9 - .)")
        }
    }

    func run() async throws {
        let (consortiumKey, port) = try ConsentCommand.ledgerAccess(home: home, command: "consent revoke")
        let store = try await storeOptions.open()
        let recorded: ConsentSubmission.Recorded
        do throws(ServiceError) {
            recorded = try await ConsentSubmission(store: store, consortiumKey: consortiumKey, ledger: RPCConsentLedger(port: port))
                .revoke(consentId: consent)
        } catch {
            try? await store.close()
            throw ServiceErrorExit.exit(error, command: "consent revoke", outcome: true)
        }
        try? await store.close()
        Output.line("revoked Consent/\(consent) (\(recorded.stored.key)/_history/\(recorded.stored.version)) as directive \(Ledger.Hex.encode(recorded.directive.directiveId)) at height \(recorded.inclusion.height)")
    }
}
