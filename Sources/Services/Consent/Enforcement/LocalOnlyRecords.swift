/// Resource types that are the hospital's own records and are never served to a partner's client, whatever a
/// patient's consent says (issue 17, Deliver 6 and 7).
///
/// AuditEvent is the one: the gateway's AuditEvents say which partner asked for which patient, for what purpose and
/// with what outcome, so serving them would tell one partner about another's accesses (and about refusals, whose
/// existence a partner must not learn); AuditEvents outside every compartment (a scope refusal) would even need no
/// consent at all. A patient's consent shares clinical data, not the hospital's access log. So a partner's read,
/// vread, history, search and write of an AuditEvent is a 403, and AuditEvents are left out of every partner list
/// (system history, `_include`/`_revinclude`, `$everything`) by the consent decision itself
/// (``AccessDecision/Verdict/localOnly``). Local clients (the hospital's own systems) read them as any record.
public enum LocalOnlyRecords {
    /// The types no partner is served.
    public static let types: Set<String> = ["AuditEvent"]

    /// Whether resources of `type` are local-only.
    public static func contains(type: String) -> Bool { types.contains(type) }

    /// The 403 a partner's request on a local-only type gets (an OperationOutcome `forbidden`).
    public static func refusal(type: String) -> ServiceError {
        ServiceError(.forbidden, "\(type) resources are this hospital's own records (its access log); they are not served to partner clients")
    }

    /// Why the audit trail records the refusal.
    public static let refusalReason = "refused: AuditEvents are the hospital's own records, not served to partner clients"
}
