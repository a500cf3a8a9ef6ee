import FHIRCore
import Foundation
import Ledger
import Node
import RecordStore
import Services
import Testing
import TestSupport

/// The gate's decisions over the cases of ../shared/specs/consent-cases.md, with Consents recorded on a real chain
/// and the patients in a real store: each case's patient is its own (`us-medicare|case-N`), its resource an
/// Observation (or the class the case names) in that patient's compartment.
@Suite("Consent enforcement: decisions (consent-cases.md) on a real ledger", .timeLimit(.minutes(5)))
struct ConsentDecisionTests {
    typealias C = CaseConsents
    static let T = ConsentLedgerFixture.evaluation
    static let hour = ConsentLedgerFixture.hour

    struct Case: Sendable {
        var number: String
        var consent: String?
        var actors: [String] = [C.otherOrgIdentifier]
        var purpose: String = "TREAT"
        var type: String = "Observation"
        var labels: [String] = []
        var codes: [String] = []
        var verdict: AccessDecision.Verdict
        var decision: ConsentDecision?
    }

    static func optin(_ n: String, categoryInScope: Bool = true, research: Bool = false, period: (String, String)? = ("2020-01-01", "2030-01-01"),
                      rootPurposes: [String] = [], nested: [String] = [C.nestedDeny(actor: C.org54)]) -> String {
        C.consent(id: "consent-\(n)", patient: "case-\(n)", categoryInScope: categoryInScope, research: research, period: period,
                  rootPurposes: rootPurposes, nested: nested)
    }

    static let conf = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality|"
    static let act = "http://terminology.hl7.org/CodeSystem/v3-ActCode|"
    static let redactR = [C.nestedDeny(actor: C.org54, labels: ["R"])]
    static let redactThree = [C.nestedDeny(actor: C.org54, labels: ["R"]), C.nestedDeny(actor: C.org54, labels: ["V"]), C.nestedDeny(purposes: ["HMARKT"])]

    /// The cases decided at the last height (2024-01-01T00:00:00Z). Cases 9, 22, 23 and 24 need a sequence and
    /// have their own test; 21 asks two purposes at once, which one request cannot (it carries one purpose).
    static let cases: [Case] = [
        Case(number: "1", consent: optin("1"), verdict: .permitted, decision: .permit),
        Case(number: "2", consent: optin("2", categoryInScope: false), verdict: .permitted, decision: .permit),
        Case(number: "3", consent: optin("3", period: ("2015-11-01", "2016-01-01")), verdict: .refused, decision: .noConsent),
        Case(number: "4", consent: optin("4", period: ("2024-01-03T00:00:00Z", "2030-01-01")), verdict: .refused, decision: .noConsent),
        Case(number: "5", consent: optin("5"), actors: [C.org54Identifier], verdict: .refused, decision: .deny),
        Case(number: "6", consent: optin("6"), actors: [C.org54Identifier, C.otherOrgIdentifier], verdict: .refused, decision: .deny),
        Case(number: "7", consent: optin("7", nested: [C.nestedDeny(actor: C.drBob)]), actors: [C.drBobIdentifier], verdict: .refused, decision: .deny),
        Case(number: "8", consent: optin("8", nested: [C.nestedDeny(purposes: ["HMARKT"])]), purpose: "HMARKT", verdict: .refused, decision: .deny),
        Case(number: "10", consent: optin("10", research: true), verdict: .refused, decision: .noConsent),
        Case(number: "no consent at all", consent: nil, verdict: .refused, decision: .noConsent),
        // Redaction: an Observation labelled R is withheld, an unlabelled one served.
        Case(number: "11", consent: optin("11", nested: redactR), actors: [C.org54Identifier], labels: [conf + "R"], verdict: .redacted, decision: .permit),
        Case(number: "11 unlabelled", consent: optin("11u", nested: redactR), actors: [C.org54Identifier], verdict: .permitted, decision: .permit),
        Case(number: "12", consent: optin("12", nested: [C.nestedDeny(actor: C.org54, labels: ["ETHUD", "HIV"])]), actors: [C.org54Identifier],
             labels: [act + "HIV"], verdict: .redacted, decision: .permit),
        Case(number: "12 labelled N", consent: optin("12n", nested: [C.nestedDeny(actor: C.org54, labels: ["ETHUD", "HIV"])]), actors: [C.org54Identifier],
             labels: [conf + "N"], verdict: .permitted, decision: .permit),
        Case(number: "13 R", consent: optin("13r", nested: redactThree), actors: [C.org54Identifier], labels: [conf + "R"], verdict: .redacted, decision: .permit),
        Case(number: "13 V", consent: optin("13v", nested: redactThree), actors: [C.org54Identifier], labels: [conf + "V"], verdict: .redacted, decision: .permit),
        Case(number: "13 unlabelled", consent: optin("13", nested: redactThree), actors: [C.org54Identifier], verdict: .permitted, decision: .permit),
        Case(number: "14", consent: optin("14", nested: redactThree), actors: [C.org54Identifier], purpose: "HMARKT", verdict: .refused, decision: .deny),
        Case(number: "15", consent: optin("15", nested: [C.nestedDeny(actor: C.org54, classes: ["MedicationStatement"])]), actors: [C.org54Identifier],
             type: "MedicationStatement", verdict: .redacted, decision: .permit),
        Case(number: "15 other class", consent: optin("15o", nested: [C.nestedDeny(actor: C.org54, classes: ["MedicationStatement"])]),
             actors: [C.org54Identifier], verdict: .permitted, decision: .permit),
        Case(number: "16", consent: optin("16", nested: [C.nestedDeny(actor: C.org54, classes: ["MedicationStatement"]), C.nestedDeny(actor: C.org54, labels: ["R"])]),
             actors: [C.org54Identifier], type: "Immunization", labels: [conf + "R"], verdict: .redacted, decision: .permit),
        Case(number: "16 unlabelled", consent: optin("16u", nested: [C.nestedDeny(actor: C.org54, classes: ["MedicationStatement"]), C.nestedDeny(actor: C.org54, labels: ["R"])]),
             actors: [C.org54Identifier], type: "Immunization", verdict: .permitted, decision: .permit),
        Case(number: "17", consent: optin("17", nested: [C.nestedDeny(actor: C.org54, codes: ["42828-4"])]), actors: [C.org54Identifier],
             codes: ["http://loinc.org|42828-4"], verdict: .redacted, decision: .permit),
        Case(number: "17 other code", consent: optin("17o", nested: [C.nestedDeny(actor: C.org54, codes: ["42828-4"])]), actors: [C.org54Identifier],
             codes: ["http://loinc.org|8867-4"], verdict: .permitted, decision: .permit),
        Case(number: "18", consent: optin("18", nested: [C.nestedDeny(actor: C.org54, labels: ["R"], classes: ["MedicationStatement"])]), actors: [C.org54Identifier],
             type: "MedicationStatement", labels: [conf + "R"], verdict: .redacted, decision: .permit),
        Case(number: "18 unlabelled", consent: optin("18u", nested: [C.nestedDeny(actor: C.org54, labels: ["R"], classes: ["MedicationStatement"])]),
             actors: [C.org54Identifier], type: "MedicationStatement", verdict: .permitted, decision: .permit),
        Case(number: "18 other class", consent: optin("18o", nested: [C.nestedDeny(actor: C.org54, labels: ["R"], classes: ["MedicationStatement"])]),
             actors: [C.org54Identifier], labels: [conf + "R"], verdict: .permitted, decision: .permit),
        Case(number: "19", consent: optin("19", rootPurposes: ["TREAT", "ETREAT"], nested: []), purpose: "HMARKT", verdict: .refused, decision: .noConsent),
        Case(number: "20", consent: optin("20", rootPurposes: ["TREAT", "ETREAT"], nested: []), purpose: "ETREAT", verdict: .permitted, decision: .permit),
    ]

    static func patientId(_ c: Case) -> String { "case-" + c.number.replacingOccurrences(of: " ", with: "-") }

    /// The resource of a case: its type in the case patient's compartment, with its labels and codes.
    static func resource(_ c: Case) throws -> Resource {
        var o = FHIRObject(["resourceType": .string(c.type), "id": .string("r-" + patientId(c))])
        let subject = FHIRValue.object(FHIRObject(["reference": .string("Patient/" + patientId(c))]))
        o[c.type == "Immunization" ? "patient" : "subject"] = subject
        if !c.labels.isEmpty {
            o["meta"] = .object(FHIRObject(["security": .array(c.labels.map { label in
                let (system, code) = (String(label.split(separator: "|")[0]), String(label.split(separator: "|")[1]))
                return .object(FHIRObject(["system": .string(system), "code": .string(code)]))
            })]))
        }
        if !c.codes.isEmpty {
            o[c.type == "Immunization" ? "vaccineCode" : "code"] = .object(FHIRObject(["coding": .array(c.codes.map { code in
                .object(FHIRObject(["system": .string("http://loinc.org"), "code": .string(String(code.split(separator: "|")[1]))]))
            })]))
        }
        return try Resource(o)
    }

    static func principal(_ actors: [String], purpose: String?) -> Principal {
        Principal(clientId: "partner-client", kind: .partner, participant: "ab" + String(repeating: "0", count: 62), identifiers: actors,
                  scopes: ["system/*.rs"], purposeOfUse: purpose)
    }

    @Test func everyCaseIsDecidedAsTheSpecificationSays() async throws {
        try await StoreKind.sqlite.withStore { store, _ in
            let ledger = try await ConsentLedgerFixture()
            defer { ledger.remove() }
            for c in Self.cases {
                // Each case's patient has its own identifier; the Consent names it as "case-<number>".
                try await ConsentLedgerFixture.storePatient(Self.patientId(c), medicare: try Self.consentPatient(c), in: store)
                if let consent = c.consent { try await ledger.submit(consent) }
            }
            try await ledger.finalize(at: Self.T - 1)
            let gate = ConsentGate(source: ChainConsentState(chain: ledger.chain), store: store, consortiumKey: ConsentLedgerFixture.consortiumKey)
            for c in Self.cases {
                let session = try #require(try await gate.session(for: Self.principal(c.actors, purpose: c.purpose), purposeHeader: nil))
                #expect(session.finalized.time == Self.T, "decided at the evaluation time")
                let decision = try await session.decide(try Self.resource(c))
                #expect(decision.verdict == c.verdict, "case \(c.number)")
                #expect(decision.decision == c.decision, "case \(c.number)")
                #expect(decision.patients == ["Patient/" + Self.patientId(c)], "case \(c.number)")
                #expect(decision.height == session.height, "case \(c.number)")
                #expect(decision.basis.isEmpty == (c.decision == .noConsent), "case \(c.number): the basis names the deciding directive")
            }
        }
    }

    /// The medicare number the case's Consent names (its patient.identifier.value); one no Consent names otherwise.
    static func consentPatient(_ c: Case) throws -> String {
        guard let consent = c.consent else { return "nobody-" + patientId(c) }
        let resource = try FHIRDocument.read(Array(consent.utf8)).resource
        return try #require(resource.object["patient"]?.objectValue?["identifier"]?.objectValue?["value"]?.stringValue)
    }
}
