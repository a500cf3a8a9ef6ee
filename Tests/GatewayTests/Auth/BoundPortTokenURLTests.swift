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

/// `serve --listen 127.0.0.1:0` without `--base-url`: once the socket is bound, the token URL the gateway advertises
/// (smart-configuration, the CapabilityStatement's oauth-uris) and checks assertions' `aud` against carries the port
/// it is listening on, not `:0`. Over real loopback HTTP, the SMART concern built from a real node home.
@Suite("Gateway token URL on a port chosen by the system", .timeLimit(.minutes(3)))
struct BoundPortTokenURLTests {
    static func json(_ response: LiveResponse) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any])
    }

    @Test func theTokenURLCarriesTheBoundPort() async throws {
        let folder = try Repository.temporaryDirectory("careledger-bound-port")
        defer { try? FileManager.default.removeItem(at: folder) }
        let home = NodeHome(folder.appendingPathComponent("home").path)
        _ = try home.initialize(chainId: "bound-port", moniker: "h", power: 10, genesisTime: Date(timeIntervalSince1970: 1_700_000_000))
        let key = try await TestClientKey.ed25519(kid: "ehr-1")
        _ = try TestClientFile.write([(id: "ehr", keys: [key.publicJWK], scopes: ["system/*.rs"])], in: home.root.appendingPathComponent("config"))
        let store = try await StoreLocation.open("sqlite:" + folder.appendingPathComponent("store.sqlite").path)
        let app = try GatewayApplication.make(configuration: GatewayConfiguration(host: "127.0.0.1", port: 0),
                                              dependencies: GatewayDependencies(store: store, home: home),
                                              concerns: [MetadataRoutes(), SMARTAuthRoutes()])
        try await app.testLive { client in
            let port = try #require(client.port)
            #expect(port != 0)
            let tokenURL = "http://127.0.0.1:\(port)/auth/token"
            try await client.execute(uri: "/.well-known/smart-configuration", method: .get) { response in
                let body = try Self.json(response)
                #expect(body["token_endpoint"] as? String == tokenURL)
            }
            try await client.execute(uri: "/metadata", method: .get) { response in
                let text = String(buffer: response.body)
                #expect(text.contains("\"\(tokenURL)\""), "oauth-uris names the bound port")
                #expect(!text.contains(":0/auth/token"))
            }
            // An assertion made for the advertised URL is accepted.
            let assertion = try await key.sign(ClientAssertionClaims(iss: "ehr", sub: "ehr", aud: AudienceClaim(value: [tokenURL]),
                                                                     exp: Date().timeIntervalSince1970 + 120, jti: UUID().uuidString))
            let form = "grant_type=client_credentials&client_assertion_type=\(ClientAssertionVerifier.assertionType)&client_assertion=\(assertion)"
            try await client.execute(uri: "/auth/token", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                                     body: ByteBuffer(string: form)) { response in
                #expect(response.status == .ok)
                let body = try Self.json(response)
                #expect(body["access_token"] is String)
            }
        }
        try await store.close()
    }
}
