public import Ledger

/// One patient's consent directives in a finalized state, and the partner's answer from them: what the decision
/// cache keeps per (partner, patient, purpose, height).
///
/// A Patient may carry several identifiers and a Consent names the patient by one of them, so the directives of
/// every identifier's pseudonym are gathered and compared as one patient's: the most recent applicable one decides,
/// as ``ConsentEvaluator`` rules for a single identifier.
public struct PatientConsent: Sendable {
    /// The patient's directives, re-keyed to the first identifier's pseudonym; empty when the patient is not
    /// stored or has no identifier (no Consent can name it: NO_CONSENT).
    public let records: [ConsentRecord]
    /// The pseudonym the records are keyed to (nil when the patient has no identifier).
    public let pseudonym: [UInt8]?
    /// The answer for the partner and purpose, not narrowed to a type, label or code.
    public let answer: ConsentAnswer

    public init(pseudonyms: [[UInt8]], state: LedgerState, terms: ConsentTerms, at time: Int64) {
        var records: [ConsentRecord] = []
        let key = pseudonyms.first
        for pseudonym in pseudonyms {
            for id in state.patientDirectives[pseudonym] ?? [] {
                guard var record = state.consents[id], !records.contains(where: { $0.directive.directiveId == id }) else { continue }
                if let key { record.directive.patient = key }
                records.append(record)
            }
        }
        self.records = records
        self.pseudonym = key
        self.answer = ConsentEvaluator.evaluate(records, Self.query(key, terms, facets: nil, at: time))
    }

    /// The ledger's answer for one resource: narrowed to its type, labels and codes, so that provisions naming
    /// them apply as provisions, and REDACT obligations cover what the resource does not say.
    public func answer(for facets: ConsentFacets, terms: ConsentTerms, at time: Int64) -> ConsentAnswer {
        ConsentEvaluator.evaluate(records, Self.query(pseudonym, terms, facets: facets, at: time))
    }

    static func query(_ patient: [UInt8]?, _ terms: ConsentTerms, facets: ConsentFacets?, at time: Int64) -> ConsentQuery {
        ConsentQuery(patient: patient ?? [], actors: terms.actors, purposes: [terms.purpose],
                     classes: facets.map { [$0.type] } ?? [], labels: facets?.labels ?? [], codes: facets?.codes ?? [], at: time)
    }

    /// Whether a REDACT obligation withholds a resource with these facets: it matches every attribute the
    /// obligation names (each attribute's values OR-ed).
    public static func withholds(_ obligation: RedactObligation, _ facets: ConsentFacets) -> Bool {
        let labels = obligation.labels.isEmpty || facets.labels.contains(where: obligation.labels.contains)
        let classes = obligation.classes.isEmpty || obligation.classes.contains(facets.type)
        let codes = obligation.codes.isEmpty || facets.codes.contains(where: obligation.codes.contains)
        let names = !(obligation.labels.isEmpty && obligation.classes.isEmpty && obligation.codes.isEmpty)
        return names && labels && classes && codes
    }
}
