/// A consent answer with its evidence: the patient's directive list and each directive's record, every one proven
/// (or, when the patient has none, proven absent) against the state root of a block header that a commit
/// certificate finalized, and the light path that makes that commit trusted from the genesis validators when the
/// validator set changed since (as a ``Receipt``'s). Anyone holding the genesis can re-evaluate the answer offline,
/// so a partner hospital can show later that it had consent at the moment it asked.
public struct ConsentProof: Sendable, Hashable {
    public struct Entry: Sendable, Hashable {
        public var key: [UInt8]
        /// The entry's value; nil proves the entry absent.
        public var value: [UInt8]?
        public var proof: SparseMerkleProof

        public init(key: [UInt8], value: [UInt8]?, proof: SparseMerkleProof) {
            self.key = key
            self.value = value
            self.proof = proof
        }
    }

    public var query: ConsentQuery
    public var answer: ConsentAnswer
    /// The header whose state root the entries are proven against, and its commit.
    public var header: BlockHeader
    public var commit: CommitCertificate
    /// The patient's directive list (or its absence), then one entry per listed directive.
    public var patient: Entry
    public var consents: [Entry]
    /// The light blocks, in increasing height below ``header``'s, that lead from the genesis validators to the set
    /// that signed ``commit`` (CometBFT skipping verification, ``LightClient``). Empty when the genesis validators
    /// themselves are trusted to have signed it.
    public var lightPath: [LightBlock] = []
    /// The validators that signed ``commit`` (hashing to the header's `validatorsHash`). Nil: the set the last
    /// trusted block named next (the genesis set when ``lightPath`` is empty).
    public var validators: ValidatorSet?

    public init(query: ConsentQuery, answer: ConsentAnswer, header: BlockHeader, commit: CommitCertificate, patient: Entry, consents: [Entry],
                lightPath: [LightBlock] = [], validators: ValidatorSet? = nil) {
        self.query = query
        self.answer = answer
        self.header = header
        self.commit = commit
        self.patient = patient
        self.consents = consents
        self.lightPath = lightPath
        self.validators = validators
    }

    /// Evaluates `query` on `state` — the state `header` commits to — and proves what the answer read. `lightPath`
    /// and `validators` are carried as they are (see ``lightPath``); `verify` checks them.
    public static func make(state: LedgerState, query: ConsentQuery, header: BlockHeader, commit: CommitCertificate,
                            lightPath: [LightBlock] = [], validators: ValidatorSet? = nil) throws(SparseMerkleTree.Error) -> ConsentProof {
        guard state.root == header.stateRoot else { throw SparseMerkleTree.Error("the state is not the one the header commits to") }
        let patientEntry = LedgerState.Entry.patient(pseudonym: query.patient)
        let patient = Entry(key: patientEntry.key, value: state.value(of: patientEntry), proof: try state.proof(of: patientEntry))
        var consents: [Entry] = []
        for id in state.patientDirectives[query.patient] ?? [] {
            let e = LedgerState.Entry.consent(directiveId: id)
            consents.append(Entry(key: e.key, value: state.value(of: e), proof: try state.proof(of: e)))
        }
        return ConsentProof(query: query, answer: ConsentEvaluator.evaluate(state, query), header: header, commit: commit, patient: patient,
                            consents: consents, lightPath: lightPath, validators: validators)
    }

    /// Checks the proof offline against the validator set trusted for its chain (the genesis validators, the root of
    /// the light path) and returns the answer re-evaluated from the proven entries. Fails, naming the check, when
    /// the chain, the light path, the commit, an entry or the answer does not hold.
    public func verify(chainId: String, validators: ValidatorSet) throws(Receipt.Failure) -> ConsentAnswer {
        var cache = SignatureCache()
        return try verify(chainId: chainId, validators: validators, cache: &cache)
    }

    /// The same, skipping signatures `cache` has already verified (the commit and light path shared by proofs made
    /// at one block): every other check runs in full.
    public func verify(chainId: String, validators: ValidatorSet, cache: inout SignatureCache) throws(Receipt.Failure) -> ConsentAnswer {
        try LightClient.verifyFinalized(header, commit: commit, lightPath: lightPath, validators: self.validators, chainId: chainId,
                                        trusting: validators, cache: &cache)
        guard patient.key == LedgerState.Entry.patient(pseudonym: query.patient).key else {
            throw Receipt.Failure(check: "patient", reason: "the patient entry is for another pseudonym")
        }
        do throws(SparseMerkleTree.Error) {
            try patient.proof.verify(root: header.stateRoot, key: patient.key, value: patient.value)
        } catch {
            throw Receipt.Failure(check: "patient", reason: "the patient entry does not verify against the header's state root: \(error)")
        }
        var ids: [[UInt8]] = []
        if let value = patient.value {
            var r = LedgerReader(value)
            do throws(LedgerDecodingError) {
                ids = try r.list { (r) throws(LedgerDecodingError) in try r.fixed(Hash32.length) }
            } catch {
                throw Receipt.Failure(check: "patient", reason: "the patient entry does not decode: \(error)")
            }
        }
        guard ids.count == consents.count else { throw Receipt.Failure(check: "consents", reason: "the patient lists \(ids.count) directives; the proof carries \(consents.count)") }
        var records: [ConsentRecord] = []
        for (n, (id, entry)) in zip(ids, consents).enumerated() {
            guard entry.key == LedgerState.Entry.consent(directiveId: id).key, let value = entry.value else {
                throw Receipt.Failure(check: "consents", reason: "entry \(n) is not the listed directive's")
            }
            do throws(SparseMerkleTree.Error) {
                try entry.proof.verify(root: header.stateRoot, key: entry.key, value: value)
            } catch {
                throw Receipt.Failure(check: "consents", reason: "directive \(n) does not verify against the header's state root: \(error)")
            }
            do throws(LedgerDecodingError) {
                records.append(try ConsentRecord(encoded: value))
            } catch {
                throw Receipt.Failure(check: "consents", reason: "directive \(n) does not decode: \(error)")
            }
        }
        let evaluated = ConsentEvaluator.evaluate(records, query)
        guard evaluated == answer else {
            throw Receipt.Failure(check: "answer", reason: "the proven directives give \(evaluated.decision.rawValue), not \(answer.decision.rawValue)")
        }
        return evaluated
    }
}
