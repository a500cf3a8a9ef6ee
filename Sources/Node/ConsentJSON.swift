public import Foundation
public import Ledger

/// Consent answers as JSON: the CDS Hooks `patient-consent-consult` response (one card whose `extension` carries
/// the decision and obligations, as LEAP's consent decision service answers) with where on the chain it was
/// evaluated; and consent proofs for `careledger verify` (docs/node.md): `careledger-consent-proof/1`, or
/// `careledger-consent-proof/2` when the proof carries a light path across validator-set changes (the `lightPath`
/// member and the `validators` that signed its block, as `careledger-receipt/2` writes them).
public enum ConsentJSON {
    /// A proof whose block the genesis validators signed.
    public static let proofFormat = "careledger-consent-proof/1"
    /// A proof with a light path (possibly empty) and the validator set that signed its block.
    public static let proofLightFormat = "careledger-consent-proof/2"
    /// The formats `decode` reads.
    public static let proofFormats: Set<String> = [proofFormat, proofLightFormat]

    /// The format `p` is written in: /2 only when it carries a light path or its block's validators, so a proof
    /// without them is byte for byte what /1 always was.
    public static func formatName(for p: ConsentProof) -> String { p.lightPath.isEmpty && p.validators == nil ? proofFormat : proofLightFormat }
    static let actCode = "http://terminology.hl7.org/CodeSystem/v3-ActCode"

    /// The CDS Hooks response for `answer`, evaluated at `header` (its height, time and state root).
    public static func response(_ answer: ConsentAnswer, header: BlockHeader) -> [String: Any] {
        let obligations: [[String: Any]] = answer.obligations.map { o in
            var parameters: [String: Any] = [:]
            if !o.labels.isEmpty { parameters["codes"] = o.labels.map(coding) }
            if !o.codes.isEmpty { parameters["codes"] = ((parameters["codes"] as? [[String: String]]) ?? []) + o.codes.map(coding) }
            if !o.classes.isEmpty { parameters["classes"] = o.classes }
            return ["id": ["system": actCode, "code": "REDACT"], "parameters": parameters]
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
            "summary": summary,
            "indicator": answer.decision == .permit ? "info" : "warning",
            "source": ["label": "CareLedger consent ledger", "topic": ["code": answer.decision.rawValue]],
            "extension": extensionObject,
        ]
        return ["cards": [card]]
    }

    /// "system|code" as a Coding object.
    static func coding(_ s: String) -> [String: String] {
        guard let bar = s.firstIndex(of: "|") else { return ["code": s] }
        let system = String(s[..<bar])
        let code = String(s[s.index(after: bar)...])
        return system.isEmpty ? ["code": code] : ["system": system, "code": code]
    }

    // MARK: Proofs

    public static func encode(_ p: ConsentProof) throws -> Data {
        func entry(_ e: ConsentProof.Entry) -> [String: Any] {
            var o: [String: Any] = ["key": Base64.encode(e.key), "proof": Base64.encode(e.proof.encoded())]
            if let v = e.value { o["value"] = Base64.encode(v) }
            return o
        }
        let q = p.query
        var object: [String: Any] = [
            "format": formatName(for: p),
            "chainId": p.header.chainId,
            "query": [
                "patient": Ledger.Hex.encode(q.patient), "actors": q.actors, "purposes": q.purposes, "category": q.category,
                "classes": q.classes, "labels": q.labels, "codes": q.codes, "at": q.at,
            ] as [String: Any],
            "response": response(p.answer, header: p.header),
            "answer": [
                "decision": p.answer.decision.rawValue,
                "obligations": p.answer.obligations.map { ["labels": $0.labels, "classes": $0.classes, "codes": $0.codes] },
                "basedOn": p.answer.basedOn.map(Ledger.Hex.encode),
            ] as [String: Any],
            "header": Base64.encode(p.header.encoded),
            "commit": Base64.encode(p.commit.encoded),
            "patientEntry": entry(p.patient),
            "consentEntries": p.consents.map(entry),
        ]
        if formatName(for: p) == proofLightFormat {
            object["lightPath"] = p.lightPath.map(LightJSON.lightBlock)
            if let validators = p.validators { object["validators"] = LightJSON.validatorSet(validators) }
        }
        return try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes])
    }

    /// Reads a proof, /1 or /2; the error names the member that is missing or malformed. A /1 proof carrying
    /// `lightPath` or `validators` is refused, and so is a /2 proof without `lightPath`.
    public static func decode(_ data: Data) throws -> ConsentProof {
        guard let o = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { throw NodeError("the consent proof is not a JSON object") }
        let version = o["format"] as? String
        guard version == proofFormat || version == proofLightFormat else { throw NodeError("format: expected \(proofFormat) or \(proofLightFormat)") }
        func b64(_ v: Any?, _ name: String) throws -> [UInt8] {
            guard let s = v as? String, let b = Base64.decode(s) else { throw NodeError("\(name): expected base64") }
            return b
        }
        func strings(_ v: Any?, _ name: String) throws -> [String] {
            guard let a = v as? [String] else { throw NodeError("\(name): expected an array of strings") }
            return a
        }
        func entry(_ v: Any?, _ name: String) throws -> ConsentProof.Entry {
            guard let e = v as? [String: Any] else { throw NodeError("\(name): expected an object") }
            let value = try e["value"].map { try b64($0, name + ".value") }
            return ConsentProof.Entry(key: try b64(e["key"], name + ".key"), value: value,
                                      proof: try SparseMerkleProof(encoded: try b64(e["proof"], name + ".proof")))
        }
        guard let q = o["query"] as? [String: Any], let patient = (q["patient"] as? String).flatMap(Ledger.Hex.decode),
              let category = q["category"] as? String, let at = (q["at"] as? NSNumber)?.int64Value else {
            throw NodeError("query: expected patient (hex), category and at")
        }
        let query = ConsentQuery(patient: patient, actors: try strings(q["actors"], "query.actors"), purposes: try strings(q["purposes"], "query.purposes"),
                                 category: category, classes: try strings(q["classes"], "query.classes"), labels: try strings(q["labels"], "query.labels"),
                                 codes: try strings(q["codes"], "query.codes"), at: at)
        let header = try BlockHeader(encoded: try b64(o["header"], "header"))
        let commit = try CommitCertificate(encoded: try b64(o["commit"], "commit"))
        guard let consents = o["consentEntries"] as? [Any] else { throw NodeError("consentEntries: expected an array") }
        let answer = try answerFrom(o["answer"])
        var lightPath: [LightBlock] = []
        var validators: ValidatorSet?
        if version == proofLightFormat {
            let r = LightJSON.Reader(subject: "consent proof")
            if o["validators"] != nil { validators = try r.validators(o, "validators") }
            lightPath = try r.lightPath(o, "lightPath")
        } else {
            guard o["validators"] == nil, o["lightPath"] == nil else {
                throw NodeError("a \(proofFormat) consent proof carries no lightPath or validators; those are \(proofLightFormat)")
            }
        }
        return ConsentProof(query: query, answer: answer, header: header, commit: commit, patient: try entry(o["patientEntry"], "patientEntry"),
                            consents: try consents.enumerated().map { try entry($1, "consentEntries[\($0)]") }, lightPath: lightPath, validators: validators)
    }

    /// The answer the proof claims, exactly (`answer`; the `response` card is its rendering).
    static func answerFrom(_ v: Any?) throws -> ConsentAnswer {
        guard let a = v as? [String: Any], let decision = (a["decision"] as? String).flatMap(ConsentDecision.init(rawValue:)),
              let obligations = a["obligations"] as? [[String: Any]], let basedOn = a["basedOn"] as? [String] else {
            throw NodeError("answer: expected decision, obligations and basedOn")
        }
        return ConsentAnswer(decision: decision,
                             obligations: obligations.map { RedactObligation(labels: $0["labels"] as? [String] ?? [], classes: $0["classes"] as? [String] ?? [],
                                                                             codes: $0["codes"] as? [String] ?? []) },
                             basedOn: try basedOn.map { guard let b = Ledger.Hex.decode($0) else { throw NodeError("answer.basedOn: expected hex") }; return b })
    }

    /// Whether the proof's `response` card is the rendering of its answer (so what a reader sees is what was proven).
    public static func responseMatches(_ data: Data, _ p: ConsentProof) -> Bool {
        guard let o = try? JSONSerialization.jsonObject(with: data) as? [String: Any], let claimed = o["response"] else { return false }
        let expected = response(p.answer, header: p.header)
        let a = try? JSONSerialization.data(withJSONObject: claimed, options: [.sortedKeys])
        let b = try? JSONSerialization.data(withJSONObject: expected, options: [.sortedKeys])
        return a != nil && a == b
    }
}
