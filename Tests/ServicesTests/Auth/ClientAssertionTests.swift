import Crypto
import Foundation
import JWTKit
import RecordStore
import Services
import TestSupport
import Testing

/// The token endpoint's checks of SMART Backend Services client assertions, with real keys (RS384, ES384, EdDSA)
/// made and signed with jwt-kit, the local client directory reading a real clients.json, and the jti replay cache in
/// a real SQLite store.
@Suite("SMART client assertions", .timeLimit(.minutes(3)))
struct ClientAssertionTests {
    static let tokenURL = "https://gateway.example.org/auth/token"
    static let now = Date(timeIntervalSince1970: 1_800_000_000)
    static var nowSeconds: Double { now.timeIntervalSince1970 }

    /// A verifier and issuer over a clients.json holding `keys` for client "ehr" and a fresh SQLite store.
    struct Fixture {
        let issuer: TokenIssuer
        let codec: AccessTokenCodec
        let store: any RecordStore
        let folder: URL
        let tokenKey = SymmetricKey(size: .bits256)

        init(keys: [JWK], scopes: [String] = ["system/*.rs", "system/Observation.cu"]) async throws {
            folder = try Repository.temporaryDirectory("careledger-auth")
            let file = try TestClientFile.write([(id: "ehr", keys: keys, scopes: scopes)], in: folder)
            store = try await StoreLocation.open("sqlite:" + folder.appendingPathComponent("store.sqlite").path)
            guard let cache = store as? any TokenReplayCache else { throw ServiceError(.internal, "no replay cache") }
            let clock: @Sendable () -> Date = { ClientAssertionTests.now }
            let verifier = ClientAssertionVerifier(tokenURL: ClientAssertionTests.tokenURL,
                                                   directory: LocalClientDirectory(file: file), replayCache: cache)
            codec = AccessTokenCodec(key: tokenKey, clock: clock)
            issuer = TokenIssuer(verifier: verifier, codec: codec, clock: clock)
        }

        func close() async throws {
            try await store.close()
            try? FileManager.default.removeItem(at: folder)
        }
    }

    static func claims(iss: String = "ehr", sub: String = "ehr", aud: String = tokenURL, exp: Double? = nowSeconds + 240,
                       jti: String? = UUID().uuidString, purpose: PurposeOfUseClaim? = nil) -> ClientAssertionClaims {
        ClientAssertionClaims(iss: iss, sub: sub, aud: AudienceClaim(value: [aud]), exp: exp, jti: jti, purposeOfUse: purpose)
    }

    static func request(_ assertion: String, scope: String? = "system/Patient.rs") -> TokenRequest {
        TokenRequest(grantType: "client_credentials", scope: scope, clientAssertionType: ClientAssertionVerifier.assertionType,
                     clientAssertion: assertion)
    }

    /// The refusal `request` meets, or nil when a token is issued.
    static func refusal(_ issuer: TokenIssuer, _ request: TokenRequest) async -> TokenError? {
        do {
            _ = try await issuer.issue(request)
            return nil
        } catch let error as TokenError {
            return error
        } catch {
            Issue.record("unexpected error \(error)")
            return nil
        }
    }

    enum Algorithm: String, CaseIterable, Sendable { case rs384, es384, eddsa }

    static func key(_ algorithm: Algorithm, kid: String = "k1") async throws -> TestClientKey {
        switch algorithm {
        case .rs384: try await TestClientKey.rs384(kid: kid)
        case .es384: try await TestClientKey.es384(kid: kid)
        case .eddsa: try await TestClientKey.ed25519(kid: kid)
        }
    }

    @Test(arguments: Algorithm.allCases)
    func validAssertionGetsAShortLivedTokenForTheGrantedScopes(_ algorithm: Algorithm) async throws {
        let key = try await Self.key(algorithm)
        let fixture = try await Fixture(keys: [key.publicJWK])
        let response = try await fixture.issuer.issue(Self.request(try await key.sign(Self.claims()), scope: "system/Patient.rs system/Observation.cruds"))
        #expect(response.tokenType == "bearer")
        #expect(response.expiresIn == 300)
        #expect(response.scope == "system/Patient.rs system/Observation.rs system/Observation.cu")
        let principal = try await fixture.codec.principal(bearer: response.accessToken)
        #expect(principal.clientId == "ehr")
        #expect(principal.kind == .local)
        #expect(principal.permits(.read, type: "Patient"))
        #expect(principal.permits(.update, type: "Observation"))
        #expect(!principal.permits(.delete, type: "Observation"))
        #expect(!principal.permits(.read, type: "Condition"))
        try await fixture.close()
    }

    @Test func rsaKeyWithoutDeclaredAlgIsUsedForRS384() async throws {
        let key = try await TestClientKey.rs384(kid: "plain", declareAlg: false)
        let fixture = try await Fixture(keys: [key.publicJWK])
        let response = try await fixture.issuer.issue(Self.request(try await key.sign(Self.claims())))
        #expect(response.scope == "system/Patient.rs")
        try await fixture.close()
    }

    /// A bad signature, another client's iss or sub, another aud, an exp too far or past, a replayed or missing jti,
    /// an unknown kid: each is invalid_client (401), and the description names the check.
    @Test(arguments: Algorithm.allCases)
    func eachBrokenClaimIsRefused(_ algorithm: Algorithm) async throws {
        let key = try await Self.key(algorithm)
        let impostor = try await Self.key(algorithm)  // same kid, another key
        let fixture = try await Fixture(keys: [key.publicJWK])
        let cases: [(String, String)] = [
            (try await impostor.sign(Self.claims()), "signature"),
            (try await key.sign(Self.claims(iss: "lab")), "no client 'lab'"),
            (try await key.sign(Self.claims(sub: "lab")), "iss and sub"),
            (try await key.sign(Self.claims(aud: "https://other.example.org/auth/token")), "aud"),
            (try await key.sign(Self.claims(exp: Self.nowSeconds + 600)), "more than 300 s ahead"),
            (try await key.sign(Self.claims(exp: Self.nowSeconds - 120)), "expired"),
            (try await key.sign(Self.claims(exp: nil)), "no exp"),
            (try await key.sign(Self.claims(jti: nil)), "jti"),
            (try await key.sign(Self.claims(), kid: "k2"), "kid 'k2'"),
        ]
        for (assertion, expected) in cases {
            let error = await Self.refusal(fixture.issuer, Self.request(assertion))
            #expect(error?.code == .invalidClient, "\(expected)")
            #expect(error?.httpStatus == 401)
            #expect(error?.reason.contains(expected) == true, "\(expected): \(error?.reason ?? "issued")")
        }
        try await fixture.close()
    }

    @Test func clockSkewWithinSixtySecondsIsTolerated() async throws {
        let key = try await TestClientKey.es384(kid: "k1")
        let fixture = try await Fixture(keys: [key.publicJWK])
        // Expired 30 s ago by our clock, or 330 s ahead: both within the 60 s allowance.
        _ = try await fixture.issuer.issue(Self.request(try await key.sign(Self.claims(exp: Self.nowSeconds - 30))))
        _ = try await fixture.issuer.issue(Self.request(try await key.sign(Self.claims(exp: Self.nowSeconds + 330))))
        try await fixture.close()
    }

    @Test func replayedJtiIsRefusedAndARefusedAssertionDoesNotSpendIt() async throws {
        let key = try await TestClientKey.ed25519(kid: "k1")
        let fixture = try await Fixture(keys: [key.publicJWK])
        let claims = Self.claims(jti: "once")
        // Refused for its aud first: the jti stays unused.
        let wrong = try await key.sign(Self.claims(aud: "https://other.example.org/auth/token", jti: "once"))
        #expect(await Self.refusal(fixture.issuer, Self.request(wrong))?.code == .invalidClient)
        let assertion = try await key.sign(claims)
        _ = try await fixture.issuer.issue(Self.request(assertion))
        let replay = await Self.refusal(fixture.issuer, Self.request(assertion))
        #expect(replay?.code == .invalidClient)
        #expect(replay?.reason.contains("jti has been used") == true)
        try await fixture.close()
    }

    @Test func algNoneAndHS256AreRefusedBeforeAnyKeyIsTried() async throws {
        let key = try await TestClientKey.rs384(kid: "k1")
        let fixture = try await Fixture(keys: [key.publicJWK])
        let payload = try JSONEncoder().encode(Self.claims())
        let unsigned = TestClientKey.base64url(Data(#"{"alg":"none","kid":"k1","typ":"JWT"}"#.utf8)) + "."
            + TestClientKey.base64url(payload) + "."
        let hmac = JWTKeyCollection()
        await hmac.add(hmac: HMACKey(from: "a shared secret the client should not have"), digestAlgorithm: .sha256,
                       kid: JWKIdentifier(string: "k1"))
        let hs256 = try await hmac.sign(Self.claims(), kid: JWKIdentifier(string: "k1"))
        for assertion in [unsigned, hs256] {
            let error = await Self.refusal(fixture.issuer, Self.request(assertion))
            #expect(error?.code == .invalidClient)
            #expect(error?.reason.contains("is not accepted") == true, "\(error?.reason ?? "issued")")
        }
        try await fixture.close()
    }

    @Test func keyOfAnotherTypeUnderTheKidIsNotUsed() async throws {
        // The JWKS has an ES384 key as k1; an RS384 assertion naming k1 finds no usable key.
        let ec = try await TestClientKey.es384(kid: "k1")
        let rsa = try await TestClientKey.rs384(kid: "k1")
        let fixture = try await Fixture(keys: [ec.publicJWK])
        let error = await Self.refusal(fixture.issuer, Self.request(try await rsa.sign(Self.claims())))
        #expect(error?.reason.contains("no usable RS384 key") == true, "\(error?.reason ?? "issued")")
        try await fixture.close()
    }

    @Test func formErrorsAreTheOAuthCodes() async throws {
        let key = try await TestClientKey.es384(kid: "k1")
        let fixture = try await Fixture(keys: [key.publicJWK])
        let assertion = try await key.sign(Self.claims())
        var request = Self.request(assertion)
        request.grantType = "authorization_code"
        #expect(await Self.refusal(fixture.issuer, request)?.code == .unsupportedGrantType)
        request = Self.request(assertion)
        request.grantType = nil
        #expect(await Self.refusal(fixture.issuer, request)?.code == .invalidRequest)
        request = Self.request(assertion)
        request.clientAssertionType = "urn:ietf:params:oauth:client-assertion-type:saml2-bearer"
        #expect(await Self.refusal(fixture.issuer, request)?.code == .invalidClient)
        request = Self.request(assertion)
        request.clientAssertion = nil
        #expect(await Self.refusal(fixture.issuer, request)?.code == .invalidRequest)
        // Valid assertion, but nothing requested is registered: invalid_scope (400).
        let scoped = await Self.refusal(fixture.issuer, Self.request(assertion, scope: "system/Patient.cud"))
        #expect(scoped?.code == .invalidScope)
        #expect(scoped?.httpStatus == 400)
        try await fixture.close()
    }

    @Test(arguments: [
        (PurposeOfUseClaim(code: "TREAT"), "TREAT"),
        (PurposeOfUseClaim(system: PurposeOfUseClaim.v3ActReason, code: "HPAYMT"), "HPAYMT"),
        (PurposeOfUseClaim(system: "urn:example:purpose", code: "RESEARCH"), "urn:example:purpose|RESEARCH"),
    ])
    func purposeOfUseIsCarriedIntoTheToken(_ purpose: PurposeOfUseClaim, _ carried: String) async throws {
        let key = try await TestClientKey.ed25519(kid: "k1")
        let fixture = try await Fixture(keys: [key.publicJWK])
        let response = try await fixture.issuer.issue(Self.request(try await key.sign(Self.claims(purpose: purpose))))
        #expect(try await fixture.codec.principal(bearer: response.accessToken).purposeOfUse == carried)
        try await fixture.close()
    }

    @Test func unusableKeysOfAJWKSAreLeftOut() throws {
        let ec = #"{"kty":"EC","crv":"P-384","x":"m2gNmyvSfLc1D_ZKfXhaHkD6Iyz0kjeuPtKDgj8V4Yq2dAhWrDpPuWdNiONwtmYX","y":"lC5yD2RWV8lYM0Gw2lITEiP1cwjp-JfhyyrWRe0L3tdt0-aRbhu2a-2TKfHETQRM""#
        let jwks = """
            {"keys":[
              {"kty":"oct","kid":"secret","k":"c2VjcmV0"},
              \(ec),"kid":"enc-1","use":"enc"},
              \(ec)},
              \(ec),"kid":"private","d":"AAAA"},
              {"kty":"RSA","kid":"broken"},
              \(ec),"kid":"good","use":"sig"}
            ]}
            """
        let set = try JSONDecoder().decode(ClientKeySet.self, from: Data(jwks.utf8))
        #expect(set.keys.map { $0.keyIdentifier?.string } == ["good"])
    }

    @Test func purposeOfUseAsSystemBarCodeString() throws {
        let decoded = try JSONDecoder().decode(PurposeOfUseClaim.self, from: Data(#""urn:x|ETREAT""#.utf8))
        #expect(decoded == PurposeOfUseClaim(system: "urn:x", code: "ETREAT"))
    }

    @Test func accessTokensExpireAndOtherKeysAreRefused() async throws {
        let key = try await TestClientKey.es384(kid: "k1")
        let fixture = try await Fixture(keys: [key.publicJWK])
        let token = try await fixture.issuer.issue(Self.request(try await key.sign(Self.claims()))).accessToken
        #expect(try await fixture.codec.principal(bearer: token).clientId == "ehr")
        let otherKey = AccessTokenCodec(key: SymmetricKey(size: .bits256), clock: { ClientAssertionTests.now })
        await #expect(throws: ServiceError.self) { try await otherKey.principal(bearer: token) }
        let later = AccessTokenCodec(key: fixture.tokenKey, clock: { ClientAssertionTests.now.addingTimeInterval(301) })
        await #expect(throws: ServiceError.self) { try await later.principal(bearer: token) }
        var tampered = Array(token)
        tampered[tampered.count / 2] = tampered[tampered.count / 2] == "A" ? "B" : "A"
        await #expect(throws: ServiceError.self) { try await fixture.codec.principal(bearer: String(tampered)) }
        try await fixture.close()
    }
}
