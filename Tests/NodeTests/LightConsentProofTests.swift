import Crypto
import Foundation
import Ledger
import Node
import Testing
import TestSupport

/// Consent proofs made on a chain whose validators changed (TurnoverChain): they carry a light path from the genesis
/// validators, as receipts do, and `careledger-consent-proof/2` when they do.
@Suite("Consent proofs across validator-set changes (light client)", .timeLimit(.minutes(5)))
struct LightConsentProofTests {
    static let reason = "http://terminology.hl7.org/CodeSystem/v3-ActReason|"
    static let restricted = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality|R"
    static let partner = "http://example.org/ids|partner-hospital-b"
    static let patient = PatientPseudonym.derive(consortiumKey: [UInt8](repeating: 5, count: 32), system: "urn:oid:2.16.840.1.113883.4.7.1",
                                                 value: "MRN-LIGHT-1")
    static let directiveId = Array(SHA256.hash(data: Array("light-consent-1".utf8)))
    /// The members a proof had before light paths (careledger-consent-proof/1).
    static let formatOneMembers: Set<String> = ["answer", "chainId", "commit", "consentEntries", "format", "header", "patientEntry", "query", "response"]

    /// A grant for TREAT with restricted data withheld: a TREAT query is permitted with a REDACT obligation.
    static var directive: ConsentDirective {
        ConsentDirective(action: .grant, directiveId: directiveId, patient: patient, grantees: [], categories: [ConsentQuery.patientPrivacy],
                         issued: 1_700_000_000_000,
                         provision: Provision(kind: .permit, purposes: [reason + "TREAT"], provisions: [Provision(kind: .deny, securityLabels: [restricted])]),
                         consentCommitment: Array(SHA256.hash(data: Array("the stored Consent".utf8))))
    }

    static func query(_ purpose: String, patient: [UInt8] = patient, at: Int64) -> ConsentQuery {
        ConsentQuery(patient: patient, actors: [partner], purposes: [reason + purpose], at: at)
    }

    /// The proof of `query` at the chain's provable tip, with the light path `consent query --prove` attaches.
    static func proof(_ query: (Int64) -> ConsentQuery, on chain: Chain) async throws -> ConsentProof {
        let tip = try #require(await chain.provableTip)
        let header = tip.block.block.header
        let light = try await ReceiptBuilder.lightEvidence(to: header.height, in: chain)
        return try ConsentProof.make(state: tip.state, query: query(header.time), header: header, commit: tip.block.commit,
                                     lightPath: light.lightPath, validators: light.validators)
    }

    /// The first check `proof` fails against the genesis validators, or nil when it verifies.
    static func failure(_ proof: ConsentProof, _ t: TurnoverChain, trusting validators: ValidatorSet? = nil) -> Receipt.Failure? {
        do throws(Receipt.Failure) {
            _ = try proof.verify(chainId: TurnoverChain.chainId, validators: validators ?? t.set(0...2))
            return nil
        } catch {
            return error
        }
    }

    /// The JSON object of an encoded proof.
    static func object(_ data: Data) throws -> [String: Any] { try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any]) }

    /// Why `ConsentJSON.decode` refuses `object`, or nil when it reads it.
    static func decodeError(_ object: [String: Any]) throws -> String? { try decodeFailure(object).map { "\($0)" } }

    /// The error `ConsentJSON.decode` refuses `object` with (its JSON pointer, reason), or nil when it reads it.
    static func decodeFailure(_ object: [String: Any]) throws -> ReceiptDecodingError? {
        let data = try JSONSerialization.data(withJSONObject: object)
        do throws(ReceiptDecodingError) {
            _ = try ConsentJSON.decode(data)
            return nil
        } catch {
            return error
        }
    }

    /// A directive granted by k6 (a validator that joined last) at block 14 and proven at block 15, after the genesis
    /// validators all left: the proof carries the path genesis → 3 → 7 → 11, verifies from the genesis set alone with
    /// the expected decision, and fails without its path, with a path element removed, swapped or forged, or from
    /// another trust root.
    @Test func aProofMadeAfterTheGenesisSetLeftVerifiesFromTheGenesis() async throws {
        var t = try await TurnoverChain.open()
        defer { t.remove() }
        try await t.turnOver()
        try await t.send(.consentDirective(Self.directive), by: 6)
        try await t.commitBlock()                                  // 14: the directive
        try await t.commitBlock()                                  // 15: its header commits to the state with it

        let proof = try await Self.proof({ Self.query("TREAT", at: $0) }, on: t.chain)
        #expect(proof.header.height == 15)
        // Bisection: 15 and the pivot 7 hold too little genesis trust, 3 verifies; 7 from 3; 15 from 7 fails (exactly
        // 1/3), the pivot 11 verifies, then 15 from 11.
        #expect(proof.lightPath.map(\.header.height) == [3, 7, 11])
        #expect(proof.validators == t.set(4...6))
        let genesis = t.set(0...2)
        let answer = try proof.verify(chainId: TurnoverChain.chainId, validators: genesis)
        #expect(answer == ConsentAnswer(decision: .permit, obligations: [RedactObligation(labels: [Self.restricted], classes: [], codes: [])],
                                        basedOn: [Self.directiveId]))
        #expect(answer == proof.answer)
        // Other answers at the same block, through the same path: no consent for marketing; a patient without
        // directives, proven absent.
        let marketing = try await Self.proof({ Self.query("HMARKT", at: $0) }, on: t.chain)
        #expect(try marketing.verify(chainId: TurnoverChain.chainId, validators: genesis).decision == .noConsent)
        let stranger = try await Self.proof({ Self.query("TREAT", patient: [UInt8](repeating: 9, count: 32), at: $0) }, on: t.chain)
        #expect(stranger.patient.value == nil && stranger.consents.isEmpty)
        #expect(try stranger.verify(chainId: TurnoverChain.chainId, validators: genesis) == ConsentAnswer(decision: .noConsent, obligations: [], basedOn: []))

        // Without the path, or the old check against the genesis set alone: refused.
        var bare = proof
        bare.lightPath = []
        #expect(Self.failure(bare, t)?.check == "commit")
        bare.validators = nil
        #expect(Self.failure(bare, t)?.check == "commit")
        // Any one path element left out.
        for n in proof.lightPath.indices {
            var shorter = proof
            shorter.lightPath.remove(at: n)
            let check = Self.failure(shorter, t)?.check
            #expect(check == "light path" || check == "commit", "without path element \(n): \(String(describing: check))")
        }
        // Path elements swapped, and a block repeated.
        var swapped = proof
        swapped.lightPath.swapAt(0, 1)
        #expect(Self.failure(swapped, t)?.check == "light path")
        var repeated = proof
        repeated.lightPath.insert(proof.lightPath[1], at: 1)
        #expect(Self.failure(repeated, t)?.check == "light path")
        // Forged path elements: another header (its commit then certifies another block), a set that did not sign
        // it, a next set that is not the one the header names (what the following step trusts).
        var forgedHeader = proof
        forgedHeader.lightPath[0].header.stateRoot = [UInt8](repeating: 0xAB, count: 32)
        #expect(Self.failure(forgedHeader, t)?.check == "light path")
        var forgedSet = proof
        forgedSet.lightPath[1].validators = t.set(1...3)
        #expect(Self.failure(forgedSet, t)?.check == "light path")
        var forgedNext = proof
        forgedNext.lightPath[2].nextValidators = t.set(3...5)
        #expect(Self.failure(forgedNext, t)?.check == "light path")
        var forgedSignature = proof
        forgedSignature.lightPath[2].commit.signatures[0].signature[5] ^= 0x10
        #expect(Self.failure(forgedSignature, t)?.check == "light path")
        // A forged set for the proof's block: k6 alone with all the power (k6 signed block 15).
        var forged = proof
        forged.validators = ValidatorSet([Validator(key: t.keys[6].publicKey, power: 1_000)])
        #expect(Self.failure(forged, t)?.check == "commit")
        // Another trust root than the genesis validators (here the set that signed the block).
        #expect(Self.failure(proof, t, trusting: t.set(4...6))?.check == "light path")
        // Past the light client, the entries and the answer are checked as before.
        var denied = proof
        denied.answer.decision = .deny
        #expect(Self.failure(denied, t)?.check == "answer")
        var otherPatient = proof
        otherPatient.query.patient = [UInt8](repeating: 9, count: 32)
        #expect(Self.failure(otherPatient, t)?.check == "patient")
    }

    /// Through JSON, as `careledger verify` reads it: careledger-consent-proof/2 with `lightPath` and `validators`
    /// (in the receipt's form), the same proof back, and strict decoding that names the member at fault.
    @Test func aLightProofRoundTripsThroughJSON() async throws {
        var t = try await TurnoverChain.open()
        defer { t.remove() }
        try await t.turnOver()
        try await t.send(.consentDirective(Self.directive), by: 5)
        try await t.commitBlock()                                  // 14
        try await t.commitBlock()                                  // 15
        let proof = try await Self.proof({ Self.query("TREAT", at: $0) }, on: t.chain)
        #expect(proof.lightPath.count == 3)

        let data = try ConsentJSON.encode(proof)
        let object = try Self.object(data)
        #expect(object["format"] as? String == ConsentJSON.proofLightFormat)
        #expect(ConsentJSON.formatName(for: proof) == "careledger-consent-proof/2")
        #expect(Set(object.keys) == Self.formatOneMembers.union(["lightPath", "validators"]))
        let path = try #require(object["lightPath"] as? [[String: Any]])
        #expect(path.count == 3)
        #expect(path.allSatisfy { Set($0.keys) == ["header", "commit", "validators", "nextValidators"] })
        let first = try #require(path.first?["header"] as? [String: Any])
        #expect(first["height"] as? Int == 3)
        #expect((object["validators"] as? [[String: Any]])?.count == 3)
        let decoded = try ConsentJSON.decode(data)
        #expect(decoded == proof)
        #expect(try decoded.verify(chainId: TurnoverChain.chainId, validators: t.set(0...2)).decision == .permit)
        #expect(ConsentJSON.responseMatches(data, decoded))
        // Encoding is deterministic: the decoded proof writes the same bytes.
        #expect(try ConsentJSON.encode(decoded) == data)

        // Strict: /2 without its path; a malformed member deep in the path; a malformed block set; /1 carrying either.
        var noPath = object
        noPath.removeValue(forKey: "lightPath")
        let missing = try Self.decodeFailure(noPath)
        #expect(missing?.code == .member && missing?.pointer == "/lightPath" && missing?.reason == "is missing", "\(String(describing: missing))")
        var badRound = object
        var elements = path
        var commit = try #require(elements[1]["commit"] as? [String: Any])
        commit["round"] = "zero"
        elements[1]["commit"] = commit
        badRound["lightPath"] = elements
        let round = try Self.decodeFailure(badRound)
        #expect(round?.pointer == "/lightPath/1/commit/round" && round?.reason == "is not an integer (found a string)", "\(String(describing: round))")
        var badKey = object
        elements = path
        var next = try #require(elements[2]["nextValidators"] as? [[String: Any]])
        next[0]["key"] = "not base64!"
        elements[2]["nextValidators"] = next
        badKey["lightPath"] = elements
        let key = try Self.decodeFailure(badKey)
        #expect(key?.pointer == "/lightPath/2/nextValidators/0/key" && key?.reason.hasPrefix("is not an Ed25519 public key") == true, "\(String(describing: key))")
        var badSet = object
        badSet["validators"] = "k4 k5 k6"
        let set = try Self.decodeFailure(badSet)
        #expect(set?.pointer == "/validators" && set?.reason == "is not an array (found a string)", "\(String(describing: set))")
        var oldWithPath = object
        oldWithPath["format"] = ConsentJSON.proofFormat
        let oldError = try #require(try Self.decodeError(oldWithPath))
        #expect(oldError.contains("lightPath") && oldError.contains(ConsentJSON.proofLightFormat), "\(oldError)")
        var unknown = object
        unknown["format"] = "careledger-consent-proof/3"
        let format = try #require(try Self.decodeFailure(unknown))
        #expect(format.pointer == "/format" && "\(format)".hasSuffix("is \"careledger-consent-proof/3\"; expected careledger-consent-proof/1 or careledger-consent-proof/2"),
                "\(format)")
        // Without its path the same proof is written as /1 again (and then fails verification on "commit").
        var bare = proof
        bare.lightPath = []
        bare.validators = nil
        let bareObject = try Self.object(try ConsentJSON.encode(bare))
        #expect(bareObject["format"] as? String == ConsentJSON.proofFormat)
        #expect(Set(bareObject.keys) == Self.formatOneMembers)
    }

    /// On a chain whose genesis set never changed, a proof carries no path and stays careledger-consent-proof/1 with
    /// exactly the old members; it verifies against the genesis validators as before, and a bad commit still fails
    /// on "commit".
    @Test func aProofSignedByTheGenesisSetKeepsTheOldFormat() async throws {
        var t = try await TurnoverChain.open()
        defer { t.remove() }
        try await t.send(.consentDirective(Self.directive), by: 0)
        try await t.commitBlock()                                  // 1
        try await t.commitBlock()                                  // 2
        let proof = try await Self.proof({ Self.query("TREAT", at: $0) }, on: t.chain)
        #expect(proof.header.height == 2)
        #expect(proof.lightPath.isEmpty && proof.validators == nil)
        let genesis = t.set(0...2)
        #expect(try proof.verify(chainId: TurnoverChain.chainId, validators: genesis).decision == .permit)

        let data = try ConsentJSON.encode(proof)
        let object = try Self.object(data)
        #expect(object["format"] as? String == "careledger-consent-proof/1")
        #expect(Set(object.keys) == Self.formatOneMembers)
        // The old members, in the old form: header and commit as their ledger encodings, base64.
        #expect(object["header"] as? String == Base64.encode(proof.header.encoded))
        #expect(object["commit"] as? String == Base64.encode(proof.commit.encoded))
        let decoded = try ConsentJSON.decode(data)
        #expect(decoded == proof)
        #expect(try ConsentJSON.encode(decoded) == data)

        // The commit check against the genesis set, as before the light path: a bad signature, a commit for another
        // block, too few signers, a signer outside the set.
        var badSignature = proof
        badSignature.commit.signatures[0].signature[0] ^= 0x01
        #expect(Self.failure(badSignature, t)?.check == "commit")
        var otherBlock = proof
        otherBlock.commit.blockId = [UInt8](repeating: 7, count: 32)
        #expect(Self.failure(otherBlock, t)?.check == "commit")
        var fewer = proof
        fewer.commit.signatures.removeLast(2)
        #expect(Self.failure(fewer, t)?.check == "commit")
        var stranger = proof
        let vote = voteSignBytes(chainId: TurnoverChain.chainId, kind: .precommit, height: proof.commit.height, round: proof.commit.round,
                                 blockId: proof.commit.blockId)
        stranger.commit.signatures[0] = CommitSignature(validator: t.keys[6].publicKey, signature: try t.keys[6].sign(vote))
        #expect(Self.failure(stranger, t)?.check == "commit")
        // Another chain id: "chain", first.
        do throws(Receipt.Failure) {
            _ = try proof.verify(chainId: "other-chain", validators: genesis)
            Issue.record("a proof for another chain was accepted")
        } catch {
            #expect(error.check == "chain" && error.reason == "the header is for chain \(TurnoverChain.chainId), not other-chain")
        }
    }

    /// A block signed by a set that is not the genesis set but that the genesis validators can be trusted for
    /// directly (k1–k3 hold 2/3 of the genesis power): no intermediate block, only the block's own set, /2.
    @Test func aDirectJumpCarriesOnlyTheSigningSet() async throws {
        var t = try await TurnoverChain.open()
        defer { t.remove() }
        try await t.send(.consentDirective(Self.directive), by: 0)
        try await t.send(.registerParticipant(RegisterParticipant(name: "Hospital 3", nodeKey: t.keys[3].publicKey)), by: 3)
        try await t.send(.bond(amount: 10), by: 3)
        try await t.send(.unbond(amount: 10), by: 0)
        for _ in 0..<4 { try await t.commitBlock() }              // the change in 1, in effect from 3; the tip is 4
        #expect(await t.chain.validatorSet(at: 4) == t.set(1...3))
        let proof = try await Self.proof({ Self.query("TREAT", at: $0) }, on: t.chain)
        #expect(proof.header.height == 4)
        #expect(proof.lightPath.isEmpty && proof.validators == t.set(1...3))
        #expect(try proof.verify(chainId: TurnoverChain.chainId, validators: t.set(0...2)).decision == .permit)
        // Without the block's set, the verifier takes the genesis set, whose hash is not the header's.
        var bare = proof
        bare.validators = nil
        #expect(Self.failure(bare, t)?.check == "commit")

        let data = try ConsentJSON.encode(proof)
        let object = try Self.object(data)
        #expect(object["format"] as? String == ConsentJSON.proofLightFormat)
        #expect((object["lightPath"] as? [Any])?.isEmpty == true)
        #expect(try ConsentJSON.decode(data) == proof)
    }
}
