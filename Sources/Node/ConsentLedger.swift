public import Ledger

/// Where a Consent's directive is recorded: the running node over its RPC (``RPCConsentLedger``), or a chain in
/// this process (``Chain``). The consent use cases (`Services.ConsentSubmission`) talk to the ledger through it.
public protocol ConsentLedger: Sendable {
    /// Why the ledger would refuse the directive now, or nil; submits nothing.
    func consentProblem(_ directive: ConsentDirective) async throws -> TransactionError?
    /// Submits the directive and returns once it is committed and the next header commits to the state with it.
    func record(_ directive: ConsentDirective) async throws -> Inclusion
}

extension Chain: ConsentLedger {
    public func record(_ directive: ConsentDirective) async throws -> Inclusion { try await recordConsent(directive).inclusion }

    /// Signs the directive with this node's key, and waits for its block and the one after (whose header commits
    /// to the state with it, so a query right after sees it).
    public func recordConsent(_ directive: ConsentDirective) async throws -> (transaction: Transaction, inclusion: Inclusion) {
        let tx = try submit(.consentDirective(directive))
        let inclusion = await inclusion(of: tx.hash)
        if inclusion.result.code == nil { await waitFor(height: inclusion.height + 1) }
        return (tx, inclusion)
    }
}
