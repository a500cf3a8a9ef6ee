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
    public static func response(_ answer: ConsentAnswer, header: BlockHeader) -> ConsentResponse {
        let obligations = answer.obligations.map { o in
            let codes = o.labels.map(ConsentResponse.Coding.init) + o.codes.map(ConsentResponse.Coding.init)
            return ConsentResponse.Obligation(id: ConsentResponse.Coding(system: actCode, code: "REDACT"),
                                              parameters: .init(codes: codes.isEmpty ? nil : codes, classes: o.classes.isEmpty ? nil : o.classes))
        }
        let summary = switch answer.decision {
        case .permit: answer.obligations.isEmpty ? "Consent permits the request" : "Consent permits the request, with data withheld"
        case .deny: "Consent denies the request"
        case .noConsent: "No consent in force applies to the request"
        }
        let card = ConsentResponse.Card(
            summary: summary, indicator: answer.decision == .permit ? "info" : "warning",
            source: .init(label: "CareLedger consent ledger", topic: .init(code: answer.decision.rawValue)),
            extension: .init(decision: answer.decision.rawValue, obligations: obligations, basedOn: answer.basedOn.map { "directive/" + Ledger.Hex.encode($0) },
                             evaluatedAt: .init(chainId: header.chainId, height: header.height, time: header.time, stateRoot: Ledger.Hex.encode(header.stateRoot))))
        return ConsentResponse(cards: [card])
    }

    /// The response as `consent query --json` prints it (sorted members, two-space indentation).
    public static func encode(_ response: ConsentResponse) throws -> Data { try LightJSON.encode(response) }

    // MARK: Proofs

    /// A proof's members as written (docs/node.md).
    struct WrittenProof: Encodable {
        struct Query: Encodable {
            var patient: String
            var actors, purposes: [String]
            var category: String
            var classes, labels, codes: [String]
            var at: Int64
        }
        struct Obligation: Encodable {
            var labels, classes, codes: [String]
        }
        struct Answer: Encodable {
            var decision: String
            var obligations: [Obligation]
            var basedOn: [String]
        }
        struct Entry: Encodable {
            var key, proof: String
            var value: String?

            init(_ e: ConsentProof.Entry) {
                key = Base64.encode(e.key)
                proof = Base64.encode(e.proof.encoded())
                value = e.value.map(Base64.encode)
            }
        }

        var format, chainId: String
        var query: Query
        var response: ConsentResponse
        var answer: Answer
        var header, commit: String
        var patientEntry: Entry
        var consentEntries: [Entry]
        /// /2 only.
        var lightPath: [LightJSON.Block]?
        var validators: [LightJSON.Member]?

        init(_ p: ConsentProof) {
            let q = p.query
            format = ConsentJSON.formatName(for: p)
            chainId = p.header.chainId
            query = Query(patient: Ledger.Hex.encode(q.patient), actors: q.actors, purposes: q.purposes, category: q.category, classes: q.classes,
                          labels: q.labels, codes: q.codes, at: q.at)
            response = ConsentJSON.response(p.answer, header: p.header)
            answer = Answer(decision: p.answer.decision.rawValue, obligations: p.answer.obligations.map { Obligation(labels: $0.labels, classes: $0.classes, codes: $0.codes) },
                            basedOn: p.answer.basedOn.map(Ledger.Hex.encode))
            header = Base64.encode(p.header.encoded)
            commit = Base64.encode(p.commit.encoded)
            patientEntry = Entry(p.patient)
            consentEntries = p.consents.map(Entry.init)
            if format == ConsentJSON.proofLightFormat {
                lightPath = p.lightPath.map(LightJSON.Block.init)
                validators = p.validators.map(LightJSON.validatorSet)
            }
        }
    }

    public static func encode(_ p: ConsentProof) throws -> Data {
        try LightJSON.encode(WrittenProof(p))
    }

    static let subject = "consent proof"

    /// Reads a proof, /1 or /2, of at most ``ReceiptLimits/maxBytes``; the error names the member that is missing or
    /// malformed by its JSON pointer, or where the text is truncated or not JSON. A /1 proof carrying `lightPath` or
    /// `validators` is refused, and so is a /2 proof without `lightPath`.
    public static func decode(_ bytes: [UInt8]) throws(ReceiptDecodingError) -> ConsentProof {
        try proof(try JSONMember.document(bytes, subject: subject))
    }

    public static func decode(_ data: Data) throws(ReceiptDecodingError) -> ConsentProof {
        guard data.count <= ReceiptLimits.maxBytes else { throw ReceiptDecodingError.tooLarge(subject: subject) }
        return try decode([UInt8](data))
    }

    /// The proof in `o`, the document's top-level object. The `response` card is not read here: it is the
    /// rendering of `answer` (``responseMatches(_:_:)``).
    static func proof(_ o: JSONMember) throws(ReceiptDecodingError) -> ConsentProof {
        let format = try o.member("format")
        let version = try format.string()
        guard proofFormats.contains(version) else { throw format.fail("is \"\(version)\"; expected \(proofFormat) or \(proofLightFormat)") }
        let q = try o.member("query")
        let terms = ReceiptLimits.maxQueryTerms
        let query = ConsentQuery(patient: try q.member("patient").hex(), actors: try q.member("actors").strings(max: terms),
                                 purposes: try q.member("purposes").strings(max: terms), category: try q.member("category").string(),
                                 classes: try q.member("classes").strings(max: terms), labels: try q.member("labels").strings(max: terms),
                                 codes: try q.member("codes").strings(max: terms), at: try q.member("at").integer(Int64.self))
        let (header, commit) = try LightJSON.headerAndCommit(o)
        let answer = try answer(try o.member("answer"))
        var lightPath: [LightBlock] = []
        var validators: ValidatorSet?
        if version == proofLightFormat {
            if let v = try o.optionalMember("validators") { validators = try LightJSON.validatorSet(v) }
            lightPath = try LightJSON.lightPath(try o.member("lightPath"))
        } else {
            for extra in [try o.optionalMember("lightPath"), try o.optionalMember("validators")] {
                if let extra { throw extra.fail("is not part of \(proofFormat) (a proof with it is \(proofLightFormat))") }
            }
        }
        let patient = try entry(try o.member("patientEntry"))
        var consents: [ConsentProof.Entry] = []
        for e in try o.member("consentEntries").elements(max: ReceiptLimits.maxConsentEntries) { consents.append(try entry(e)) }
        return ConsentProof(query: query, answer: answer, header: header, commit: commit, patient: patient, consents: consents,
                            lightPath: lightPath, validators: validators)
    }

    /// A state entry: `key`, `value` (absent: proven absent) and its sparse Merkle `proof`.
    static func entry(_ e: JSONMember) throws(ReceiptDecodingError) -> ConsentProof.Entry {
        let value = try e.optionalMember("value")?.base64()
        let proofMember = try e.member("proof")
        let proofBytes = try proofMember.base64()
        let proof: SparseMerkleProof
        do throws(SparseMerkleTree.Error) {
            proof = try SparseMerkleProof(encoded: proofBytes)
        } catch {
            throw proofMember.fail("is not an encoded sparse Merkle proof (\(error))")
        }
        return ConsentProof.Entry(key: try e.member("key").base64(), value: value, proof: proof)
    }

    /// The answer the proof claims, exactly (`answer`; the `response` card is its rendering).
    static func answer(_ a: JSONMember) throws(ReceiptDecodingError) -> ConsentAnswer {
        let decisionMember = try a.member("decision")
        let name = try decisionMember.string()
        guard let decision = ConsentDecision(rawValue: name) else {
            throw decisionMember.fail("is \"\(name)\"; expected \(ConsentDecision.permit.rawValue), \(ConsentDecision.deny.rawValue) or \(ConsentDecision.noConsent.rawValue)")
        }
        var obligations: [RedactObligation] = []
        for o in try a.member("obligations").elements(max: ReceiptLimits.maxQueryTerms) {
            obligations.append(RedactObligation(labels: try o.member("labels").strings(max: ReceiptLimits.maxQueryTerms),
                                                classes: try o.member("classes").strings(max: ReceiptLimits.maxQueryTerms),
                                                codes: try o.member("codes").strings(max: ReceiptLimits.maxQueryTerms)))
        }
        return ConsentAnswer(decision: decision, obligations: obligations, basedOn: try a.member("basedOn").hexList(max: ReceiptLimits.maxConsentEntries))
    }

    /// Whether the proof's `response` card is the rendering of its answer (so what a reader sees is what was proven):
    /// the same JSON value, member for member, nothing more.
    public static func responseMatches(_ data: Data, _ p: ConsentProof) -> Bool {
        guard case .object(let members)? = try? JSONSyntax.parse([UInt8](data), subject: subject).kind, let claimed = members["response"],
              let rendered = try? LightJSON.encode(response(p.answer, header: p.header)),
              let expected = try? JSONSyntax.parse([UInt8](rendered), subject: subject) else { return false }
        return claimed.sameValue(as: expected)
    }
}

extension JSONValue {
    /// The same JSON value: the same members with the same values (in any order), the same elements in order;
    /// where each sits in its text does not matter.
    func sameValue(as other: JSONValue) -> Bool {
        switch (kind, other.kind) {
        case (.object(let a), .object(let b)):
            return a.count == b.count && a.allSatisfy { name, value in b[name].map { value.sameValue(as: $0) } ?? false }
        case (.array(let a), .array(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.sameValue(as: $1) }
        case (.string(let a), .string(let b)): return a == b
        case (.integer(let n, let a), .integer(let m, let b)): return n == m && a == b
        case (.bool(let a), .bool(let b)): return a == b
        case (.null, .null): return true
        default: return false
        }
    }
}
