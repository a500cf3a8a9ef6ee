import Crypto
import Ledger
import Testing

/// Participant identifiers (tag 7) and SMART client registrations (tag 8) on the ledger state: what applies, what is
/// refused with which code, what the state root covers.
@Suite("Participant identifiers and client registrations")
struct ClientRegistrationTests {
    static let chainId = "careledger-test"
    static let npiA = "http://hl7.org/fhir/sid/us-npi|1234567893"
    static let oidA = "urn:ietf:rfc:3986|urn:oid:2.16.840.1.113883.3.72"
    static let npiB = "http://hl7.org/fhir/sid/us-npi|1417938291"
    static let jwks = #"{"keys":[{"kty":"EC","crv":"P-384","kid":"k1","x":"m2gNmyvSfLc1D_ZKfXhaHkD6Iyz0kjeuPtKDgj8V4Yq2dAhWrDpPuWdNiONwtmYX","y":"lC5yD2RWV8lYM0Gw2lITEiP1cwjp-JfhyyrWRe0L3tdt0-aRbhu2a-2TKfHETQRM"}]}"#
    static let rotated = #"{"keys":[{"kty":"RSA","kid":"k2","alg":"RS384","e":"AQAB","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"}]}"#

    struct Fixture {
        let a: SigningKey
        let b: SigningKey
        let outsider: SigningKey

        init() throws {
            a = try SigningKey(seed: [UInt8](repeating: 21, count: 32))
            b = try SigningKey(seed: [UInt8](repeating: 22, count: 32))
            outsider = try SigningKey(seed: [UInt8](repeating: 23, count: 32))
        }

        var participants: [(key: PublicKey, participant: Participant)] {
            [(a.publicKey, Participant(name: "Hospital A", nodeKey: a.publicKey, stake: 30)),
             (b.publicKey, Participant(name: "Hospital B", nodeKey: b.publicKey, stake: 10))]
        }

        func genesis() -> LedgerState { LedgerState(chainId: ClientRegistrationTests.chainId, participants: participants) }
    }

    static func tx(_ body: TransactionBody, _ nonce: UInt64, _ key: SigningKey) throws -> Transaction {
        try Transaction(signing: body, nonce: nonce, chainId: chainId, with: key)
    }

    static func client(_ id: String = "hospital-b-ehr", jwks: String = jwks, scopes: [String] = ["system/*.rs"]) -> TransactionBody {
        .registerClient(RegisterClient(clientId: id, jwks: Array(jwks.utf8), scopes: scopes))
    }

    /// The code `apply` refuses `tx` with, or nil when it applies.
    static func refusal(_ tx: Transaction, on state: inout LedgerState, height: UInt64 = 1) -> TransactionError.Code? {
        do throws(TransactionError) {
            try state.apply(tx, height: height, time: Int64(height) * 1_000, index: 0)
            return nil
        } catch {
            return error.code
        }
    }

    // MARK: Identifiers

    @Test func aParticipantSetsItsIdentifiersAndTheRootCoversThem() throws {
        let f = try Fixture()
        var state = f.genesis()
        let before = state.root
        #expect(Self.refusal(try Self.tx(.setIdentifiers(ParticipantIdentifiers([Self.npiA, Self.oidA])), 0, f.a), on: &state) == nil)
        #expect(state.identifiers(of: f.a.publicKey) == [Self.npiA, Self.oidA])
        #expect(state.holder(of: Self.oidA) == f.a.publicKey)
        #expect(state.root != before)
        // Membership proofs of both entries against the root.
        let list = try #require(state.value(of: .identifiers(f.a.publicKey)))
        try state.proof(of: .identifiers(f.a.publicKey)).verify(root: state.root, key: LedgerState.Entry.identifiers(f.a.publicKey).key, value: list)
        #expect(state.value(of: .identifier(Self.npiA)) == f.a.publicKey.bytes)

        // Replacing the list frees what was given up: the entry is gone (a non-membership proof holds) and B may take it.
        #expect(Self.refusal(try Self.tx(.setIdentifiers(ParticipantIdentifiers([Self.oidA])), 1, f.a), on: &state, height: 2) == nil)
        #expect(state.holder(of: Self.npiA) == nil && state.value(of: .identifier(Self.npiA)) == nil)
        try state.proof(of: .identifier(Self.npiA)).verify(root: state.root, key: LedgerState.Entry.identifier(Self.npiA).key, value: nil)
        #expect(Self.refusal(try Self.tx(.setIdentifiers(ParticipantIdentifiers([Self.npiA])), 0, f.b), on: &state, height: 3) == nil)
        #expect(state.holder(of: Self.npiA) == f.b.publicKey)

        // An empty list removes the participant's entry.
        #expect(Self.refusal(try Self.tx(.setIdentifiers(ParticipantIdentifiers([])), 2, f.a), on: &state, height: 4) == nil)
        #expect(state.identifiers(of: f.a.publicKey).isEmpty && state.value(of: .identifiers(f.a.publicKey)) == nil)
        #expect(state.holder(of: Self.oidA) == nil)
    }

    @Test func identifiersHeldByAnotherOrMalformedAreRefused() throws {
        let f = try Fixture()
        var state = f.genesis()
        _ = Self.refusal(try Self.tx(.setIdentifiers(ParticipantIdentifiers([Self.npiA])), 0, f.a), on: &state)
        let rootBefore = state.root
        #expect(Self.refusal(try Self.tx(.setIdentifiers(ParticipantIdentifiers([Self.npiA, Self.npiB])), 0, f.b), on: &state) == .identifierTaken)
        let cases: [[String]] = [
            ["no-bar"], ["|value"], ["system|"], ["a|b|c"], ["urn:x|caf\u{E9}"], ["sys tem|v"], ["urn:x| v"],
            [Self.oidA, Self.npiA],  // not in byte order
            [Self.npiB, Self.npiB],  // twice
            ["urn:x|" + String(repeating: "9", count: 260)],
            (0..<17).map { "urn:x|\(100 + $0)" },
        ]
        for list in cases {
            #expect(Self.refusal(try Self.tx(.setIdentifiers(ParticipantIdentifiers(list)), 0, f.b), on: &state) == .invalidIdentifier, "\(list)")
        }
        #expect(Self.refusal(try Self.tx(.setIdentifiers(ParticipantIdentifiers([Self.npiB])), 0, f.outsider), on: &state) == .unknownParticipant)
        #expect(state.root == rootBefore, "refused transactions change nothing")
        #expect(state.nonces[f.b.publicKey] == nil)
    }

    @Test func genesisIdentifiersAreInTheStateAndAClaimTwiceIsRefused() throws {
        let f = try Fixture()
        let plain = f.genesis()
        let empty = try LedgerState(chainId: Self.chainId, participants: f.participants, identifiers: [(f.a.publicKey, [])])
        #expect(empty.root == plain.root, "a genesis without identifiers keeps the root it had before identifiers existed")
        let state = try LedgerState(chainId: Self.chainId, participants: f.participants,
                                    identifiers: [(f.a.publicKey, [Self.npiA, Self.oidA]), (f.b.publicKey, [Self.npiB])])
        #expect(state.identifiers(of: f.b.publicKey) == [Self.npiB] && state.holder(of: Self.oidA) == f.a.publicKey)
        #expect(state.root != plain.root)
        #expect(throws: TransactionError.self) {
            try LedgerState(chainId: Self.chainId, participants: f.participants, identifiers: [(f.a.publicKey, [Self.npiA]), (f.b.publicKey, [Self.npiA])])
        }
        #expect(throws: TransactionError.self) {
            try LedgerState(chainId: Self.chainId, participants: f.participants, identifiers: [(f.outsider.publicKey, [Self.npiB])])
        }
    }

    // MARK: Clients

    @Test func aClientIsRegisteredAndRotatedByItsParticipantOnly() throws {
        let f = try Fixture()
        var state = f.genesis()
        #expect(Self.refusal(try Self.tx(Self.client(), 0, f.b), on: &state, height: 3) == nil)
        let first = try #require(state.client("hospital-b-ehr"))
        #expect(first.participant == f.b.publicKey && first.height == 3 && first.registeredAt == 3)
        #expect(first.registration.scopes == ["system/*.rs"] && first.registration.jwks == Array(Self.jwks.utf8))
        #expect(state.value(of: .client(id: "hospital-b-ehr")) == first.encoded)
        let rootAfterFirst = state.root

        // Rotation: new keys and scopes from the same participant; the first height is kept.
        #expect(Self.refusal(try Self.tx(Self.client(jwks: Self.rotated, scopes: ["system/Observation.rs", "system/Patient.rs"]), 1, f.b), on: &state, height: 9) == nil)
        let second = try #require(state.client("hospital-b-ehr"))
        #expect(second.height == 9 && second.registeredAt == 3 && second.registration.jwks == Array(Self.rotated.utf8))
        #expect(state.root != rootAfterFirst)
        try state.proof(of: .client(id: "hospital-b-ehr")).verify(root: state.root, key: LedgerState.Entry.client(id: "hospital-b-ehr").key,
                                                                  value: second.encoded)

        // Another participant may not take the client id over; nothing changes.
        let root = state.root
        #expect(Self.refusal(try Self.tx(Self.client(), 0, f.a), on: &state, height: 10) == .clientTaken)
        #expect(state.root == root && state.client("hospital-b-ehr")?.participant == f.b.publicKey)
        #expect(Self.refusal(try Self.tx(Self.client("other"), 0, f.outsider), on: &state, height: 10) == .unknownParticipant)
        #expect(state.client("never") == nil)
        try state.proof(of: .client(id: "never")).verify(root: state.root, key: LedgerState.Entry.client(id: "never").key, value: nil)
    }

    @Test(arguments: [
        ("", "system/*.rs", #"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"AA"}]}"#, TransactionError.Code.invalidClient),
        ("has space", "system/*.rs", #"{"keys":[{"kty":"OKP","x":"AA"}]}"#, .invalidClient),
        (String(repeating: "c", count: 129), "system/*.rs", #"{"keys":[{"kty":"OKP","x":"AA"}]}"#, .invalidClient),
        ("ok", "system/*.rs", #"{"keys":[]}"#, .invalidJWKS),
        ("ok", "system/*.rs", #"{"keys":{}}"#, .invalidJWKS),
        ("ok", "system/*.rs", #"[{"kty":"OKP"}]"#, .invalidJWKS),
        ("ok", "system/*.rs", #"{"keys":[{"crv":"P-384"}]}"#, .invalidJWKS),
        ("ok", "system/*.rs", #"{"keys":[{"kty":""}]}"#, .invalidJWKS),
        ("ok", "system/*.rs", #"{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}"#, .invalidJWKS),
        ("ok", "system/*.rs", #"{"keys":[{"kty":"EC","crv":"P-384","x":"AA","y":"AA","d":"AA"}]}"#, .invalidJWKS),
        ("ok", "system/*.rs", #"{"keys":[{"kty":"OKP","kty":"EC"}]}"#, .invalidJWKS),
        ("ok", "system/*.rs", #"{"keys":[{"kty":"OKP"}],}"#, .invalidJWKS),
        ("ok", "system/*.rs", #"{"keys":[{"kty":"OKP","n":01}]}"#, .invalidJWKS),
        ("ok", "system/*.rs", #"{"keys":[{"kty":"OKP","x":"\ud800"}]}"#, .invalidJWKS),
        ("ok", "system/*.rs", "{\"keys\":[{\"kty\":\"OKP\",\"x\":\"a\u{01}\"}]}", .invalidJWKS),
        ("ok", "system/*.rs", #"{"keys":[{"kty":"OKP"}]} x"#, .invalidJWKS),
        ("ok", "system/*.rs", String(repeating: "[", count: 40) + String(repeating: "]", count: 40), .invalidJWKS),
        ("ok", "user/*.rs", #"{"keys":[{"kty":"OKP","x":"AA"}]}"#, .invalidScope),
        ("ok", "system/", #"{"keys":[{"kty":"OKP","x":"AA"}]}"#, .invalidScope),
        ("ok", "system/*.rs launch", #"{"keys":[{"kty":"OKP","x":"AA"}]}"#, .invalidScope),
    ])
    func invalidRegistrationsAreRefusedWithTheirCode(id: String, scope: String, jwks: String, code: TransactionError.Code) throws {
        let f = try Fixture()
        var state = f.genesis()
        #expect(Self.refusal(try Self.tx(Self.client(id, jwks: jwks, scopes: [scope]), 0, f.b), on: &state) == code)
        #expect(state.clients.isEmpty)
    }

    @Test func scopeListsAreBoundedAndCanonical() throws {
        let f = try Fixture()
        var state = f.genesis()
        let key = #"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"AA"}]}"#
        #expect(Self.refusal(try Self.tx(Self.client(jwks: key, scopes: []), 0, f.b), on: &state) == .invalidScope)
        #expect(Self.refusal(try Self.tx(Self.client(jwks: key, scopes: ["system/Patient.rs", "system/*.rs"]), 0, f.b), on: &state) == .invalidScope)
        #expect(Self.refusal(try Self.tx(Self.client(jwks: key, scopes: ["system/*.rs", "system/*.rs"]), 0, f.b), on: &state) == .invalidScope)
        let many = (0..<33).map { "system/T\(100 + $0).rs" }
        #expect(Self.refusal(try Self.tx(Self.client(jwks: key, scopes: many), 0, f.b), on: &state) == .invalidScope)
        #expect(RegisterClient.canonical(scopes: ["system/Patient.rs", "system/*.rs", "system/Patient.rs"]) == ["system/*.rs", "system/Patient.rs"])
        // A JWKS over 16 KiB is refused before it is parsed.
        let big = #"{"keys":[{"kty":"OKP","x":""# + String(repeating: "A", count: 16_400) + #""}]}"#
        #expect(Self.refusal(try Self.tx(Self.client(jwks: big), 0, f.b), on: &state) == .invalidJWKS)
        // Escapes, numbers and nesting that are valid JSON pass.
        let fancy = #"{"keys":[{"kty":"RSA","e":"AQAB","n":"AA","x5c":["MII\u0041"],"exp":-1.5e+3,"ok":true,"none":null,"meta":{"a":[1,2,{"b":"\uD83D\uDE00"}]}}]}"#
        #expect(Self.refusal(try Self.tx(Self.client(jwks: fancy), 0, f.b), on: &state) == nil)
    }

    /// A block of registrations gives the same root on two validators that apply it (determinism), and the root
    /// differs from a block without them.
    @Test func applyingTheSameBlockGivesTheSameRoot() throws {
        let f = try Fixture()
        let txs = [
            try Self.tx(.setIdentifiers(ParticipantIdentifiers([Self.npiB])), 0, f.b),
            try Self.tx(Self.client(), 1, f.b),
            try Self.tx(Self.client("a-1", jwks: Self.rotated, scopes: ["system/*.read"]), 0, f.a),
        ]
        var one = f.genesis(), two = f.genesis()
        for (i, tx) in txs.enumerated() {
            try one.apply(tx, height: 1, time: 1_000, index: UInt32(i))
            try two.apply(tx, height: 1, time: 1_000, index: UInt32(i))
        }
        one.settle()
        #expect(one.root == two.root && one.root != f.genesis().root)
    }
}
