public import Ledger

/// One partner access as the audit trail records it (IHE Basic Audit Log Patterns): who, which patient(s), what,
/// why, with what outcome, and the consent decision behind it.
public struct AuditedAccess: Sendable, Hashable {
    /// The FHIR RESTful interaction (http://hl7.org/fhir/restful-interaction).
    public enum Interaction: String, Sendable, Hashable, CaseIterable {
        case read, vread
        case historyInstance = "history-instance"
        case historyType = "history-type"
        case historySystem = "history-system"
        case searchType = "search-type"
        case searchSystem = "search-system"
        case create, update, patch, delete, transaction, batch
        case operation

        /// The AuditEvent action (http://hl7.org/fhir/audit-event-action): BALP records a query as E(xecute).
        var action: String {
            switch self {
            case .read, .vread, .historyInstance, .historyType, .historySystem: "R"
            case .searchType, .searchSystem, .operation, .transaction, .batch: "E"
            case .create: "C"
            case .update, .patch: "U"
            case .delete: "D"
            }
        }
    }

    /// How the access ended (http://hl7.org/fhir/audit-event-outcome).
    public enum Outcome: String, Sendable, Hashable {
        /// Served (also a search whose results consent filtered).
        case success = "0"
        /// Refused: by consent, scope or a precondition; the request was understood and answered with a 4xx.
        case minorFailure = "4"
        /// The server failed (5xx).
        case seriousFailure = "8"
    }

    public var interaction: Interaction
    /// The SMART client id.
    public var clientId: String
    /// The participant (hex public key) the client belongs to.
    public var participant: String?
    /// The partner's organization identifiers (`system|value`).
    public var identifiers: [String]
    /// The patients (`Patient/id`) the access concerned.
    public var patients: [String]
    /// What was read or written: `Type/id/_history/n` (or `Type/id`), one per resource served or refused.
    public var resources: [String]
    /// The query as the client sent it (`Observation?patient=…&_count=50`), for a search, history or operation.
    public var query: String?
    /// The purpose of use, `system|code`.
    public var purpose: String
    public var outcome: Outcome
    /// Why it ended so, in one sentence (the refusal's reason).
    public var outcomeDescription: String?
    /// The finalized ledger height the consent decision was taken at.
    public var height: UInt64?
    /// The ledger's answer (CONSENT_PERMIT, CONSENT_DENY, NO_CONSENT) when consent was decided.
    public var decision: ConsentDecision?
    /// The directives (hex ids) the decision rests on: the consent basis.
    public var basis: [String]

    public init(interaction: Interaction, clientId: String, participant: String? = nil, identifiers: [String] = [], patients: [String] = [],
                resources: [String] = [], query: String? = nil, purpose: String, outcome: Outcome, outcomeDescription: String? = nil,
                height: UInt64? = nil, decision: ConsentDecision? = nil, basis: [String] = []) {
        self.interaction = interaction
        self.clientId = clientId
        self.participant = participant
        self.identifiers = identifiers
        self.patients = patients
        self.resources = resources
        self.query = query
        self.purpose = purpose
        self.outcome = outcome
        self.outcomeDescription = outcomeDescription
        self.height = height
        self.decision = decision
        self.basis = basis
    }
}
