import Crypto
import Ledger
import Testing

/// ../shared/specs/consent-cases.md on ledger directives (the FHIR Consent mapping of cases 2 and 9 — category in
/// `scope` or `category`, status inactive — belongs to `consent submit`, which maps a Consent to a directive).
@Suite("Consent decisions (consent-cases.md)")
struct ConsentEvaluatorTests {
    static let chainId = "careledger-consent"
    static let privacy = ConsentQuery.patientPrivacy
    static let research = "http://terminology.hl7.org/CodeSystem/consentscope|research"
    static let reason = "http://terminology.hl7.org/CodeSystem/v3-ActReason|"
    static let conf = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality|"
    static let actCode = "http://terminology.hl7.org/CodeSystem/v3-ActCode|"
    static let org54 = "urn:ietf:rfc:3986|urn:oid:2.16.840.1.113883.20.5"
    static let otherOrg = "http://example.org/ids|other-org"
    static let drBob = "http://example.org/ids|dr-bob"
    static let patient = PatientPseudonym.derive(consortiumKey: [UInt8](repeating: 3, count: 32), system: "http://hl7.org/fhir/sid/us-medicare", value: "0000-000-0000")
    /// 2024-01-01T00:00:00Z and the optin period 2020-01-01..2030-01-01, in milliseconds.
    static let evaluation: Int64 = 1_704_067_200_000
    static let optinPeriod = Period(start: 1_577_836_800_000, end: 1_893_456_000_000)
    static let hour: Int64 = 3_600_000

    static func optin(nested: [Provision] = [Provision(kind: .deny, actors: [org54])], period: Period? = optinPeriod,
                      purposes: [String] = [], category: String = privacy) -> (Provision, String) {
        (Provision(kind: .permit, period: period, purposes: purposes, provisions: nested), category)
    }

    /// A chain state where each (root provision, category) is granted in turn at block times 1000, 2000, … (issued
    /// in the same order), and optionally revoked.
    static func state(_ consents: [(Provision, String)], revokeFirstAt: Int64? = nil) throws -> LedgerState {
        let key = try SigningKey(seed: [UInt8](repeating: 31, count: 32))
        var state = LedgerState(chainId: chainId, participants: [(key.publicKey, Participant(name: "A", nodeKey: key.publicKey, stake: 1))])
        var nonce: UInt64 = 0
        for (n, (provision, category)) in consents.enumerated() {
            let d = ConsentDirective(action: .grant, directiveId: Array(SHA256.hash(data: [UInt8(n)])), patient: patient, grantees: [],
                                     categories: [category], issued: Int64(n + 1) * 1_000, provision: provision,
                                     consentCommitment: Array(SHA256.hash(data: [UInt8(n), 7])))
            try state.apply(try Transaction(signing: .consentDirective(d), nonce: nonce, chainId: chainId, with: key), height: UInt64(n + 1), time: Int64(n + 1) * 1_000, index: 0)
            nonce += 1
        }
        if let at = revokeFirstAt {
            var revoke = ConsentDirective(action: .revoke, directiveId: Array(SHA256.hash(data: [0])), patient: patient, grantees: [], categories: [],
                                          issued: at, provision: Provision(kind: .permit), consentCommitment: [UInt8](repeating: 0, count: 32))
            revoke.action = .revoke
            try state.apply(try Transaction(signing: .consentDirective(revoke), nonce: nonce, chainId: chainId, with: key), height: 99, time: at, index: 0)
        }
        return state
    }

    static func ask(_ state: LedgerState, actors: [String] = [otherOrg], purposes: [String] = ["TREAT"], classes: [String] = [], labels: [String] = [],
                    codes: [String] = [], at: Int64 = evaluation) -> ConsentAnswer {
        ConsentEvaluator.evaluate(state, ConsentQuery(patient: patient, actors: actors, purposes: purposes.map { reason + $0 }, classes: classes,
                                                      labels: labels, codes: codes, at: at))
    }

    @Test func baseOptIn() throws {
        let optin = try Self.state([Self.optin()])
        #expect(Self.ask(optin) == ConsentAnswer(decision: .permit, obligations: [], basedOn: [Array(SHA256.hash(data: [0]))]), "1")
        #expect(Self.ask(try Self.state([Self.optin(period: Period(start: 1_446_336_000_000, end: 1_451_606_400_000))])).decision == .noConsent, "3")
        #expect(Self.ask(try Self.state([Self.optin(period: Period(start: Self.evaluation + 48 * Self.hour))])).decision == .noConsent, "4")
        #expect(Self.ask(optin, actors: [Self.org54]) == ConsentAnswer(decision: .deny, obligations: [], basedOn: [Array(SHA256.hash(data: [0]))]), "5")
        #expect(Self.ask(optin, actors: [Self.org54, Self.otherOrg]).decision == .deny, "6")
        let bob = try Self.state([Self.optin(nested: [Provision(kind: .deny, actors: [Self.drBob])])])
        #expect(Self.ask(bob, actors: [Self.drBob]).decision == .deny, "7")
        let marketing = try Self.state([Self.optin(nested: [Provision(kind: .deny, purposes: [Self.reason + "HMARKT"])])])
        #expect(Self.ask(marketing, purposes: ["HMARKT"]).decision == .deny, "8")
        #expect(Self.ask(try Self.state([Self.optin(category: Self.research)])).decision == .noConsent, "10")
    }

    @Test func redactionByLabelClassAndCode() throws {
        func deny(labels: [String] = [], classes: [String] = [], codes: [String] = [], actors: [String] = [Self.org54], purposes: [String] = []) -> Provision {
            Provision(kind: .deny, actors: actors, purposes: purposes, dataClasses: classes, securityLabels: labels, codes: codes)
        }
        let r = Self.conf + "R", v = Self.conf + "V"
        let c11 = Self.ask(try Self.state([Self.optin(nested: [deny(labels: [r])])]), actors: [Self.org54])
        #expect(c11.decision == .permit && c11.obligations == [RedactObligation(labels: [r], classes: [], codes: [])], "11")
        let c12 = Self.ask(try Self.state([Self.optin(nested: [deny(labels: [Self.actCode + "ETHUD", Self.actCode + "HIV"])])]), actors: [Self.org54])
        #expect(c12.decision == .permit && c12.obligations.flatMap(\.labels) == [Self.actCode + "ETHUD", Self.actCode + "HIV"], "12")
        let three = try Self.state([Self.optin(nested: [deny(labels: [r]), deny(labels: [v]), deny(actors: [], purposes: [Self.reason + "HMARKT"])])])
        let c13 = Self.ask(three, actors: [Self.org54])
        #expect(c13.decision == .permit && Set(c13.obligations.flatMap(\.labels)).isSuperset(of: [r, v]), "13")
        let c14 = Self.ask(three, actors: [Self.org54], purposes: ["HMARKT"])
        #expect(c14.decision == .deny && c14.obligations.isEmpty, "14")
        let med = "MedicationStatement"
        #expect(Self.ask(try Self.state([Self.optin(nested: [deny(classes: [med])])]), actors: [Self.org54], classes: [med]).decision == .deny, "15")
        let c16 = Self.ask(try Self.state([Self.optin(nested: [deny(classes: [med]), deny(labels: [r])])]), actors: [Self.org54], classes: ["Immunization"])
        #expect(c16.decision == .permit && c16.obligations == [RedactObligation(labels: [r], classes: [], codes: [])], "16")
        let loinc = "http://loinc.org|42828-4"
        let c17 = Self.ask(try Self.state([Self.optin(nested: [deny(codes: [loinc])])]), actors: [Self.org54])
        #expect(c17.decision == .permit && c17.obligations == [RedactObligation(labels: [], classes: [], codes: [loinc])], "17")
        let c18 = Self.ask(try Self.state([Self.optin(nested: [deny(labels: [r], classes: [med])])]), actors: [Self.org54], classes: [med])
        #expect(c18.decision == .permit && c18.obligations == [RedactObligation(labels: [r], classes: [med], codes: [])], "18")
    }

    @Test func purposeInTheRootProvision() throws {
        let s = try Self.state([Self.optin(nested: [], purposes: [Self.reason + "TREAT", Self.reason + "ETREAT"])])
        #expect(Self.ask(s, purposes: ["HMARKT"]).decision == .noConsent, "19")
        #expect(Self.ask(s, purposes: ["ETREAT"]).decision == .permit, "20")
        #expect(Self.ask(s, purposes: ["ETREAT", "HMARKT"]).decision == .permit, "21")
    }

    @Test func ledgerBehaviour() throws {
        // Granted at block time 1000, revoked at 5000.
        let revoked = try Self.state([Self.optin(period: nil)], revokeFirstAt: 5_000)
        #expect(Self.ask(revoked, at: 3_000).decision == .permit, "22")
        #expect(Self.ask(revoked, at: 6_000).decision == .noConsent, "23")
        #expect(Self.ask(revoked, at: 500).decision == .noConsent, "not yet granted")
        let newer = try Self.state([Self.optin(period: nil), (Provision(kind: .deny), Self.privacy)])
        #expect(Self.ask(newer, at: 3_000).decision == .deny, "24")
        #expect(Self.ask(newer, at: 1_500).decision == .permit, "before the newer one")
    }

    @Test func inconsistentNestingIsRefused() throws {
        let key = try SigningKey(seed: [UInt8](repeating: 31, count: 32))
        var state = LedgerState(chainId: Self.chainId, participants: [(key.publicKey, Participant(name: "A", nodeKey: key.publicKey, stake: 1))])
        let bad = ConsentDirective(action: .grant, directiveId: Array(SHA256.hash(data: [1])), patient: Self.patient, grantees: [], categories: [Self.privacy],
                                   issued: 1, provision: Provision(kind: .permit, provisions: [Provision(kind: .permit)]), consentCommitment: Array(SHA256.hash(data: [2])))
        let tx = try Transaction(signing: .consentDirective(bad), nonce: 0, chainId: Self.chainId, with: key)
        do throws(TransactionError) {
            try state.apply(tx, height: 1, time: 1, index: 0)
            Issue.record("a permit inside a permit must be refused")
        } catch {
            #expect(error.code == .malformed)
        }
    }
}
