extension LedgerState {
    /// Why a consent directive signed by `signer` would be refused on this state, or nil when it applies: the one
    /// rule that `apply` enforces and a submitter checks before it stores the Consent the directive records (so a
    /// refused Consent is never stored). Nonce and signature are the transaction's, not the directive's, and are not
    /// checked here.
    public func consentProblem(_ d: ConsentDirective, signer: PublicKey) -> TransactionError? {
        guard participants[signer] != nil else { return TransactionError(.unknownParticipant, "\(signer) is not a registered participant") }
        guard d.directiveId.count == Hash32.length, d.patient.count == Hash32.length, d.consentCommitment.count == Hash32.length else {
            return TransactionError(.malformed, "directive id, patient pseudonym and consent commitment are 32 bytes each")
        }
        switch d.action {
        case .grant:
            guard consents[d.directiveId] == nil else {
                return TransactionError(.duplicateDirective, "directive \(Hex.encode(d.directiveId)) exists; revoke it and grant a new one")
            }
            do throws(TransactionError) {
                try ConsentEvaluator.checkNesting(d.provision)
            } catch {
                return error
            }
        case .revoke:
            guard let record = consents[d.directiveId] else {
                return TransactionError(.unknownDirective, "no directive \(Hex.encode(d.directiveId)) to revoke")
            }
            guard record.submitter == signer else {
                return TransactionError(.notSubmitter, "only the participant that granted a directive revokes it")
            }
            guard record.revokedAt == nil else { return TransactionError(.unknownDirective, "the directive is already revoked") }
        }
        return nil
    }
}
