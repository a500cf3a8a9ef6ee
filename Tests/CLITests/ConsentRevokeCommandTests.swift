import Foundation
import TestSupport
import Testing

/// `careledger consent revoke` through the built binary against a running node: the sample Consent's grant is
/// withdrawn (the same partner's query turns from a permit to no consent), a second revoke is refused with an
/// OperationOutcome, and a Consent that is not stored or an id that is not one exit with their codes.
@Suite("careledger consent revoke", .timeLimit(.minutes(5)))
struct ConsentRevokeCommandTests {
    let cli = CLITests()

    @Test func revokesTheSampleConsentsGrantOnce() throws {
        let dir = try Repository.temporaryDirectory("careledger-consent-revoke")
        defer { try? FileManager.default.removeItem(at: dir) }
        let home = dir.appendingPathComponent("node").path
        let store = "sqlite:" + dir.appendingPathComponent("store.sqlite").path
        #expect(try cli.run(["node", "init", "--home", home]).status == 0)
        // The Consent's patient (MRN-40021) is in the bulk sample.
        #expect(try cli.run(["import", "Samples/bulk", "--store", store]).status == 0)
        let node = try NodeProcessTests.NodeProcess(home: home, store: store, log: dir.appendingPathComponent("node.log"))
        defer { node.terminate() }

        let query = ["consent", "query", "--home", home, "--patient", "urn:oid:2.16.840.1.113883.4.7.1|MRN-40021",
                     "--actor", "http://example.org/ids|partner-hospital-b", "--purpose", "TREAT"]
        let submitted = try cli.run(["consent", "submit", "Samples/consent/consent-mira-treatment.json", "--home", home, "--store", store])
        #expect(submitted.status == 0 && submitted.stdout.hasPrefix("granted Consent/consent-mira-treatment"), "\(submitted.stdout) \(submitted.stderr)")
        let before = try cli.run(query)
        #expect(before.stdout.hasPrefix("CONSENT_PERMIT"), "\(before.stdout) \(before.stderr)")

        let revoked = try cli.run(["consent", "revoke", "--home", home, "--store", store, "--consent", "consent-mira-treatment"])
        #expect(revoked.status == 0, "\(revoked.stdout) \(revoked.stderr)")
        #expect(revoked.stdout.hasPrefix("revoked Consent/consent-mira-treatment (Consent/consent-mira-treatment/_history/2) as directive "))
        let after = try cli.run(query)
        #expect(after.stdout.hasPrefix("NO_CONSENT"), "\(after.stdout) \(after.stderr)")

        let again = try cli.run(["consent", "revoke", "--home", home, "--store", store, "--consent", "consent-mira-treatment"])
        #expect(again.status == 1)
        #expect(again.stdout.contains("OperationOutcome") && again.stderr.contains("already revoked"), "\(again.stdout) \(again.stderr)")
        let unknown = try cli.run(["consent", "revoke", "--home", home, "--store", store, "--consent", "no-such-consent"])
        #expect(unknown.status == 66 && unknown.stderr.contains("not in the store"), "\(unknown.stderr)")
        #expect(try cli.run(["consent", "revoke", "--home", home, "--store", store, "--consent", "a/b"]).status == 64)
    }
}
