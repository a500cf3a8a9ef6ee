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

/// The SMART concern as the gateway mounts it (`SMARTAuthRoutes()`): built from a real node home (its key derives the
/// token key, its config/clients.json lists the local clients) and the store. Two gateways on one home and one store
/// behave as one: a token from either passes both, and an assertion accepted by one is a replay at the other.
@Suite("Gateway SMART from a node home", .timeLimit(.minutes(3)))
struct SMARTNodeHomeTests {
    @Test func twoGatewaysOnOneHomeShareTokenKeyAndReplayCache() async throws {
        let folder = try Repository.temporaryDirectory("careledger-smart-home")
        defer { try? FileManager.default.removeItem(at: folder) }
        let home = NodeHome(folder.appendingPathComponent("home").path)
        _ = try home.initialize(chainId: "smart-test", moniker: "h", power: 10, genesisTime: Date(timeIntervalSince1970: 1_700_000_000))
        let key = try await TestClientKey.ed25519(kid: "ehr-1")
        _ = try TestClientFile.write([(id: "ehr", keys: [key.publicJWK], scopes: ["system/*.cruds"])],
                                     in: home.root.appendingPathComponent("config"))
        let url = "sqlite:" + folder.appendingPathComponent("store.sqlite").path
        let stores = [try await StoreLocation.open(url), try await StoreLocation.open(url)]
        let apps = stores.map { store in
            let protected = GatewayRouteClosure { router, _ in
                router.get("/Patient/:id") { _, context in
                    try context.require(.read, type: "Patient").clientId
                }
            }
            let router = GatewayApplication.router(dependencies: GatewayDependencies(store: store, home: home),
                                                   concerns: [SMARTAuthRoutes(), protected])
            return Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        }
        // Without --public-url the token URL is the configured listen address (the default 127.0.0.1:8080).
        let tokenURL = SMARTAuthRoutes.tokenURL(GatewayConfiguration())
        #expect(tokenURL == "http://127.0.0.1:8080/auth/token")
        let assertion = try await key.sign(ClientAssertionClaims(
            iss: "ehr", sub: "ehr", aud: AudienceClaim(value: [tokenURL]), exp: Date().timeIntervalSince1970 + 120,
            jti: UUID().uuidString, purposeOfUse: PurposeOfUseClaim(code: "TREAT")))
        let form = ByteBuffer(string: "grant_type=client_credentials&client_assertion_type=\(ClientAssertionVerifier.assertionType)&client_assertion=\(assertion)")
        let headers: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]

        let token = try await apps[0].testLive { client in
            try await client.execute(uri: "/auth/token", method: .post, headers: headers, body: form) { response in
                #expect(response.status == .ok)
                let body = try #require(JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any])
                #expect(body["scope"] as? String == "system/*.cruds")
                return try #require(body["access_token"] as? String)
            }
        }
        try await apps[1].testLive { client in
            try await client.execute(uri: "/Patient/p1", method: .get, headers: [.authorization: "Bearer \(token)"]) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body) == "ehr")
            }
            try await client.execute(uri: "/auth/token", method: .post, headers: headers, body: form) { response in
                #expect(response.status == .unauthorized)
                let body = try #require(JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any])
                #expect((body["error_description"] as? String)?.contains("jti has been used") == true)
            }
        }
        for store in stores { try await store.close() }
    }

    @Test func withoutAHomeEveryProtectedRequestIsRefused() async throws {
        let folder = try Repository.temporaryDirectory("careledger-smart-nohome")
        defer { try? FileManager.default.removeItem(at: folder) }
        let store = try await StoreLocation.open("sqlite:" + folder.appendingPathComponent("store.sqlite").path)
        let protected = GatewayRouteClosure { router, _ in
            router.get("/Patient/:id") { _, context in try context.require(.read, type: "Patient").clientId }
        }
        let router = GatewayApplication.router(dependencies: GatewayDependencies(store: store), concerns: [SMARTAuthRoutes(), protected])
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.testLive { client in
            try await client.execute(uri: "/auth/token", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                                     body: ByteBuffer(string: "grant_type=client_credentials")) { response in
                #expect(response.status == .serviceUnavailable)
            }
            try await client.execute(uri: "/Patient/p1", method: .get, headers: [.authorization: "Bearer x.y.z"]) { response in
                #expect(response.status == .unauthorized)
            }
        }
        try await store.close()
    }
}
