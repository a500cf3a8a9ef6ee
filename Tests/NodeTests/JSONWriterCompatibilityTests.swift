import Crypto
import Foundation
import Ledger
import Node
import Testing
import TestSupport

/// Receipts, consent proofs and the CDS Hooks consent response are written from `Codable` types since issue 17; the
/// bytes must be what the `JSONSerialization` writers of issues 5–16 produced, so receipts already handed out stay
/// byte for byte what a fresh one is. The former writers are kept here, as they were, as the oracle.
@Suite("Receipt and consent proof JSON: the Codable writers give the former bytes")
struct JSONWriterCompatibilityTests {
    static let options: JSONSerialization.WritingOptions = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]

    // MARK: The former writers (issue 16), the oracle

    static func header(_ h: BlockHeader) -> [String: Any] {
        ["chainId": h.chainId, "height": h.height, "time": h.time, "previousBlockId": Base64.encode(h.previousBlockId),
         "transactionsRoot": Base64.encode(h.transactionsRoot), "stateRoot": Base64.encode(h.stateRoot),
         "validatorsHash": Base64.encode(h.validatorsHash), "nextValidatorsHash": Base64.encode(h.nextValidatorsHash),
         "proposer": Base64.encode(h.proposer.bytes), "id": Base64.encode(h.id)]
    }

    static func commit(_ c: CommitCertificate) -> [String: Any] {
        ["height": c.height, "round": c.round, "blockId": Base64.encode(c.blockId),
         "signatures": c.signatures.map { ["validator": Base64.encode($0.validator.bytes), "signature": Base64.encode($0.signature)] }]
    }

    static func validatorSet(_ set: ValidatorSet) -> [[String: Any]] {
        set.validators.map { ["key": Base64.encode($0.key.bytes), "power": $0.power] }
    }

    static func lightBlock(_ b: LightBlock) -> [String: Any] {
        ["header": header(b.header), "commit": commit(b.commit), "validators": validatorSet(b.validators), "nextValidators": validatorSet(b.nextValidators)]
    }

    static func formerReceipt(_ r: Receipt) throws -> Data {
        var block: [String: Any] = ["header": header(r.header), "commit": commit(r.commit)]
        if let validators = r.validators { block["validators"] = validatorSet(validators) }
        var o: [String: Any] = [
            "format": ReceiptJSON.formatName(for: r),
            "chainId": r.chainId,
            "record": ["reference": r.reference, "canonicalHash": Hex.encode(r.canonicalHash), "salt": Base64.encode(r.salt)],
            "leaf": ["commitment": Base64.encode(r.commitment), "index": r.leafIndex, "treeSize": r.treeSize],
            "inclusionProof": r.inclusionProof.map(Base64.encode),
            "batchRoot": Base64.encode(r.batchRoot),
            "anchor": ["transaction": Base64.encode(r.anchorTransaction), "index": r.transactionIndex, "count": r.transactionCount,
                       "proof": r.transactionProof.map(Base64.encode)],
            "manifestProof": r.manifestProof.map(Base64.encode),
            "block": block,
            "checkpoint": r.checkpoint,
            "checkpointKeyName": r.checkpointKeyName,
        ]
        if ReceiptJSON.formatName(for: r) == ReceiptJSON.lightFormat { o["lightPath"] = r.lightPath.map(lightBlock) }
        return try JSONSerialization.data(withJSONObject: o, options: options)
    }

    static func coding(_ s: String) -> [String: String] {
        guard let bar = s.firstIndex(of: "|") else { return ["code": s] }
        let system = String(s[..<bar])
        let code = String(s[s.index(after: bar)...])
        return system.isEmpty ? ["code": code] : ["system": system, "code": code]
    }

    static func formerResponse(_ answer: ConsentAnswer, header: BlockHeader) -> [String: Any] {
        let obligations: [[String: Any]] = answer.obligations.map { o in
            var parameters: [String: Any] = [:]
            if !o.labels.isEmpty { parameters["codes"] = o.labels.map(coding) }
            if !o.codes.isEmpty { parameters["codes"] = ((parameters["codes"] as? [[String: String]]) ?? []) + o.codes.map(coding) }
            if !o.classes.isEmpty { parameters["classes"] = o.classes }
            return ["id": ["system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "REDACT"], "parameters": parameters]
        }
        let extensionObject: [String: Any] = [
            "decision": answer.decision.rawValue,
            "obligations": obligations,
            "basedOn": answer.basedOn.map { "directive/" + Ledger.Hex.encode($0) },
            "evaluatedAt": ["chainId": header.chainId, "height": header.height, "time": header.time, "stateRoot": Ledger.Hex.encode(header.stateRoot)] as [String: Any],
        ]
        let summary: String
        switch answer.decision {
        case .permit: summary = answer.obligations.isEmpty ? "Consent permits the request" : "Consent permits the request, with data withheld"
        case .deny: summary = "Consent denies the request"
        case .noConsent: summary = "No consent in force applies to the request"
        }
        let card: [String: Any] = [
            "summary": summary, "indicator": answer.decision == .permit ? "info" : "warning",
            "source": ["label": "CareLedger consent ledger", "topic": ["code": answer.decision.rawValue]],
            "extension": extensionObject,
        ]
        return ["cards": [card]]
    }

    static func formerProof(_ p: ConsentProof) throws -> Data {
        func entry(_ e: ConsentProof.Entry) -> [String: Any] {
            var o: [String: Any] = ["key": Base64.encode(e.key), "proof": Base64.encode(e.proof.encoded())]
            if let v = e.value { o["value"] = Base64.encode(v) }
            return o
        }
        let q = p.query
        var object: [String: Any] = [
            "format": ConsentJSON.formatName(for: p),
            "chainId": p.header.chainId,
            "query": ["patient": Ledger.Hex.encode(q.patient), "actors": q.actors, "purposes": q.purposes, "category": q.category,
                      "classes": q.classes, "labels": q.labels, "codes": q.codes, "at": q.at] as [String: Any],
            "response": formerResponse(p.answer, header: p.header),
            "answer": ["decision": p.answer.decision.rawValue,
                       "obligations": p.answer.obligations.map { ["labels": $0.labels, "classes": $0.classes, "codes": $0.codes] },
                       "basedOn": p.answer.basedOn.map(Ledger.Hex.encode)] as [String: Any],
            "header": Base64.encode(p.header.encoded),
            "commit": Base64.encode(p.commit.encoded),
            "patientEntry": entry(p.patient),
            "consentEntries": p.consents.map(entry),
        ]
        if ConsentJSON.formatName(for: p) == ConsentJSON.proofLightFormat {
            object["lightPath"] = p.lightPath.map(lightBlock)
            if let validators = p.validators { object["validators"] = validatorSet(validators) }
        }
        return try JSONSerialization.data(withJSONObject: object, options: options)
    }

    // MARK: The checks

    @Test func receiptsOfBothFormatsKeepTheirBytes() throws {
        let key = try SigningKey(seed: [UInt8](repeating: 21, count: 32))
        for fixture in try SampleChain.anchoredReceipts(chainId: "compat-chain", key: key, records: (0..<3).map { Array(#"{"id":"p\#($0)/x","resourceType":"Patient"}"#.utf8) }) {
            var receipt = fixture.receipt
            #expect(ReceiptJSON.formatName(for: receipt) == ReceiptJSON.format)
            #expect(try ReceiptJSON.encode(receipt) == (try Self.formerReceipt(receipt)))
            // careledger-receipt/2: the block's validators, with and without a light path.
            receipt.validators = fixture.validators
            #expect(try ReceiptJSON.encode(receipt) == (try Self.formerReceipt(receipt)))
            receipt.lightPath = [LightBlock(header: receipt.header, commit: receipt.commit, validators: fixture.validators, nextValidators: fixture.validators)]
            #expect(ReceiptJSON.formatName(for: receipt) == ReceiptJSON.lightFormat)
            #expect(try ReceiptJSON.encode(receipt) == (try Self.formerReceipt(receipt)))
        }
    }

    @Test func consentProofsAndResponsesKeepTheirBytes() async throws {
        let t = try TestChain(chainId: "compat-consent")
        defer { t.remove() }
        let chain = try await t.open()
        let reason = "http://terminology.hl7.org/CodeSystem/v3-ActReason|"
        let patient = PatientPseudonym.derive(consortiumKey: [UInt8](repeating: 5, count: 32), system: "urn:oid:1.2.3", value: "MRN-COMPAT")
        let directive = ConsentDirective(
            action: .grant, directiveId: Array(SHA256.hash(data: Array("compat-consent-1".utf8))), patient: patient, grantees: [],
            categories: [ConsentQuery.patientPrivacy], issued: 1_700_000_000_000,
            provision: Provision(kind: .permit, purposes: [reason + "TREAT"],
                                 provisions: [Provision(kind: .deny, securityLabels: ["http://terminology.hl7.org/CodeSystem/v3-Confidentiality|R"])]),
            consentCommitment: Array(SHA256.hash(data: Array("the stored Consent".utf8))))
        _ = try await chain.submit(.consentDirective(directive))
        try await chain.produceBlock(now: 1_700_000_001_000)
        try await chain.produceBlock(now: 1_700_000_002_000)
        let tip = try #require(await chain.provableTip)
        let header = tip.block.block.header
        for (purpose, actors, codes) in [("TREAT", ["http://example.org/ids|b"], ["http://loinc.org|1234-5"]), ("HMARKT", [], []), ("TREAT", ["Organization/x"], ["bare"])] {
            let query = ConsentQuery(patient: patient, actors: actors, purposes: [reason + purpose], classes: ["Observation"], codes: codes, at: header.time)
            var proof = try ConsentProof.make(state: tip.state, query: query, header: header, commit: tip.block.commit)
            let response = try ConsentJSON.encode(ConsentJSON.response(proof.answer, header: header))
            #expect(response == (try JSONSerialization.data(withJSONObject: Self.formerResponse(proof.answer, header: header), options: Self.options)))
            #expect(try ConsentJSON.encode(proof) == (try Self.formerProof(proof)))
            #expect(ConsentJSON.responseMatches(try ConsentJSON.encode(proof), proof))
            proof.validators = t.genesis.validatorSet
            #expect(ConsentJSON.formatName(for: proof) == ConsentJSON.proofLightFormat)
            #expect(try ConsentJSON.encode(proof) == (try Self.formerProof(proof)))
        }
    }

    /// The response card is compared member for member: one more member, or another decision, is not the proven answer.
    @Test func aResponseCardWithAnExtraMemberDoesNotMatch() async throws {
        let t = try TestChain(chainId: "compat-card")
        defer { t.remove() }
        let chain = try await t.open()
        try await chain.produceBlock(now: 1_700_000_001_000)
        try await chain.produceBlock(now: 1_700_000_002_000)
        let tip = try #require(await chain.provableTip)
        let query = ConsentQuery(patient: [UInt8](repeating: 1, count: 32), actors: [], purposes: [], at: tip.block.block.header.time)
        let proof = try ConsentProof.make(state: tip.state, query: query, header: tip.block.block.header, commit: tip.block.commit)
        let data = try ConsentJSON.encode(proof)
        #expect(ConsentJSON.responseMatches(data, proof))
        var object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        var response = try #require(object["response"] as? [String: Any])
        var cards = try #require(response["cards"] as? [[String: Any]])
        cards[0]["detail"] = "Consent permits everything"
        response["cards"] = cards
        object["response"] = response
        #expect(!ConsentJSON.responseMatches(try JSONSerialization.data(withJSONObject: object), proof))
    }
}
