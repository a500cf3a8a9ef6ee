import Ledger

extension AuditedAccess {
    /// The access of a partner request whose consent `session` decided: its terms, height and the decisions on
    /// the resources examined (patients and basis gathered from them, the first refusal's answer when there is
    /// one). `resources` lists what was served or refused (`Type/id/_history/n`).
    public init(_ interaction: Interaction, session: ConsentSession, decisions: [AccessDecision], resources: [String], query: String? = nil,
                outcome: Outcome, outcomeDescription: String? = nil) {
        var patients: [String] = []
        var basis: [String] = []
        for decision in decisions {
            for p in decision.patients where !patients.contains(p) { patients.append(p) }
            for b in decision.basis where !basis.contains(b) { basis.append(b) }
        }
        let refusal = decisions.first { !$0.allows }
        let decision = refusal?.decision ?? decisions.lazy.compactMap(\.decision).first
        self.init(interaction: interaction, clientId: session.terms.clientId, participant: session.terms.participant,
                  identifiers: session.terms.actors, patients: patients, resources: resources, query: query, purpose: session.terms.purpose,
                  outcome: outcome, outcomeDescription: outcomeDescription, height: session.height, decision: decision, basis: basis)
    }
}
