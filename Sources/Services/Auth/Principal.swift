/// Who is calling, as the gateway authenticated them: a partner hospital's client registered on the ledger, or one
/// of the hospital's own local clients.
public struct Principal: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        /// A partner hospital's client: every read of patient data is decided by the patient's consent.
        case partner
        /// A client of this hospital's own systems (its EHR), configured locally.
        case local
    }

    /// The SMART client id.
    public var clientId: String
    public var kind: Kind
    /// The participant (hex Ed25519 public key) the client belongs to, for partners.
    public var participant: String?
    /// The organization identifiers (`system|value`) by which Consents name the participant as an actor.
    public var identifiers: [String]
    /// The granted scopes, as written (`system/Patient.rs`, `system/*.read`).
    public var scopes: [String] {
        didSet { grants = ScopeSet(parsing: scopes) }
    }
    /// ``scopes`` parsed: what each interaction is checked against.
    public private(set) var grants: ScopeSet
    /// The purpose of use the token carries (a v3 PurposeOfUse code such as TREAT), if any.
    public var purposeOfUse: String?

    public init(clientId: String, kind: Kind, participant: String? = nil, identifiers: [String] = [],
                scopes: [String], purposeOfUse: String? = nil) {
        self.clientId = clientId
        self.kind = kind
        self.participant = participant
        self.identifiers = identifiers
        self.scopes = scopes
        self.grants = ScopeSet(parsing: scopes)
        self.purposeOfUse = purposeOfUse
    }

    /// True when the principal's scopes grant `interaction` on resources of `type` (`*`: across every type).
    public func permits(_ interaction: AccessInteraction, type: String) -> Bool {
        grants.permits(interaction, type: type)
    }
}
