public import Services

extension GatewayRequestContext {
    /// The caller, when its token's scopes grant `interaction` on resources of `type` (`*`: across every type, as
    /// system history needs). Routes call it first: `try context.require(.read, type: "Patient")`. Throws
    /// ``ServiceError`` `.forbidden` (403 with an OperationOutcome) when out of scope or when a partner asks for a
    /// local-only type (``LocalOnlyRecords``: AuditEvent, on every interaction), `.unauthorized` when the
    /// request was not authenticated (a route mounted without ``SMARTAuthMiddleware`` in front).
    @discardableResult
    public func require(_ interaction: AccessInteraction, type: String) throws(ServiceError) -> Principal {
        guard let principal else {
            throw ServiceError(.unauthorized, "this request needs an access token (Authorization: Bearer …)")
        }
        // A partner is never served the hospital's own records (its AuditEvents), whatever its scopes grant.
        if principal.kind == .partner, LocalOnlyRecords.contains(type: type) {
            scopeRefusal?.note(interaction, type: type, reason: LocalOnlyRecords.refusalReason)
            throw LocalOnlyRecords.refusal(type: type)
        }
        guard principal.permits(interaction, type: type) else {
            // Audited by the authentication middleware before the 403 leaves.
            scopeRefusal?.note(interaction, type: type)
            let what = type == "*" ? "every resource type" : type
            throw ServiceError(.forbidden,
                               "the access token's scopes (\(principal.grants.parameter)) do not grant \(interaction.rawValue) on \(what)")
        }
        return principal
    }
}
