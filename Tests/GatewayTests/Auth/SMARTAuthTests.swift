import Foundation
import Gateway
import Hummingbird
import HummingbirdTesting
import JWTKit
import Node
import RecordStore
import Services
import TestSupport
import Testing

/// SMART Backend Services over real loopback HTTP: discovery, the token endpoint with a jwt-kit-made assertion, and
/// the bearer middleware's 401s and the routes' 403 out of scope, each with an OperationOutcome.
@Suite("Gateway SMART Backend Services", .timeLimit(.minutes(3)))
struct SMARTAuthTests {
    static let base = "https://gateway.example.org"
    static var tokenURL: String { base + "/auth/token" }

    /// A gateway (the application's router: error middleware, health, SMART, then one protected route that asks for
    /// `read` on its type) over a SQLite store and a clients.json with client "ehr".
    struct Fixture {
        let app: Application<RouterResponder<GatewayRequestContext>>
        let key: TestClientKey
        let store: any RecordStore
        let folder: URL

        init(scopes: [String] = ["system/Patient.rs"]) async throws {
            folder = try Repository.temporaryDirectory("careledger-gateway-auth")
            key = try await TestClientKey.rs384(kid: "k1")
            let file = try TestClientFile.write([(id: "ehr", keys: [key.publicJWK], scopes: scopes)], in: folder)
            store = try await StoreLocation.open("sqlite:" + folder.appendingPathComponent("store.sqlite").path)
            guard let cache = store as? any TokenReplayCache else { throw ServiceError(.internal, "no replay cache") }
            let clock: @Sendable () -> Date = { Date() }
            let verifier = ClientAssertionVerifier(tokenURL: SMARTAuthTests.tokenURL, directory: LocalClientDirectory(file: file),
                                                   replayCache: cache)
            let codec = AccessTokenCodec.withRandomKey(clock: clock)
            let smart = SMARTAuthRoutes(issuer: TokenIssuer(verifier: verifier, codec: codec, clock: clock), codec: codec)
            let protected = GatewayRouteClosure { router, _ in
                router.get("/:type/:id") { _, context in
                    let type = try context.parameters.require("type")
                    let principal = try context.require(.read, type: type)
                    return "read \(type) as \(principal.clientId)"
                }
            }
            let router = GatewayApplication.router(dependencies: GatewayDependencies(store: store),
                                                   concerns: [HealthRoutes(), smart, protected])
            app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        }

        func close() async throws {
            try await store.close()
            try? FileManager.default.removeItem(at: folder)
        }

        func assertion(jti: String = UUID().uuidString) async throws -> String {
            let now = Date().timeIntervalSince1970
            return try await key.sign(ClientAssertionClaims(iss: "ehr", sub: "ehr", aud: AudienceClaim(value: [SMARTAuthTests.tokenURL]),
                                                            exp: now + 240, jti: jti))
        }
    }

    static func form(_ assertion: String, scope: String = "system/Patient.rs") -> ByteBuffer {
        let escapedScope = scope.replacingOccurrences(of: "/", with: "%2F").replacingOccurrences(of: " ", with: "+")
        let type = ClientAssertionVerifier.assertionType.replacingOccurrences(of: ":", with: "%3A")
        return ByteBuffer(string: "grant_type=client_credentials&scope=\(escapedScope)&client_assertion_type=\(type)&client_assertion=\(assertion)")
    }

    static let formHeaders: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]

    static func json(_ response: LiveResponse) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any])
    }

    @Test func discoveryNamesTheTokenEndpointAndWhatItAccepts() async throws {
        let fixture = try await Fixture()
        try await fixture.app.testLive { client in
            try await client.execute(uri: "/.well-known/smart-configuration", method: .get) { response in
                #expect(response.status == .ok)
                let body = try Self.json(response)
                #expect(body["token_endpoint"] as? String == Self.tokenURL)
                #expect(body["token_endpoint_auth_methods_supported"] as? [String] == ["private_key_jwt"])
                #expect(body["token_endpoint_auth_signing_alg_values_supported"] as? [String] == ["RS384", "ES384", "EdDSA"])
                #expect(body["grant_types_supported"] as? [String] == ["client_credentials"])
                #expect(body["capabilities"] as? [String] == ["client-confidential-asymmetric", "permission-v2", "permission-v1"])
            }
        }
        try await fixture.close()
    }

    @Test func tokenThenReadInScopeThen403OutOfScope() async throws {
        let fixture = try await Fixture()
        let assertion = try await fixture.assertion()
        try await fixture.app.testLive { client in
            let token = try await client.execute(uri: "/auth/token", method: .post, headers: Self.formHeaders,
                                                 body: Self.form(assertion)) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.cacheControl] == "no-store")
                let body = try Self.json(response)
                #expect(body["token_type"] as? String == "bearer")
                #expect(body["expires_in"] as? Int == 300)
                #expect(body["scope"] as? String == "system/Patient.rs")
                return try #require(body["access_token"] as? String)
            }
            let bearer: HTTPFields = [.authorization: "Bearer \(token)"]
            try await client.execute(uri: "/Patient/p1", method: .get, headers: bearer) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body) == "read Patient as ehr")
            }
            try await client.execute(uri: "/Observation/o1", method: .get, headers: bearer) { response in
                #expect(response.status == .forbidden)
                let body = try Self.json(response)
                #expect(body["resourceType"] as? String == "OperationOutcome")
                let issue = try #require((body["issue"] as? [[String: Any]])?.first)
                #expect(issue["code"] as? String == "forbidden")
                #expect((issue["diagnostics"] as? String)?.contains("do not grant read on Observation") == true)
            }
            // The same assertion again: its jti is spent.
            try await client.execute(uri: "/auth/token", method: .post, headers: Self.formHeaders,
                                     body: Self.form(assertion)) { response in
                #expect(response.status == .unauthorized)
                let body = try Self.json(response)
                #expect(body["error"] as? String == "invalid_client")
                #expect((body["error_description"] as? String)?.contains("jti") == true)
            }
        }
        try await fixture.close()
    }

    @Test func missingMalformedAndForeignTokensAre401WithTheChallenge() async throws {
        let fixture = try await Fixture()
        let foreign = try await TestClientKey.rs384(kid: "k1").sign(
            ClientAssertionClaims(iss: "ehr", sub: "ehr", aud: nil, exp: Date().timeIntervalSince1970 + 60, jti: "x"))
        try await fixture.app.testLive { client in
            let attempts: [HTTPFields] = [
                [:],
                [.authorization: "Basic ZWhyOnNlY3JldA=="],
                [.authorization: "Bearer not-a-token"],
                [.authorization: "Bearer \(foreign)"],
            ]
            for headers in attempts {
                try await client.execute(uri: "/Patient/p1", method: .get, headers: headers) { response in
                    #expect(response.status == .unauthorized, "\(headers)")
                    #expect(response.headers[.wwwAuthenticate] == #"Bearer realm="careledger", error="invalid_token""#)
                    let body = try Self.json(response)
                    #expect(body["resourceType"] as? String == "OperationOutcome")
                    #expect((body["issue"] as? [[String: Any]])?.first?["code"] as? String == "login")
                }
            }
            // Open endpoints need no token.
            try await client.execute(uri: "/health", method: .get) { response in
                #expect(response.status == .ok)
            }
        }
        try await fixture.close()
    }

    @Test func tokenEndpointRefusalsAreOAuthJSON() async throws {
        let fixture = try await Fixture()
        let assertion = try await fixture.assertion()
        try await fixture.app.testLive { client in
            try await client.execute(uri: "/auth/token", method: .post, headers: [.contentType: "application/json"],
                                     body: ByteBuffer(string: "{}")) { response in
                #expect(response.status == .badRequest)
                let error = try Self.json(response)["error"] as? String
                #expect(error == "invalid_request")
            }
            try await client.execute(uri: "/auth/token", method: .post, headers: Self.formHeaders,
                                     body: ByteBuffer(string: "grant_type=password&username=a")) { response in
                #expect(response.status == .badRequest)
                let error = try Self.json(response)["error"] as? String
                #expect(error == "unsupported_grant_type")
            }
            try await client.execute(uri: "/auth/token", method: .post, headers: Self.formHeaders,
                                     body: Self.form(assertion, scope: "system/Observation.rs")) { response in
                #expect(response.status == .badRequest)
                let error = try Self.json(response)["error"] as? String
                #expect(error == "invalid_scope")
            }
            try await client.execute(uri: "/auth/token", method: .post, headers: Self.formHeaders,
                                     body: Self.form(String(assertion.dropLast(4)) + "AAAA")) { response in
                #expect(response.status == .unauthorized)
                let error = try Self.json(response)["error"] as? String
                #expect(error == "invalid_client")
            }
        }
        try await fixture.close()
    }
}
