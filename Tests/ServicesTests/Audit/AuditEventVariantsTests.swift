import FHIRCore
import Foundation
import Ledger
import RecordStore
import Services
import Testing

/// The trail stores the builder's AuditEvents without validating each one at run time; this validates every
/// variant the builder can produce instead: each interaction, outcome and consent decision, with and without the
/// optional parts (participant, identifiers, patients, resources, query, description, height, basis).
@Suite("Audit trail: every AuditEvent variant validates")
struct AuditEventVariantsTests {
    static let decisions: [ConsentDecision?] = [nil, .permit, .deny, .noConsent]
    static let outcomes: [AuditedAccess.Outcome] = [.success, .minorFailure, .seriousFailure]

    @Test(arguments: AuditedAccess.Interaction.allCases)
    func everyOutcomeDecisionAndOptionalPartValidates(interaction: AuditedAccess.Interaction) throws {
        let builder = AuditEventBuilder(observer: "careledger-gateway")
        var count = 0
        for outcome in Self.outcomes {
            for decision in Self.decisions {
                for full in [false, true] {
                    let access = AuditedAccess(
                        interaction: interaction, clientId: "partner-b-client",
                        participant: full ? "7f" + String(repeating: "01", count: 31) : nil,
                        identifiers: full ? ["http://example.org/ids|partner-hospital-b", "urn:oid:1.2.3|x"] : [],
                        patients: full ? ["Patient/mira", "Patient/noor"] : [],
                        resources: full ? ["Observation/o1/_history/2", "Patient/mira"] : [],
                        query: full ? "Observation?patient=Patient/mira&_count=50" : nil,
                        purpose: full ? "http://terminology.hl7.org/CodeSystem/v3-ActReason|TREAT" : "no-bar",
                        outcome: outcome, outcomeDescription: full ? "refused: the patient's consent" : nil,
                        height: full ? 42 : nil, decision: decision,
                        basis: full && decision != .noConsent ? [String(repeating: "ab", count: 32), String(repeating: "cd", count: 32)] : [])
                    let event = try builder.event(access, recorded: Date(timeIntervalSince1970: 1_704_067_200), id: "ae-\(count)")
                    let issues = Validator().validate(event)
                    #expect(issues.isEmpty, "\(interaction) \(outcome) \(String(describing: decision)) full=\(full): \(issues.map(\.diagnostics))")
                    // What is stored validates too (the record is prepared from the same tree).
                    let prepared = try PreparedRecord(resource: event)
                    #expect(FHIRDocument.validate(prepared.contentCanonical).issues.filter(\.isError).isEmpty)
                    count += 1
                }
            }
        }
        #expect(count == Self.outcomes.count * Self.decisions.count * 2)
    }
}
