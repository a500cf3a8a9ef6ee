import FHIRCore
import Foundation
import Ledger
import Node
import RecordStore
import Services
import Testing
import TestSupport

/// Decisions that depend on what the ledger recorded when (consent-cases.md 9 and 22–24), the decision cache per
/// (partner, patient, purpose, height), and who is not consent-filtered.
@Suite("Consent enforcement: the ledger's sequence and the decision cache", .timeLimit(.minutes(5)))
struct ConsentSequenceTests {
    typealias C = CaseConsents
    static let T = ConsentLedgerFixture.evaluation
    static let partner = Principal(clientId: "partner-client", kind: .partner, identifiers: [C.otherOrgIdentifier], scopes: ["system/*.rs"])

    static func observation(_ patient: String, id: String = "o1") throws -> Resource {
        try FHIRDocument.read(Array("""
            {"resourceType": "Observation", "id": "\(id)", "status": "final", "code": {"text": "pulse"}, "subject": {"reference": "Patient/\(patient)"}}
            """.utf8)).resource
    }

    @Test func aRevokeAndANewerDenyChangeTheDecisionAtTheNextHeight() async throws {
        try await StoreKind.sqlite.withStore { store, _ in
            let ledger = try await ConsentLedgerFixture()
            defer { ledger.remove() }
            try await ConsentLedgerFixture.storePatient("p22", medicare: "case-22", in: store)
            try await ConsentLedgerFixture.storePatient("p24", medicare: "case-24", in: store)
            try await ledger.submit(C.consent(id: "consent-22", patient: "case-22", nested: []))
            try await ledger.submit(C.consent(id: "consent-24", patient: "case-24", dateTime: "2023-12-01T00:00:00Z", nested: []))
            try await ledger.finalize(at: Self.T - 10 * ConsentLedgerFixture.hour)
            let gate = ConsentGate(source: ChainConsentState(chain: ledger.chain), store: store, consortiumKey: ConsentLedgerFixture.consortiumKey)

            // 22: between the grant and the revoke.
            let before = try #require(try await gate.session(for: Self.partner, purposeHeader: nil))
            #expect(try await before.decide(Self.observation("p22")).verdict == .permitted, "22")
            #expect(try await before.decide(Self.observation("p24")).verdict == .permitted, "24 before the deny")

            // 9 / 23: the Consent made inactive (a revoke); 24: a newer Consent with a root deny.
            try await ledger.submit(C.consent(id: "consent-22", patient: "case-22", status: "inactive", nested: []))
            try await ledger.submit(C.consent(id: "consent-24-deny", patient: "case-24", dateTime: "2023-12-20T00:00:00Z", rootType: "deny", nested: []))
            try await ledger.finalize(at: Self.T - 1)
            let after = try #require(try await gate.session(for: Self.partner, purposeHeader: nil))
            #expect(after.height > before.height)
            let revoked = try await after.decide(Self.observation("p22"))
            #expect(revoked.verdict == .refused && revoked.decision == .noConsent, "23")
            let denied = try await after.decide(Self.observation("p24"))
            #expect(denied.verdict == .refused && denied.decision == .deny, "24")
            // The session taken before still decides at its own height.
            #expect(try await before.decide(Self.observation("p22")).verdict == .permitted)
        }
    }

    @Test func decisionsAreCachedPerPartnerPatientPurposeAndHeight() async throws {
        try await StoreKind.sqlite.withStore { store, _ in
            let ledger = try await ConsentLedgerFixture()
            defer { ledger.remove() }
            try await ConsentLedgerFixture.storePatient("p1", medicare: "case-1", in: store)
            try await ConsentLedgerFixture.storePatient("p2", medicare: "case-2", in: store)
            try await ledger.submit(C.consent(id: "consent-1", patient: "case-1", nested: []))
            try await ledger.finalize(at: Self.T - 100)
            let cache = ConsentDecisionCache()
            let gate = ConsentGate(source: ChainConsentState(chain: ledger.chain), store: store, consortiumKey: ConsentLedgerFixture.consortiumKey, cache: cache)

            let session = try #require(try await gate.session(for: Self.partner, purposeHeader: nil))
            _ = try await session.decide(Self.observation("p1", id: "a"))
            #expect(cache.counts == .init(hits: 0, misses: 1))
            _ = try await session.decide(Self.observation("p1", id: "b"))
            #expect(cache.counts == .init(hits: 1, misses: 1), "the same patient again: a hit")
            _ = try await session.decide(Self.observation("p2"))
            #expect(cache.counts == .init(hits: 1, misses: 2), "another patient: a miss")
            let emergency = try #require(try await gate.session(for: Self.partner, purposeHeader: "ETREAT"))
            _ = try await emergency.decide(Self.observation("p1"))
            #expect(cache.counts == .init(hits: 1, misses: 3), "another purpose: a miss")
            var otherPartner = Self.partner
            otherPartner.identifiers = [C.org54Identifier]
            _ = try await (try #require(try await gate.session(for: otherPartner, purposeHeader: nil))).decide(Self.observation("p1"))
            #expect(cache.counts == .init(hits: 1, misses: 4), "another partner: a miss")

            // A new finalized height: the same question is decided again, then cached at that height.
            try await ledger.chain.produceBlock(now: Self.T)
            let next = try #require(try await gate.session(for: Self.partner, purposeHeader: nil))
            #expect(next.height == session.height + 1)
            _ = try await next.decide(Self.observation("p1"))
            #expect(cache.counts == .init(hits: 1, misses: 5), "a new height: a miss")
            _ = try await next.decide(Self.observation("p1"))
            #expect(cache.counts == .init(hits: 2, misses: 5))
            // A request still at the older height neither reads nor refills the cache.
            _ = try await session.decide(Self.observation("p1"))
            #expect(cache.counts == .init(hits: 2, misses: 6))
            _ = try await next.decide(Self.observation("p1"))
            #expect(cache.counts == .init(hits: 3, misses: 6))
        }
    }

    @Test func localClientsAreNotFilteredAndResourcesOutsideEveryCompartmentNeedNoConsent() async throws {
        try await StoreKind.sqlite.withStore { store, _ in
            let ledger = try await ConsentLedgerFixture()
            defer { ledger.remove() }
            try await ledger.finalize(at: Self.T - 1)
            let gate = ConsentGate(source: ChainConsentState(chain: ledger.chain), store: store, consortiumKey: ConsentLedgerFixture.consortiumKey)
            let local = Principal(clientId: "ehr", kind: .local, scopes: ["system/*.cruds"])
            #expect(try await gate.session(for: local, purposeHeader: "HMARKT") == nil)

            let session = try #require(try await gate.session(for: Self.partner, purposeHeader: nil))
            let organization = try FHIRDocument.read(Array(#"{"resourceType": "Organization", "id": "org1", "name": "Riverside"}"#.utf8)).resource
            let decision = try await session.authorize(read: organization)
            #expect(decision.verdict == .notPatientData && decision.patients.isEmpty)
            // An Observation of a patient without consent: refused, 403 with an OperationOutcome.
            do {
                _ = try await session.authorize(read: Self.observation("p-unknown"))
                Issue.record("a read without consent was authorized")
            } catch let error as ServiceError {
                #expect(error.code == .forbidden && error.httpStatus == 403)
                #expect(error.operationOutcome.issues.map(\.code) == ["forbidden"])
            }
        }
    }

    @Test func thePurposeComesFromTheTokenThenTheHeaderAndIsTreatOtherwise() throws {
        var principal = Self.partner
        let purpose = "http://terminology.hl7.org/CodeSystem/v3-ActReason|"
        #expect(try ConsentTerms.of(principal, purposeHeader: nil)?.purpose == purpose + "TREAT")
        #expect(try ConsentTerms.of(principal, purposeHeader: " ETREAT ")?.purpose == purpose + "ETREAT")
        #expect(try ConsentTerms.of(principal, purposeHeader: "http://example.org/reasons|STUDY")?.purpose == "http://example.org/reasons|STUDY")
        principal.purposeOfUse = "HPAYMT"
        #expect(try ConsentTerms.of(principal, purposeHeader: "ETREAT")?.purpose == purpose + "HPAYMT", "the token's claim wins")
        principal.purposeOfUse = nil
        #expect(throws: ServiceError.self) { try ConsentTerms.of(principal, purposeHeader: "a|b|c") }
    }
}
