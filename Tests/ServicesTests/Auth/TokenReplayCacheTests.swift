import Crypto
import Foundation
import JWTKit
import RecordStore
import Services
import TestSupport
import Testing

/// The jti replay cache lives in the store, so that two gateway processes sharing one store (here: two store handles
/// on one PostgreSQL database, or on one SQLite file) refuse an assertion the other one has accepted.
@Suite("Token jti replay cache", .timeLimit(.minutes(3)))
struct TokenReplayCacheTests {
    @Test(arguments: StoreKind.allCases)
    func aJtiIsNewOnceUntilItExpires(_ kind: StoreKind) async throws {
        try await kind.withStore { store, url in
            let first = try #require(store as? any TokenReplayCache)
            let secondStore = try await StoreLocation.open(url)
            let second = try #require(secondStore as? any TokenReplayCache)
            #expect(try await first.recordAssertion(jti: "j1", clientId: "ehr", expiresAt: 1_000, now: 900))
            #expect(try await !second.recordAssertion(jti: "j1", clientId: "ehr", expiresAt: 1_000, now: 950))
            #expect(try await !first.recordAssertion(jti: "j1", clientId: "ehr", expiresAt: 1_100, now: 1_000))
            // Another client's jti is its own.
            #expect(try await second.recordAssertion(jti: "j1", clientId: "lab", expiresAt: 1_000, now: 950))
            // Once expired (and purged on the way), the jti may be used by a new assertion.
            #expect(try await second.recordAssertion(jti: "j1", clientId: "ehr", expiresAt: 1_300, now: 1_001))
            #expect(try await !first.recordAssertion(jti: "j1", clientId: "ehr", expiresAt: 1_300, now: 1_002))
            try await secondStore.close()
        }
    }

    /// Two token endpoints ("gateway processes"), each with its own PostgreSQL store handle on one database: the same
    /// assertion gets a token from the first and is refused by the second.
    @Test func secondGatewayProcessRefusesAReplayedAssertion() async throws {
        try await PostgresServer.withSharedTestDatabase { database in
            let folder = try Repository.temporaryDirectory("careledger-replay")
            defer { try? FileManager.default.removeItem(at: folder) }
            let key = try await TestClientKey.es384(kid: "k1")
            let file = try TestClientFile.write([(id: "ehr", keys: [key.publicJWK], scopes: ["system/*.rs"])], in: folder)
            let now = Date(timeIntervalSince1970: 1_800_000_000)
            let tokenURL = "https://gateway.example.org/auth/token"
            var stores: [any RecordStore] = []
            var issuers: [TokenIssuer] = []
            for _ in 0..<2 {
                let store = try await StoreLocation.open(database.url)
                stores.append(store)
                let cache = try #require(store as? any TokenReplayCache)
                let verifier = ClientAssertionVerifier(tokenURL: tokenURL, directory: LocalClientDirectory(file: file), replayCache: cache)
                let codec = AccessTokenCodec(key: SymmetricKey(size: .bits256), clock: { now })
                issuers.append(TokenIssuer(verifier: verifier, codec: codec, clock: { now }))
            }
            let claims = ClientAssertionClaims(iss: "ehr", sub: "ehr", aud: AudienceClaim(value: [tokenURL]),
                                               exp: now.timeIntervalSince1970 + 200, jti: "replayed-\(UUID().uuidString)")
            let request = TokenRequest(grantType: "client_credentials", scope: "system/Patient.rs",
                                       clientAssertionType: ClientAssertionVerifier.assertionType,
                                       clientAssertion: try await key.sign(claims))
            let granted = try await issuers[0].issue(request)
            #expect(granted.scope == "system/Patient.rs")
            do {
                _ = try await issuers[1].issue(request)
                Issue.record("the second gateway process issued a token for a replayed assertion")
            } catch let error as TokenError {
                #expect(error.code == .invalidClient)
                #expect(error.reason.contains("jti has been used"))
            }
            for store in stores { try await store.close() }
        }
    }
}
