import Foundation
import JWTKit
import Ledger
import Node
import RecordStore
import Services
import TestSupport
import Testing

/// Partner clients as the ledger has them: registered by a RegisterClient transaction on a real chain, read through
/// the node's RPC over loopback (`GET /client`) by the token endpoint's ledger directory. Key rotation is another
/// registration, seen by the cached directory once its 30 s are over.
@Suite("Ledger client directory", .timeLimit(.minutes(3)))
struct LedgerClientDirectoryTests {
    static let npi = "http://hl7.org/fhir/sid/us-npi|1234567893"

    /// A mutable clock the cached directory and the issuer read.
    final class TestClock: @unchecked Sendable {
        private let lock = NSLock()
        private var now = Date(timeIntervalSince1970: 1_800_000_000)
        func read() -> Date { lock.withLock { now } }
        func advance(_ seconds: TimeInterval) { lock.withLock { now = now.addingTimeInterval(seconds) } }
    }

    static func jwks(_ key: TestClientKey) throws -> [UInt8] {
        Array(try JSONEncoder().encode(["keys": [key.publicJWK]]))
    }

    @Test func partnerClientFromTheLedgerGetsAPartnerTokenAndRotationIsSeenAfterTheCache() async throws {
        let dir = try Repository.temporaryDirectory("careledger-ledger-clients")
        defer { try? FileManager.default.removeItem(at: dir) }
        let participant = try SigningKey(seed: [UInt8](repeating: 9, count: 32))
        let genesis = Genesis(chainId: "ledger-clients", genesisTime: Date(timeIntervalSince1970: 1_700_000_000),
                              validators: [Genesis.Validator(name: "Partner Hospital B", publicKey: participant.publicKey, power: 10,
                                                             identifiers: [Self.npi])])
        let chain = try await Chain(genesis: genesis, blocks: try BlockStore(path: dir.appendingPathComponent("blocks.log").path, writable: true),
                                    key: participant)
        let first = try await TestClientKey.es384(kid: "b-1")
        _ = try await chain.submit(.registerClient(RegisterClient(clientId: "partner-b", jwks: try Self.jwks(first), scopes: ["system/*.rs"])))
        _ = try await chain.produceBlock(now: 1_700_000_001_000)
        let rpc = try await RunningRPC.start { await NodeRPC.handle($0, chain: chain) }

        let clock = TestClock()
        let tick: @Sendable () -> Date = { clock.read() }
        let store = try await StoreLocation.open("sqlite:" + dir.appendingPathComponent("store.sqlite").path)
        let cache = try #require(store as? any TokenReplayCache)
        let tokenURL = "https://hospital-a.example.org/auth/token"
        let directory = CachedClientDirectory([LedgerClientDirectory(port: rpc.port)], clock: tick)
        let codec = AccessTokenCodec.withRandomKey(clock: tick)
        let issuer = TokenIssuer(verifier: ClientAssertionVerifier(tokenURL: tokenURL, directory: directory, replayCache: cache),
                                 codec: codec, clock: tick)
        func request(_ key: TestClientKey) async throws -> TokenRequest {
            let claims = ClientAssertionClaims(iss: "partner-b", sub: "partner-b", aud: AudienceClaim(value: [tokenURL]),
                                               exp: clock.read().timeIntervalSince1970 + 120, jti: UUID().uuidString)
            return TokenRequest(grantType: "client_credentials", scope: "system/Patient.rs",
                                clientAssertionType: ClientAssertionVerifier.assertionType, clientAssertion: try await key.sign(claims))
        }

        let response = try await issuer.issue(try await request(first))
        let principal = try await codec.principal(bearer: response.accessToken)
        #expect(principal.kind == .partner)
        #expect(principal.participant == Hex.encode(participant.publicKey.bytes))
        #expect(principal.identifiers == [Self.npi])
        #expect(principal.permits(.read, type: "Patient") && !principal.permits(.read, type: "Observation"))
        // An unknown client is invalid_client, not a failure.
        #expect(try await directory.client(id: "nobody") == nil)

        // Rotation: the participant registers the client again with a new key.
        let second = try await TestClientKey.es384(kid: "b-2")
        _ = try await chain.submit(.registerClient(RegisterClient(clientId: "partner-b", jwks: try Self.jwks(second), scopes: ["system/*.rs"])))
        _ = try await chain.produceBlock(now: 1_700_000_002_000)
        // Within the cache's 30 s the old registration still answers…
        clock.advance(10)
        _ = try await issuer.issue(try await request(first))
        // …after it the new key is used and the old one is refused.
        clock.advance(25)
        _ = try await issuer.issue(try await request(second))
        do {
            _ = try await issuer.issue(try await request(first))
            Issue.record("the rotated-out key still got a token")
        } catch let error as TokenError {
            #expect(error.code == .invalidClient)
            #expect(error.reason.contains("no usable ES384 key with kid 'b-1'"))
        }
        // The first token, checked (and remembered) above, is refused once expired: 300 s after it was issued.
        #expect(try await codec.principal(bearer: response.accessToken).clientId == "partner-b")
        clock.advance(266)
        await #expect(throws: ServiceError.self) { try await codec.principal(bearer: response.accessToken) }
        try await rpc.stop()
        try await store.close()
    }

    @Test func anUnreachableNodeIsUnavailableNotAnUnknownClient() async throws {
        // Port 1 (tcpmux) has no listener on a test machine: the connection is refused.
        await #expect(throws: ServiceError.self) {
            _ = try await LedgerClientDirectory(port: 1, timeout: 5).client(id: "partner-b")
        }
    }
}
