/// Where and by whom a transaction is applied: what a kind's rules may read besides the state and the body.
public struct TransactionContext: Sendable {
    public let signer: PublicKey
    public let height: UInt64
    /// The block time, milliseconds since the epoch.
    public let time: Int64
    /// The transaction's position in its block.
    public let index: UInt32
    public let verifier: SignatureVerifier
}

/// What applying one kind of transaction does to the state, checked first: throw and nothing changes. Each kind's
/// body type carries its rules, so a new kind is a new type and a tag (``TransactionBody/rules``), not another
/// case in ``LedgerState/apply(_:height:time:index:verifier:)``, which only checks the signature and the nonce.
public protocol TransactionRules: Sendable {
    func apply(to state: inout LedgerState, _ context: TransactionContext) throws(TransactionError)
}

extension TransactionBody {
    /// The rules of this kind of transaction.
    public var rules: any TransactionRules {
        switch self {
        case .anchorBatch(let b): b
        case .consentDirective(let d): d
        case .registerParticipant(let r): r
        case .bond(let amount): Bond(amount: amount)
        case .unbond(let amount): Unbond(amount: amount)
        case .evidence(let e): e
        case .setIdentifiers(let i): i
        case .registerClient(let c): c
        case .contract(let c): c
        }
    }
}

/// Stake added by the signer.
struct Bond: TransactionRules {
    let amount: UInt64

    func apply(to state: inout LedgerState, _ context: TransactionContext) throws(TransactionError) {
        var p = try state.participant(context.signer)
        let (sum, overflow) = p.stake.addingReportingOverflow(amount)
        guard !overflow else { throw TransactionError(.overflow, "stake would overflow") }
        p.stake = sum
        state.put(participant: p, for: context.signer)
    }
}

/// Stake withdrawn by the signer.
struct Unbond: TransactionRules {
    let amount: UInt64

    func apply(to state: inout LedgerState, _ context: TransactionContext) throws(TransactionError) {
        var p = try state.participant(context.signer)
        guard amount <= p.stake else { throw TransactionError(.insufficientStake, "unbonding \(amount) of a stake of \(p.stake)") }
        p.stake -= amount
        state.put(participant: p, for: context.signer)
    }
}

extension RegisterParticipant: TransactionRules {
    public func apply(to state: inout LedgerState, _ context: TransactionContext) throws(TransactionError) {
        guard state.participants[context.signer] == nil else { throw TransactionError(.alreadyRegistered, "\(context.signer) is already a participant") }
        guard !name.isEmpty else { throw TransactionError(.malformed, "a participant needs a name") }
        state.put(participant: Participant(name: name, nodeKey: nodeKey, stake: 0), for: context.signer)
    }
}

extension AnchorBatch: TransactionRules {
    public func apply(to state: inout LedgerState, _ context: TransactionContext) throws(TransactionError) {
        _ = try state.participant(context.signer)
        guard submitter == context.signer else { throw TransactionError(.notSubmitter, "the batch names \(submitter) but \(context.signer) signed it") }
        guard root.count == Hash32.length, leafCount >= 1, firstTxid <= lastTxid, !canonicalForm.isEmpty else {
            throw TransactionError(.invalidAnchor, "a batch has a 32-byte root, at least one leaf, first txid ≤ last txid and a canonical-form version")
        }
        guard state.anchors[root] == nil else { throw TransactionError(.duplicateAnchor, "the root \(Hex.encode(root)) is already anchored") }
        let record = AnchorRecord(batch: self, height: context.height, index: context.index)
        state.anchors[root] = record
        state.set(.anchor(root: root), record.encoded)
    }
}

extension ConsentDirective: TransactionRules {
    public func apply(to state: inout LedgerState, _ context: TransactionContext) throws(TransactionError) {
        if let problem = state.consentProblem(self, signer: context.signer) { throw problem }
        switch action {
        case .grant:
            let record = ConsentRecord(directive: self, submitter: context.signer, height: context.height, grantedAt: context.time)
            state.consents[directiveId] = record
            state.set(.consent(directiveId: directiveId), record.encoded)
            var list = state.patientDirectives[patient] ?? []
            list.append(directiveId)
            state.patientDirectives[patient] = list
            var w = LedgerWriter()
            w.list(list) { $0.fixed($1) }
            state.set(.patient(pseudonym: patient), w.bytes)
        case .revoke:
            guard var record = state.consents[directiveId] else { preconditionFailure("consentProblem checked the directive exists") }
            record.revokedAt = context.time
            state.consents[directiveId] = record
            state.set(.consent(directiveId: directiveId), record.encoded)
        }
    }
}

extension DuplicateVoteEvidence: TransactionRules {
    public func apply(to state: inout LedgerState, _ context: TransactionContext) throws(TransactionError) {
        _ = try state.participant(context.signer)
        if let problem = problem(chainId: state.chainId, verifier: context.verifier) { throw TransactionError(.invalidEvidence, problem) }
        guard state.value(of: .offence(offence)) == nil else {
            throw TransactionError(.duplicateEvidence, "\(validator) was already slashed for this vote")
        }
        // The participant whose node key signed the votes (the smallest account key if several share it).
        guard let account = state.participants.filter({ $0.value.nodeKey == validator }).keys.min(), var offender = state.participants[account] else {
            throw TransactionError(.invalidEvidence, "\(validator) is not a participant's node key")
        }
        // Slash 5 % of the bond (at least 1) and jail: the validator leaves the set two heights later.
        let cut = max(1, offender.stake / 20)
        offender.stake -= min(cut, offender.stake)
        offender.jailed = true
        state.put(participant: offender, for: account)
        state.set(.offence(offence), encoded)
    }
}

extension ParticipantIdentifiers: TransactionRules {
    public func apply(to state: inout LedgerState, _ context: TransactionContext) throws(TransactionError) {
        _ = try state.participant(context.signer)
        try state.assign(self, to: context.signer)
    }
}

extension RegisterClient: TransactionRules {
    public func apply(to state: inout LedgerState, _ context: TransactionContext) throws(TransactionError) {
        try state.register(self, by: context.signer, height: context.height)
    }
}
