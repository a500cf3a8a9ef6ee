import Crypto
import FHIRCore
import Foundation
import Ledger
import Node
import Testing

/// consent-cases.md from FHIR R4 Consent resources written for these tests: mapped to directives, granted on a
/// ledger state, and asked.
@Suite("FHIR Consent to ledger directives")
struct ConsentMappingTests {
    static let key = [UInt8](repeating: 3, count: 32)
    static let evaluation: Int64 = 1_704_067_200_000  // 2024-01-01T00:00:00Z

    /// The base opt-in Consent of consent-cases.md, with a few things to vary.
    static func optin(status: String = "active", categoryIn: String = "scope", category: String = "patient-privacy",
                      period: (String, String) = ("2020-01-01", "2030-01-01"), nestedType: String = "deny", id: String = "optin",
                      dateTime: String = "2019-06-01T10:00:00Z", nested: String? = nil) -> String {
        let concept = #"{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentscope","code":"\#(category)"}]}"#
        // Consent.scope is required in R4: with the category in `category`, scope says treatment.
        let treatment = #"{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentscope","code":"treatment"}]}"#
        let categoryJSON = categoryIn == "scope" ? #""scope":\#(concept),"category":[{"coding":[{"system":"http://loinc.org","code":"59284-0"}]}]"#
            : #""scope":\#(treatment),"category":[\#(concept)]"#
        let nestedJSON = nested ?? #"{"type":"\#(nestedType)","actor":[{"role":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ParticipationType","code":"IRCP"}]},"reference":{"identifier":{"system":"urn:ietf:rfc:3986","value":"urn:oid:2.16.840.1.113883.20.5"}}}],"action":[{"coding":[{"code":"access"}]},{"coding":[{"code":"correct"}]}]}"#
        return #"{"resourceType":"Consent","id":"\#(id)","status":"\#(status)",\#(categoryJSON),"patient":{"identifier":{"system":"http://hl7.org/fhir/sid/us-medicare","value":"0000-000-0000"}},"dateTime":"\#(dateTime)","policyRule":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"OPTIN"}]},"provision":{"type":"permit","period":{"start":"\#(period.0)","end":"\#(period.1)"},"provision":[\#(nestedJSON)]}}"#
    }

    static func directive(_ json: String) throws -> ConsentDirective {
        let resource = try JSONReader().read(Array(json.utf8))
        #expect(Validator().validate(resource).isEmpty, "the fixture is a valid R4 Consent")
        return try ConsentMapping.directive(from: resource, consortiumKey: key, consentCommitment: Array(SHA256.hash(data: Array(json.utf8))),
                                            issuedFallback: 0)
    }

    static func answer(_ consents: [String], actors: [String] = ["http://example.org/ids|other-org"], purposes: [String] = ["TREAT"],
                       classes: [String] = [], at: Int64 = evaluation) throws -> ConsentDecision {
        let signer = try SigningKey(seed: [UInt8](repeating: 41, count: 32))
        var state = LedgerState(chainId: "c", participants: [(signer.publicKey, Participant(name: "A", nodeKey: signer.publicKey, stake: 1))])
        for (n, json) in consents.enumerated() {
            let tx = try Transaction(signing: .consentDirective(try directive(json)), nonce: UInt64(n), chainId: "c", with: signer)
            try state.apply(tx, height: UInt64(n + 1), time: Int64(n + 1) * 1_000, index: 0)
        }
        let patient = PatientPseudonym.derive(consortiumKey: key, system: "http://hl7.org/fhir/sid/us-medicare", value: "0000-000-0000")
        return ConsentEvaluator.evaluate(state, ConsentQuery(patient: patient, actors: actors,
                                                             purposes: purposes.map { "http://terminology.hl7.org/CodeSystem/v3-ActReason|" + $0 },
                                                             classes: classes, at: at)).decision
    }

    @Test func casesFromFHIRConsents() throws {
        #expect(try Self.answer([Self.optin()]) == .permit, "1")
        #expect(try Self.answer([Self.optin(categoryIn: "category")]) == .permit, "2: the category in category instead of scope")
        #expect(try Self.answer([Self.optin(period: ("2015-11-01", "2016-01-01"))]) == .noConsent, "3")
        #expect(try Self.answer([Self.optin(period: ("2024-01-03T00:00:00Z", "2030-01-01"))]) == .noConsent, "4")
        #expect(try Self.answer([Self.optin()], actors: ["urn:ietf:rfc:3986|urn:oid:2.16.840.1.113883.20.5"]) == .deny, "5")
        #expect(try Self.answer([Self.optin(category: "research")]) == .noConsent, "10")
        // 9: an inactive Consent revokes; submitted alone it has nothing to revoke and grants nothing.
        #expect(try Self.directive(Self.optin(status: "inactive")).action == .revoke)
        let label = #"{"type":"deny","securityLabel":[{"system":"http://terminology.hl7.org/CodeSystem/v3-Confidentiality","code":"R"}],"class":[{"system":"http://hl7.org/fhir/resource-types","code":"MedicationStatement"}],"actor":[{"role":{"coding":[{"code":"IRCP"}]},"reference":{"identifier":{"system":"urn:ietf:rfc:3986","value":"urn:oid:2.16.840.1.113883.20.5"}}}]}"#
        #expect(try Self.answer([Self.optin(nested: label)], actors: ["urn:ietf:rfc:3986|urn:oid:2.16.840.1.113883.20.5"], classes: ["MedicationStatement"]) == .permit, "18")
        // 24: a newer Consent whose root is deny.
        let denyAll = Self.optin(id: "deny-all", dateTime: "2023-01-01T00:00:00Z").replacingOccurrences(of: #""provision":{"type":"permit""#, with: #""provision":{"type":"deny""#)
            .replacingOccurrences(of: #""type":"deny","actor""#, with: #""type":"permit","actor""#)
        #expect(try Self.answer([Self.optin(), denyAll], at: Self.evaluation) == .deny, "24")
    }

    @Test func inconsistentNestingAndDraftsAreRefusedWithAPointer() throws {
        do {
            _ = try Self.directive(Self.optin(nestedType: "permit"))
            Issue.record("a permit nested in a permit must be refused")
        } catch let f as ConsentMapping.Failure {
            #expect(f.pointer == "/provision/provision/0/type")
        }
        do {
            _ = try Self.directive(Self.optin(status: "draft"))
            Issue.record("a draft is not a consent yet")
        } catch let f as ConsentMapping.Failure {
            #expect(f.pointer == "/status")
        }
    }

    @Test func fhirTimesAsMilliseconds() throws {
        #expect(try ConsentMapping.instant("2024-01-01T00:00:00Z", pointer: "", end: false) == 1_704_067_200_000)
        #expect(try ConsentMapping.instant("2024-01-01T02:00:00+02:00", pointer: "", end: false) == 1_704_067_200_000)
        #expect(try ConsentMapping.instant("2024-01-01T00:00:00.25Z", pointer: "", end: false) == 1_704_067_200_250)
        #expect(try ConsentMapping.instant("2024", pointer: "", end: false) == 1_704_067_200_000)
        #expect(try ConsentMapping.instant("2023-12", pointer: "", end: true) == 1_704_067_200_000 - 1)
        #expect(try ConsentMapping.instant("2023-12-31", pointer: "", end: true) == 1_704_067_200_000 - 1)
        #expect(try ConsentMapping.instant("1969-12-31T23:59:59Z", pointer: "", end: false) == -1_000)
        #expect(throws: ConsentMapping.Failure.self) { try ConsentMapping.instant("2024-13-01", pointer: "", end: false) }
        #expect(throws: ConsentMapping.Failure.self) { try ConsentMapping.instant("2024-01-01T00:00Z", pointer: "", end: false) }
    }
}
