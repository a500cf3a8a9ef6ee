/// A consent question from a partner: may these actors, for these purposes, have this patient's data (of these
/// classes, with these labels, these codes) at this time? Codes are "system|code".
public struct ConsentQuery: Sendable, Hashable {
    public static let patientPrivacy = "http://terminology.hl7.org/CodeSystem/consentscope|patient-privacy"

    public var patient: [UInt8]
    public var actors: [String]
    public var purposes: [String]
    public var category: String
    public var classes: [String]
    public var labels: [String]
    public var codes: [String]
    /// Milliseconds since the epoch: the block time the answer is evaluated at, never a wall clock.
    public var at: Int64

    public init(patient: [UInt8], actors: [String], purposes: [String], category: String = ConsentQuery.patientPrivacy,
                classes: [String] = [], labels: [String] = [], codes: [String] = [], at: Int64) {
        self.patient = patient
        self.actors = actors
        self.purposes = purposes
        self.category = category
        self.classes = classes
        self.labels = labels
        self.codes = codes
        self.at = at
    }
}

/// The answer, in the terms of the CDS Hooks `patient-consent-consult` extension.
public enum ConsentDecision: String, Sendable, Hashable {
    case permit = "CONSENT_PERMIT"
    case deny = "CONSENT_DENY"
    case noConsent = "NO_CONSENT"
}

/// REDACT: data that matches all of the given labels, classes and codes (each list OR-ed) must be withheld.
public struct RedactObligation: Sendable, Hashable {
    public var labels: [String]
    public var classes: [String]
    public var codes: [String]

    public init(labels: [String], classes: [String], codes: [String]) {
        self.labels = labels
        self.classes = classes
        self.codes = codes
    }
}

public struct ConsentAnswer: Sendable, Hashable {
    public var decision: ConsentDecision
    public var obligations: [RedactObligation]
    /// The directives the answer rests on (the one that decided it).
    public var basedOn: [[UInt8]]

    public init(decision: ConsentDecision, obligations: [RedactObligation], basedOn: [[UInt8]]) {
        self.decision = decision
        self.obligations = obligations
        self.basedOn = basedOn
    }
}

/// Evaluates the consent directives in a ledger state (FHIR R4 Consent semantics, docs to follow in
/// docs/consent.md):
///
/// - a directive applies when it is in force at the query time (granted at or before it, not revoked by then), has
///   the query's category, and its root provision's period, actors and purposes match;
/// - the most recent applicable directive (by its issue time, then its grant) decides;
/// - the root provision's type is the default; a nested provision (of the opposite type) whose every attribute
///   matches the query overrides it, recursively; within a provision attributes are AND-ed and the values of one
///   attribute OR-ed; periods apply at every level;
/// - a nested deny under a permit that names data the query did not narrow (labels, classes, codes) becomes a
///   REDACT obligation instead;
/// - no applicable directive gives NO_CONSENT.
public enum ConsentEvaluator {
    /// Refuses a directive whose nesting is inconsistent: every nested provision is the opposite of its parent.
    public static func checkNesting(_ p: Provision) throws(TransactionError) {
        for child in p.provisions {
            guard child.kind != p.kind else {
                throw TransactionError(.malformed, "a nested provision must be the opposite of its parent (\(p.kind) inside \(p.kind))")
            }
            try checkNesting(child)
        }
    }

    public static func evaluate(_ state: LedgerState, _ q: ConsentQuery) -> ConsentAnswer {
        evaluate((state.patientDirectives[q.patient] ?? []).compactMap { state.consents[$0] }, q)
    }

    /// The answer from the patient's directives, in the order they were granted (what a consent proof carries).
    public static func evaluate(_ records: [ConsentRecord], _ q: ConsentQuery) -> ConsentAnswer {
        var best: ConsentRecord?
        for record in records where record.directive.patient == q.patient {
            guard applies(record, q) else { continue }
            if let b = best, (b.directive.issued, b.grantedAt) >= (record.directive.issued, record.grantedAt) { continue }
            best = record
        }
        guard let best else { return ConsentAnswer(decision: .noConsent, obligations: [], basedOn: []) }
        let (kind, obligations) = evaluate(best.directive.provision, q)
        return ConsentAnswer(decision: kind == .permit ? .permit : .deny, obligations: obligations, basedOn: [best.directive.directiveId])
    }

    static func applies(_ r: ConsentRecord, _ q: ConsentQuery) -> Bool {
        guard r.grantedAt <= q.at, r.revokedAt.map({ $0 > q.at }) ?? true else { return false }
        guard r.directive.categories.contains(q.category) else { return false }
        let root = r.directive.provision
        return (root.period?.contains(q.at) ?? true) && matches(root.actors, q.actors) && matches(root.purposes, q.purposes)
    }

    /// An attribute of the provision matches when it does not restrict, or one of the query's values is in it.
    static func matches(_ provision: [String], _ query: [String]) -> Bool {
        provision.isEmpty || query.contains(where: provision.contains)
    }

    static func evaluate(_ p: Provision, _ q: ConsentQuery) -> (Provision.Kind, [RedactObligation]) {
        var obligations: [RedactObligation] = []
        for child in p.provisions {
            guard child.period?.contains(q.at) ?? true, matches(child.actors, q.actors), matches(child.purposes, q.purposes) else { continue }
            // Data attributes: those the query narrows must match; those it leaves open are the partial part.
            var open = RedactObligation(labels: [], classes: [], codes: [])
            var applies = true
            for (attribute, query, keyPath) in [(child.securityLabels, q.labels, \RedactObligation.labels),
                                                (child.dataClasses, q.classes, \RedactObligation.classes),
                                                (child.codes, q.codes, \RedactObligation.codes)] where !attribute.isEmpty {
                if query.isEmpty {
                    open[keyPath: keyPath] = attribute
                } else if !matches(attribute, query) {
                    applies = false
                }
            }
            guard applies else { continue }
            if open.labels.isEmpty && open.classes.isEmpty && open.codes.isEmpty {
                // Every attribute matches: the exception decides (with its own exceptions).
                return evaluate(child, q)
            }
            if p.kind == .permit && child.kind == .deny {
                // Withhold the data the exception names; data attributes the query did narrow constrain it.
                if open.classes.isEmpty { open.classes = child.dataClasses.filter(q.classes.contains) }
                if open.labels.isEmpty { open.labels = child.securityLabels.filter(q.labels.contains) }
                if open.codes.isEmpty { open.codes = child.codes.filter(q.codes.contains) }
                obligations.append(open)
            }
        }
        return (p.kind, obligations)
    }
}
