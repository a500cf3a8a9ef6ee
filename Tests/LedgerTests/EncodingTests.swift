import Contracts
import Crypto
import Foundation
import Ledger
import TestSupport
import Testing

@Suite("Ledger canonical encoding")
struct EncodingTests {
    static func hex(_ s: String) -> [UInt8] { Hex.decode(s) ?? [] }

    @Test func primitivesAreFixedWidthBigEndianAndLengthPrefixed() {
        var w = LedgerWriter()
        w.u8(0xAB)
        w.u16(0x0102)
        w.u32(0x0304_0506)
        w.u64(0x0708_090A_0B0C_0D0E)
        w.i64(-2)
        w.bool(true)
        w.string("hé")
        w.strings(["a", ""])
        w.optional(UInt64?.none) { $0.u64($1) }
        w.optional(UInt64?.some(1)) { $0.u64($1) }
        #expect(Hex.encode(w.bytes) == "ab" + "0102" + "03040506" + "0708090a0b0c0d0e" + "fffffffffffffffe" + "01"
            + "00000003" + "68c3a9" + "00000002" + "0000000161" + "00000000" + "00" + "01" + "0000000000000001")
    }

    @Test func theReaderAcceptsOnlyCanonicalBytes() {
        func fails(_ hex: String, _ read: (inout LedgerReader) throws -> Void) -> Bool {
            var r = LedgerReader(Self.hex(hex))
            do {
                try read(&r)
                try r.finish()
                return false
            } catch {
                return true
            }
        }
        #expect(fails("02") { _ = try $0.bool() }, "a boolean byte other than 0/1")
        #expect(fails("02") { _ = try $0.optional { (r) throws(LedgerDecodingError) in try r.u8() } }, "an option byte other than 0/1")
        #expect(fails("00000002c328") { _ = try $0.string() }, "invalid UTF-8")
        #expect(fails("0000000561") { _ = try $0.string() }, "a truncated string")
        #expect(fails("0100") { _ = try $0.bool() }, "bytes left over")
        #expect(fails("ffffffff") { _ = try $0.byteString() }, "a length over the limit")
        #expect(fails("00ffffff") { _ = try $0.strings() }, "a list count over the limit")
        #expect(fails("09") { _ = try $0.value(TransactionBody.self) }, "an unknown transaction kind")
        #expect(!fails("0000000161") { _ = try $0.string() })
        // Nine nested provisions are refused; eight are read.
        func nested(_ depth: Int) -> Provision {
            depth == 1 ? Provision(kind: .permit) : Provision(kind: .deny, provisions: [nested(depth - 1)])
        }
        #expect((try? Provision(encoded: nested(8).encoded)) == nested(8))
        #expect((try? Provision(encoded: nested(9).encoded)) == nil)
    }

    /// RFC 8032 §7.1, test 1: swift-crypto's Ed25519 is the standard, deterministic one.
    @Test func ed25519KnownAnswer() throws {
        let key = try SigningKey(seed: Self.hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"))
        #expect(key.publicKey.description == "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
        let signature = try key.sign([])
        #expect(Hex.encode(signature) == "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b")
        #expect(key.publicKey.verifies(signature, over: []))
        #expect(!key.publicKey.verifies(signature, over: [0]))
    }

    // MARK: Golden vectors

    static let chainId = "careledger-golden"

    /// Fixed keys (seeds 0x01…, 0x02…) and one sample of everything that is hashed or signed.
    static func samples() throws -> [(name: String, bytes: [UInt8], hash: [UInt8])] {
        let alice = try SigningKey(seed: [UInt8](repeating: 1, count: 32))
        let bob = try SigningKey(seed: [UInt8](repeating: 2, count: 32))
        let zero = [UInt8](repeating: 0, count: 32)
        let root = Merkle.root(leaves: [[1], [2], [3]])
        let pseudonym = PatientPseudonym.derive(consortiumKey: [UInt8](repeating: 7, count: 32), system: "urn:oid:2.16.840.1.113883.4.1", value: "999-99-9999")
        let provision = Provision(kind: .permit, period: Period(start: 1_700_000_000_000, end: nil),
                                  actors: ["urn:oid:2.16.840.1.113883.3.72|hospital-b"], purposes: ["http://terminology.hl7.org/CodeSystem/v3-ActReason|TREAT"],
                                  provisions: [Provision(kind: .deny, securityLabels: ["http://terminology.hl7.org/CodeSystem/v3-ActCode|PSY"])])
        let bodies: [(String, TransactionBody)] = [
            ("anchor-batch", .anchorBatch(AnchorBatch(root: root, leafCount: 3, firstTxid: 10, lastTxid: 12, canonicalForm: "careledger-canonical/1", submitter: alice.publicKey))),
            ("consent-grant", .consentDirective(ConsentDirective(action: .grant, directiveId: Array(SHA256.hash(data: [9])), patient: pseudonym,
                                                                 grantees: ["urn:oid:2.16.840.1.113883.3.72|hospital-b"], categories: ["http://loinc.org|59284-0"],
                                                                 issued: 1_700_000_000_000, provision: provision, consentCommitment: Array(SHA256.hash(data: [8]))))),
            ("register-participant", .registerParticipant(RegisterParticipant(name: "General Hospital", nodeKey: bob.publicKey))),
            ("bond", .bond(amount: 1_000)),
            ("unbond", .unbond(amount: 250)),
            ("set-identifiers", .setIdentifiers(ParticipantIdentifiers(["http://hl7.org/fhir/sid/us-npi|1234567893",
                                                                        "urn:ietf:rfc:3986|urn:oid:2.16.840.1.113883.3.72"]))),
            ("register-client", .registerClient(Self.sampleClient)),
            ("contract-deploy", .contract(.deploy(try Self.sampleContract()))),
            ("contract-vote", .contract(.vote(contract: "icu-ventilators", version: 1, approve: true))),
            ("contract-claim", .contract(.claim(contract: "icu-ventilators", try Self.sampleClaim()))),
            ("contract-supply", .contract(.supply(contract: "icu-ventilators", units: Rational(12)))),
            ("contract-withdraw", .contract(.withdraw(contract: "icu-ventilators", side: .sell))),
        ]
        var out: [(String, [UInt8], [UInt8])] = []
        for (n, (name, body)) in bodies.enumerated() {
            let tx = try Transaction(signing: body, nonce: UInt64(n), chainId: chainId, with: alice)
            out.append(("tx/" + name, tx.encoded, tx.hash))
        }
        let validators = ValidatorSet([Validator(key: alice.publicKey, power: 3), Validator(key: bob.publicKey, power: 1)])
        let header = BlockHeader(chainId: chainId, height: 2, time: 1_700_000_000_123, previousBlockId: zero,
                                 transactionsRoot: Block.transactionsRoot([]), stateRoot: zero, validatorsHash: validators.hash,
                                 nextValidatorsHash: validators.hash, proposer: bob.publicKey)
        out.append(("block-header", header.encoded, header.id))
        let message = voteSignBytes(chainId: chainId, kind: .precommit, height: 2, round: 0, blockId: header.id)
        let commit = CommitCertificate(height: 2, round: 0, blockId: header.id,
                                       signatures: [CommitSignature(validator: alice.publicKey, signature: try alice.sign(message))])
        out.append(("commit", commit.encoded, Array(SHA256.hash(data: commit.encoded))))
        out.append(("patient-pseudonym", pseudonym, Array(SHA256.hash(data: pseudonym))))
        let client = ClientRecord(registration: sampleClient, participant: alice.publicKey, height: 12, registeredAt: 7)
        out.append(("state/client-record", client.encoded, Array(SHA256.hash(data: client.encoded))))
        let result = EpochResult(contract: "icu-ventilators", version: 1, epoch: 3, mechanism: .reserve, supply: Rational(2),
                                 allocations: [Allocation(claimant: "hospital-a", units: Rational(1), category: "e"),
                                               Allocation(claimant: "hospital-b", units: Rational(1), price: try Rational(11, 2), category: "u")],
                                 free: .zero, price: nil, steps: [Step("category", claimant: "hospital-a", amounts: [Rational(1), try Rational(-7, 3)], note: "e takes A")],
                                 gasUsed: 42, failure: nil)
        out.append(("state/epoch-result", result.encoded, Array(SHA256.hash(data: result.encoded))))
        return out
    }

    /// A reserve contract using every field a definition has.
    static func sampleContract() throws -> ContractDefinition {
        ContractDefinition(id: "icu-ventilators", version: 1, description: "two reserve categories",
                           pool: Pool(resource: "ventilator", units: Rational(2), divisible: false, owners: ["hospital-a"]),
                           epochs: EpochSchedule(start: 10, length: 100), claimants: ["hospital-a", "hospital-b"],
                           mechanism: MechanismSpec(type: .reserve, categories: [ReserveCategory(name: "u", capacity: Rational(1)),
                                                                                 ReserveCategory(name: "e", capacity: Rational(1), eligible: "true", priority: "1")],
                                                    order: ["u", "e"]),
                           priority: "2", weight: "3", gas: 100_000)
    }

    /// A claim with every kind of attribute value.
    static func sampleClaim() throws -> Claim {
        Claim(claimant: "hospital-b", units: Rational(3), weight: try Rational(5, 4), price: try Rational(21, 2), side: nil, category: "e",
              attributes: ["sofa": .int(6), "essential": .bool(true), "share": .rational(try Rational(1, 3)), "ward": .string("icu"),
                           "scores": .list([.int(1), .int(-2)]), "flags": .map([.string("b"): .bool(false), .string("a"): .int(0)])])
    }

    /// A client registration as `careledger client register` makes it: an Ed25519 key (RFC 8037 §A.2's public key).
    static let sampleClient = RegisterClient(
        clientId: "hospital-b-ehr",
        jwks: Array(#"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"b1"}]}"#.utf8),
        scopes: ["system/*.rs", "system/Patient.r"])

    static let golden = Repository.root.appendingPathComponent("Tests/LedgerTests/golden-ledger-encoding.json")

    /// Every sample's bytes and hash are exactly the recorded ones (docs/ledger-encoding.md), and each decodes back
    /// to itself. A change here is a change of the chain's format.
    @Test func goldenVectors() throws {
        let recorded = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: Self.golden)) as? [String: [String: String]])
        let samples = try Self.samples()
        for s in samples {
            let expected = try #require(recorded[s.name], "\(s.name) is in the golden file")
            #expect(Hex.encode(s.bytes) == expected["encoding"], "\(s.name) encoding")
            #expect(Hex.encode(s.hash) == expected["sha256"], "\(s.name) hash")
        }
        #expect(recorded.count == samples.count)
        print("ledger encoding: \(samples.count) golden vectors match")
    }

    @Test func samplesRoundTripAndSignaturesHold() throws {
        let alice = try SigningKey(seed: [UInt8](repeating: 1, count: 32))
        for s in try Self.samples() where s.name.hasPrefix("tx/") {
            let tx = try Transaction(encoded: s.bytes)
            #expect(tx.encoded == s.bytes)
            // The hash a decoded transaction carries (of the bytes read) is the one of its encoding, and a change
            // to any field changes it.
            #expect(tx.hash == s.hash)
            #expect(Transaction(signer: tx.signer, nonce: tx.nonce, body: tx.body, signature: tx.signature).hash == s.hash)
            #expect(tx.signer == alice.publicKey)
            #expect(tx.verifySignature(chainId: Self.chainId))
            #expect(!tx.verifySignature(chainId: Self.chainId + "-other"), "a transaction is bound to its chain")
            var replayed = tx
            replayed.nonce += 1
            #expect(!replayed.verifySignature(chainId: Self.chainId), "the nonce is signed")
            #expect(replayed.hash == Array(SHA256.hash(data: replayed.encoded)) && replayed.hash != tx.hash)
            // Any flipped bit of the encoding either fails to decode or fails the signature.
            for i in stride(from: 0, to: s.bytes.count * 8, by: 7) {
                var b = s.bytes
                b[i / 8] ^= UInt8(1 << (i % 8))
                if let t = try? Transaction(encoded: b) { #expect(!t.verifySignature(chainId: Self.chainId), "\(s.name) bit \(i)") }
            }
        }
    }

    @Test func commitCertificatesNeedMoreThanTwoThirds() throws {
        let keys = try (1...4).map { try SigningKey(seed: [UInt8](repeating: UInt8($0), count: 32)) }
        // Powers 1, 1, 1, 3: total 6; more than 2/3 needs 5.
        let set = ValidatorSet(zip(keys, [1, 1, 1, 3] as [UInt64]).map { Validator(key: $0.0.publicKey, power: $0.1) })
        let blockId = Array(SHA256.hash(data: [1]))
        func certificate(_ signers: [Int]) throws -> CommitCertificate {
            let message = voteSignBytes(chainId: "c", kind: .precommit, height: 5, round: 1, blockId: blockId)
            return CommitCertificate(height: 5, round: 1, blockId: blockId, signatures: try signers.map {
                CommitSignature(validator: keys[$0].publicKey, signature: try keys[$0].sign(message))
            })
        }
        #expect(try certificate([3, 0, 1]).problem(chainId: "c", validators: set) == nil, "5 of 6")
        #expect(try certificate([3, 0]).problem(chainId: "c", validators: set) != nil, "4 of 6 is exactly 2/3: not enough")
        #expect(try certificate([0, 1, 2]).problem(chainId: "c", validators: set) != nil, "3 of 6")
        #expect(try certificate([3, 0, 1]).problem(chainId: "other", validators: set) != nil, "another chain's votes")
        var twice = try certificate([3, 0, 1])
        twice.signatures.append(twice.signatures[0])
        #expect(twice.problem(chainId: "c", validators: set) != nil, "a validator counted twice")
    }

    /// Found by the ledger-decode fuzz target (issue 16): a certificate whose signatures were out of order decoded,
    /// and the initializer's sorting gave it another encoding. One value, one encoding: the decoder refuses it.
    @Test func commitSignaturesOutOfOrderOrTwiceAreRefused() throws {
        let keys = try (1...3).map { try SigningKey(seed: [UInt8](repeating: UInt8($0), count: 32)) }
        let blockId = Array(SHA256.hash(data: [2]))
        let message = voteSignBytes(chainId: "c", kind: .precommit, height: 9, round: 0, blockId: blockId)
        let signatures = try keys.map { CommitSignature(validator: $0.publicKey, signature: try $0.sign(message)) }
        let sorted = CommitCertificate(height: 9, round: 0, blockId: blockId, signatures: signatures)
        #expect(try CommitCertificate(encoded: sorted.encoded) == sorted)

        func encoding(_ order: [CommitSignature]) -> [UInt8] {
            var w = LedgerWriter()
            w.u64(9)
            w.u32(0)
            w.fixed(blockId)
            w.list(order) { $0.value($1) }
            return w.bytes
        }
        #expect(encoding(sorted.signatures) == sorted.encoded)
        let swapped = encoding([sorted.signatures[1], sorted.signatures[0], sorted.signatures[2]])
        let error = #expect(throws: LedgerDecodingError.self) { try CommitCertificate(encoded: swapped) }
        #expect(error?.reason.contains("increasing validator order") == true)
        #expect(error?.offset == 8 + 4 + 32 + 4 + 96)
        #expect(throws: LedgerDecodingError.self) {
            try CommitCertificate(encoded: encoding([sorted.signatures[0], sorted.signatures[0], sorted.signatures[1]]))
        }
        // The same through a block's last commit, where the fuzzer found it.
        let header = BlockHeader(chainId: "c", height: 10, time: 0, previousBlockId: blockId, transactionsRoot: Block.transactionsRoot([]),
                                 stateRoot: blockId, validatorsHash: blockId, nextValidatorsHash: blockId, proposer: keys[0].publicKey)
        var block = Block(header: header, transactions: [], lastCommit: sorted).encoded
        block.replaceSubrange((block.count - swapped.count)..., with: swapped)
        #expect(throws: LedgerDecodingError.self) { try Block(encoded: block) }
    }
}
