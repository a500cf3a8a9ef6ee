import Crypto
import Foundation
import RecordStore
import Services
import TestSupport
import Testing

/// The client side of SMART Backend Services as the demo uses it: partner hospital B's sample key (Samples/clients)
/// signs assertions that the token endpoint's verifier accepts against B's sample JWKS, each with a fresh jti; an
/// assertion for another token URL is refused; a key that is not P-384 is refused without its content in the error.
@Suite("SMART client assertion signer", .timeLimit(.minutes(3)))
struct ClientAssertionSignerTests {
    static let tokenURL = "http://127.0.0.1:26880/auth/token"
    static let samples = Repository.root.appendingPathComponent("Samples/clients")

    static func partnerSigner() async throws -> ClientAssertionSigner {
        let pem = try String(contentsOf: samples.appendingPathComponent("partner-hospital-b.es384.pem"), encoding: .utf8)
        return try await ClientAssertionSigner.es384(clientId: "partner-hospital-b", kid: "partner-hospital-b-es384", pem: pem)
    }

    @Test func theSampleKeysAssertionVerifiesAgainstTheSampleJWKS() async throws {
        let folder = try Repository.temporaryDirectory("careledger-signer")
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.copyItem(at: Self.samples.appendingPathComponent("partner-hospital-b.jwks"), to: folder.appendingPathComponent("b.jwks.json"))
        let clients = folder.appendingPathComponent("clients.json")
        try Data(#"{"clients":[{"clientId":"partner-hospital-b","jwksFile":"b.jwks.json","scopes":["system/*.rs"]}]}"#.utf8).write(to: clients)
        let store = try await StoreLocation.open("sqlite:" + folder.appendingPathComponent("store.sqlite").path)
        let cache = try #require(store as? any TokenReplayCache)
        let verifier = ClientAssertionVerifier(tokenURL: Self.tokenURL, directory: LocalClientDirectory(file: clients), replayCache: cache)

        let signer = try await Self.partnerSigner()
        let now = Date()
        let first = try await signer.assertion(tokenURL: Self.tokenURL, purposeOfUse: "TREAT", now: now)
        let verified = try await verifier.verify(first, now: now)
        #expect(verified.client.clientId == "partner-hospital-b")
        #expect(verified.purposeOfUse == "TREAT")
        // A second assertion is a new one (fresh jti), so it is not a replay.
        let second = try await signer.assertion(tokenURL: Self.tokenURL, now: now)
        let again = try await verifier.verify(second, now: now)
        #expect(again.jti != verified.jti && again.purposeOfUse == nil)
        // The same assertion twice is a replay; one made for another gateway's token URL is refused.
        await #expect(throws: TokenError.self) { try await verifier.verify(first, now: now) }
        let elsewhere = try await signer.assertion(tokenURL: "https://other.example.org/auth/token", now: now)
        await #expect(throws: TokenError.self) { try await verifier.verify(elsewhere, now: now) }
        try await store.close()
    }

    @Test func theTokenRequestBodyCarriesTheAssertionFormEncoded() async throws {
        let assertion = try await Self.partnerSigner().assertion(tokenURL: Self.tokenURL, now: Date())
        let body = ClientAssertionSigner.tokenRequestBody(assertion: assertion, scope: "system/*.rs system/Patient.r")
        var fields: [String: String] = [:]
        for pair in body.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? "" }
            fields[parts[0]] = parts.count > 1 ? parts[1] : ""
        }
        #expect(fields == ["grant_type": "client_credentials", "scope": "system/*.rs system/Patient.r",
                           "client_assertion_type": ClientAssertionVerifier.assertionType, "client_assertion": assertion])
        #expect(!body.contains(" ") && !body.contains("/*"))
    }

    @Test func aKeyThatIsNotP384IsRefusedWithoutItsContent() async throws {
        let pem = P256.Signing.PrivateKey().pemRepresentation
        do {
            _ = try await ClientAssertionSigner.es384(clientId: "c", kid: "k", pem: pem)
            Issue.record("a P-256 key was taken for ES384")
        } catch {
            #expect(error.code == .invalidRequest)
            let body = pem.split(separator: "\n").dropFirst().first.map(String.init) ?? pem
            #expect(!error.description.contains(body))
        }
    }
}
