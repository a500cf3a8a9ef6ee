import FHIRCore
public import Hummingbird
public import Services

/// Consent and audit around the record reads (read, vread, history, `$everything`) of a partner's client (issue
/// 17, Deliver 6 and 7): one ``ConsentSession`` per request at the last finalized height, each resource decided by
/// the patient's consent, and one AuditEvent per access, granted or refused, stored before the response leaves.
/// Local clients (and a gateway mounted without authentication) read without either.
struct PartnerReads {
    let session: ConsentSession?
    let dependencies: GatewayDependencies

    /// The request's consent session: nil for a local client or an unauthenticated gateway; 403 for a partner when
    /// this gateway has no consent gate.
    init(_ request: Request, context: GatewayRequestContext, dependencies: GatewayDependencies) async throws {
        self.dependencies = dependencies
        guard let principal = context.principal, principal.kind == .partner else {
            session = nil
            return
        }
        guard let gate = dependencies.consent else {
            throw ServiceError(.forbidden, "partner reads need the consent ledger, which this gateway does not have")
        }
        guard let opened = try await gate.session(for: principal, purposeHeader: request.headers.first(named: "x-purpose-of-use")) else {
            throw ServiceError(.forbidden, "the partner's consent terms could not be established")
        }
        session = opened
    }

    /// A read or vread: the resource when the consent permits it, else 403 (``ConsentNotice``). Audited either way.
    func authorize(_ resource: StoredResource, _ interaction: AuditedAccess.Interaction) async throws {
        guard let session else { return }
        let parsed = try Self.resource(resource)
        let decision = try await session.decide(parsed)
        let name = resource.location
        if decision.allows {
            try await record(AuditedAccess(interaction, session: session, decisions: [decision], resources: [name], outcome: .success))
            return
        }
        try await record(AuditedAccess(interaction, session: session, decisions: [decision], resources: [name],
                                       outcome: .minorFailure, outcomeDescription: "refused by the patient's consent"))
        throw ConsentNotice.refusal(at: session.height)
    }

    /// The versions of one record's history (issue 17, Deliver 6): refused like a read when the consent refuses any
    /// version on the page (403 with an OperationOutcome, audited as a refusal), so a partner never learns from an
    /// empty or shortened history that a refused record exists or changed. Returns the versions with content
    /// (deletes are kept only for local clients, who get every version unchanged).
    func authorizeHistory(_ versions: [StoredResource], query: String?) async throws -> [StoredResource] {
        guard let session else { return versions }
        let kept = versions.filter { !$0.deleted }
        var decisions: [AccessDecision] = []
        for version in kept {
            let decision = try await session.decide(try Self.resource(version))
            decisions.append(decision)
            guard decision.allows else {
                try await record(AuditedAccess(.historyInstance, session: session, decisions: decisions, resources: [version.location],
                                               query: query, outcome: .minorFailure, outcomeDescription: "refused by the patient's consent"))
                throw ConsentNotice.refusal(at: session.height)
            }
        }
        try await record(AuditedAccess(.historyInstance, session: session, decisions: decisions, resources: kept.map(\.location),
                                       query: query, outcome: .success))
        return kept
    }

    /// The patient of a `$everything`: refused (403, audited) when the consent refuses the Patient resource itself,
    /// so a refused patient's compartment is never listed, not even as an empty Bundle. A permitted patient is
    /// audited with each page of the answer (EverythingRoutes).
    func authorizePatient(_ patient: StoredResource, query: String?) async throws {
        guard let session else { return }
        let decision = try await session.decide(try Self.resource(patient))
        guard !decision.allows else { return }
        try await record(AuditedAccess(.operation, session: session, decisions: [decision], resources: [patient.location], query: query,
                                       outcome: .minorFailure, outcomeDescription: "refused by the patient's consent"))
        throw ConsentNotice.refusal(at: session.height)
    }

    /// True for a partner's request: its search-like Bundles carry the consent notice (``ConsentNotice``).
    var isPartner: Bool { session != nil }

    private func record(_ access: AuditedAccess) async throws {
        try await dependencies.recordAudited(access)
    }

    private static func resource(_ stored: StoredResource) throws -> Resource {
        do {
            return try JSONReader().read(stored.canonical)
        } catch {
            throw ServiceError(.internal, "\(stored.location) could not be read back: \(error.reason)")
        }
    }
}
