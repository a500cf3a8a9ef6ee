import FHIRCore
import Foundation
import Gateway
import Hummingbird
import HTTPTypes
import HummingbirdTesting
import JWTKit
import RecordStore
import Services
import TestSupport
import Testing

/// A partner's request refused for its scopes (403) is audited like every partner access (issue 17, Deliver 7): the
/// AuditEvent (outcome 4, minor failure) is in the store when the 403 arrives over real loopback HTTP, with a real
/// token from the token endpoint. A local client's refusal is not a partner access and leaves none.
@Suite("Gateway: scope refusals of partners are audited", .timeLimit(.minutes(3)))
struct ScopeRefusalAuditTests {
    /// Partner hospital B's client and a local EHR client, both granted `scopes`.
    struct Clients: ClientDirectory {
        let partnerKey: JWK
        let localKey: JWK
        let scopes: [String]
        func client(id: String) async throws -> RegisteredClient? {
            switch id {
            case "partner-b":
                RegisteredClient(clientId: id, kind: .partner, participant: String(repeating: "cd", count: 32),
                                 identifiers: ["http://example.org/ids|partner-hospital-b"], keys: ClientKeySet(keys: [partnerKey]),
                                 scopes: ScopeSet(parsing: scopes))
            case "ehr":
                RegisteredClient(clientId: id, kind: .local, keys: ClientKeySet(keys: [localKey]), scopes: ScopeSet(parsing: scopes))
            default: nil
            }
        }
    }

    /// A live gateway on `store` with the token endpoint, reads, history and search (and `more` routes), audited;
    /// partner B's key (ES384) and the EHR's (EdDSA) are registered with `scopes`. `body` gets the client and both keys.
    static func withGateway(_ store: any RecordStore, scopes: [String], more: [any GatewayRoutes] = [],
                            _ body: @escaping @Sendable (LiveClient, TestClientKey, TestClientKey) async throws -> Void) async throws {
        let cache = try #require(store as? any TokenReplayCache)
        let partnerKey = try await TestClientKey.es384(kid: "b-1")
        let localKey = try await TestClientKey.ed25519(kid: "ehr-1")
        let codec = AccessTokenCodec.withRandomKey(clock: { Date() })
        let verifier = ClientAssertionVerifier(tokenURL: tokenURL,
                                               directory: Clients(partnerKey: partnerKey.publicJWK, localKey: localKey.publicJWK, scopes: scopes),
                                               replayCache: cache)
        let issuer = TokenIssuer(verifier: verifier, codec: codec, clock: { Date() })
        let dependencies = GatewayDependencies(store: store, audit: AuditTrail(store: store, observer: "careledger-gateway-test"))
        let app = try GatewayApplication.make(configuration: GatewayConfiguration(host: "127.0.0.1", port: 0), dependencies: dependencies,
                                              concerns: [SMARTAuthRoutes(issuer: issuer, codec: codec), ReadRoutes(), HistoryRoutes(),
                                                         GatewayRouteClosure { router, dependencies in
                                                             SearchRoutes().add(to: router, dependencies: dependencies)
                                                         }] + more)
        try await app.testLive { client in try await body(client, partnerKey, localKey) }
    }

    static let tokenURL = "https://hospital-a.example.org/auth/token"

    static func token(_ client: LiveClient, id: String, key: TestClientKey) async throws -> String {
        let assertion = try await key.sign(ClientAssertionClaims(iss: id, sub: id, aud: AudienceClaim(value: [tokenURL]),
                                                                 exp: Date().timeIntervalSince1970 + 120, jti: UUID().uuidString))
        let form = "grant_type=client_credentials&client_assertion_type=\(ClientAssertionVerifier.assertionType)&client_assertion=\(assertion)"
        return try await client.execute(uri: "/auth/token", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                                        body: ByteBuffer(string: form)) { response in
            #expect(response.status == .ok)
            let body = try #require(JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any])
            return try #require(body["access_token"] as? String)
        }
    }

    static func auditEvents(_ store: any RecordStore) async throws -> [[String: Any]] {
        try await RecordService(store: store).history(type: "AuditEvent").entries.map { version in
            try #require(JSONSerialization.jsonObject(with: Data(version.canonical)) as? [String: Any])
        }
    }

    @Test(arguments: StoreKind.allCases)
    func aPartnersOutOfScopeRequestIsAuditedBeforeThe403(kind: StoreKind) async throws {
        try await kind.withStore { store, _ in
            try await Self.withGateway(store, scopes: ["system/Patient.rs"]) { client, partnerKey, localKey in
                let partner = try await Self.token(client, id: "partner-b", key: partnerKey)
                var expected = 0
                for uri in ["/Observation/o1", "/Observation?code=1234", "/_history"] {
                    try await client.execute(uri: uri, method: .get,
                                             headers: [.authorization: "Bearer \(partner)", HTTPField.Name("X-Purpose-Of-Use")!: "ETREAT"]) { response in
                        #expect(response.status == .forbidden, "\(uri)")
                        let outcome = try #require(JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any])
                        #expect(outcome["resourceType"] as? String == "OperationOutcome")
                    }
                    expected += 1
                    // Read as soon as the 403 arrived: the AuditEvent was stored before it left.
                    let events = try await Self.auditEvents(store)
                    #expect(events.count == expected, "\(uri): audited before the response")
                    let event = try #require(events.first)
                    #expect(event["outcome"] as? String == "4", "\(uri): minor failure")
                    #expect((event["outcomeDesc"] as? String)?.contains("scopes") == true, "\(uri)")
                    let text = String(decoding: try JSONSerialization.data(withJSONObject: event), as: UTF8.self)
                    #expect(text.contains("partner-b") && text.contains("ETREAT"), "\(uri): who and why")
                }
                // A local client refused for its scopes is no partner access: no AuditEvent.
                let local = try await Self.token(client, id: "ehr", key: localKey)
                try await client.execute(uri: "/Observation/o1", method: .get, headers: [.authorization: "Bearer \(local)"]) { response in
                    #expect(response.status == .forbidden)
                }
                #expect(try await Self.auditEvents(store).count == expected)
            }
        }
    }
}
