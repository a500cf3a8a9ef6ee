import FHIRCore
import Foundation
import Ledger
import RecordStore
import Services
import Testing
import TestSupport

/// The audit trail: BALP-shaped AuditEvents that validate, stored before the caller goes on, concurrent ones
/// group-committed into fewer store transactions, each one a versioned record queued for anchoring.
@Suite("Audit trail: AuditEvents (IHE BALP) and group commit", .timeLimit(.minutes(5)))
struct AuditTrailTests {
    static let participant = "7f" + String(repeating: "01", count: 31)
    static let directive = String(repeating: "ab", count: 32)

    static func read(outcome: AuditedAccess.Outcome = .success, decision: ConsentDecision = .permit) -> AuditedAccess {
        AuditedAccess(interaction: .read, clientId: "partner-b-client", participant: participant,
                      identifiers: ["http://example.org/ids|partner-hospital-b"], patients: ["Patient/mira"],
                      resources: ["Observation/o1/_history/2"], purpose: "http://terminology.hl7.org/CodeSystem/v3-ActReason|TREAT",
                      outcome: outcome, outcomeDescription: outcome == .success ? nil : "refused by the patient's consent",
                      height: 42, decision: decision, basis: decision == .noConsent ? [] : [directive])
    }

    static let recorded = Date(timeIntervalSince1970: 1_704_067_200.125)

    @Test(arguments: [read(), read(outcome: .minorFailure, decision: .deny), read(outcome: .minorFailure, decision: .noConsent),
                      AuditedAccess(interaction: .searchType, clientId: "c", identifiers: [], patients: [], query: "Observation?patient=Patient/mira&_count=50",
                                    purpose: "http://terminology.hl7.org/CodeSystem/v3-ActReason|ETREAT", outcome: .success, height: 7)])
    func anAuditEventValidates(access: AuditedAccess) throws {
        let event = try AuditEventBuilder(observer: "careledger gateway, Hospital A").event(access, recorded: Self.recorded, id: "ae-1")
        let issues = Validator().validate(event)
        #expect(issues.isEmpty, "\(issues.map(\.diagnostics))")
        #expect(event.object["outcome"]?.stringValue == access.outcome.rawValue)
        #expect(event.object["recorded"]?.stringValue == "2024-01-01T00:00:00.125Z")
    }

    @Test func anAuditEventSaysWhoWhichPatientWhatWhyTheOutcomeAndTheLedgerHeight() throws {
        let event = try AuditEventBuilder(observer: "gateway A").event(Self.read(outcome: .minorFailure, decision: .deny), recorded: Self.recorded, id: "ae-2")
        let o = event.object
        #expect(o["subtype"]?.arrayValue?.first?.objectValue?["code"]?.stringValue == "read")
        #expect(o["action"]?.stringValue == "R")
        #expect(o["outcome"]?.stringValue == "4")
        #expect(o["purposeOfEvent"]?.arrayValue?.first?.objectValue?["coding"]?.arrayValue?.first?.objectValue?["code"]?.stringValue == "TREAT")
        let agents = o["agent"]?.arrayValue?.compactMap(\.objectValue) ?? []
        #expect(agents.count == 3)
        let client = try #require(agents.first)
        #expect(client["requestor"] == .bool(true))
        #expect(client["who"]?.objectValue?["identifier"]?.objectValue?["value"]?.stringValue == "partner-b-client")
        #expect(client["altId"]?.stringValue == Self.participant)
        #expect(agents[1]["who"]?.objectValue?["identifier"]?.objectValue?["value"]?.stringValue == "partner-hospital-b")
        #expect(agents[1]["policy"]?.arrayValue == [.string(AuditEventBuilder.directivePrefix + Self.directive)])
        let entities = o["entity"]?.arrayValue?.compactMap(\.objectValue) ?? []
        #expect(entities.map { $0["what"]?.objectValue?["reference"]?.stringValue } == ["Patient/mira", "Observation/o1/_history/2"])
        let details = entities.first?["detail"]?.arrayValue?.compactMap(\.objectValue) ?? []
        #expect(details.map { $0["type"]?.stringValue } == ["consent-decision", "ledger-height", "consent-basis"])
        #expect(details.map { $0["valueString"]?.stringValue } == ["CONSENT_DENY", "42", Self.directive])
        // The AuditEvent is in the patient's compartment (AuditEvent.patient: entity.what).
        #expect(PatientCompartment.patients(of: event) == ["Patient/mira"])
    }

    @Test(arguments: StoreKind.allCases)
    func concurrentAccessesAreStoredInFewerTransactions(kind: StoreKind) async throws {
        try await kind.withStore { store, _ in
            let trail = AuditTrail(store: store, observer: "gateway A", flushWindow: .milliseconds(50))
            let n = 40
            let keys = try await withThrowingTaskGroup(of: RecordKey.self) { group in
                for _ in 0..<n { group.addTask { try await trail.record(Self.read()) } }
                var keys: [RecordKey] = []
                for try await key in group { keys.append(key) }
                return keys
            }
            #expect(Set(keys).count == n)
            var txids = Set<Int64>()
            for key in keys {
                // Stored when record() returned: version 1 of a validated AuditEvent, waiting to be anchored.
                let stored = try #require(try await store.current(key))
                #expect(stored.key.type == "AuditEvent" && stored.version == 1)
                #expect(FHIRDocument.validate(stored.canonical).issues.filter(\.isError).isEmpty)
                txids.insert(stored.txid)
            }
            let transactions = await trail.transactions
            #expect(await trail.stored == n)
            #expect(transactions < n, "group commit: \(transactions) transactions for \(n) AuditEvents")
            #expect(txids.count == transactions, "one store transaction per flush")
            #expect(try await store.anchorQueueCount() == n, "every AuditEvent is queued for anchoring like any record")
        }
    }

    @Test func aFullBatchIsStoredWithoutWaitingForTheWindow() async throws {
        try await StoreKind.sqlite.withStore { store, _ in
            // A window far longer than the test's time limit: only the batch bound can flush these.
            let trail = AuditTrail(store: store, observer: "gateway A", flushWindow: .seconds(3600), maxBatch: 4)
            try await withThrowingTaskGroup(of: RecordKey.self) { group in
                for _ in 0..<8 { group.addTask { try await trail.record(Self.read()) } }
                for try await _ in group {}
            }
            #expect(await trail.stored == 8)
            #expect(await trail.transactions == 2)
        }
    }
}
