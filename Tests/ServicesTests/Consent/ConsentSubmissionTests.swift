import FHIRCore
import Foundation
import Ledger
import Node
import RecordStore
import Services
import Synchronization
import Testing
import TestSupport

/// `ConsentSubmission`, the one use case behind `consent submit`, the demo and the gateway: a Consent it refuses
/// leaves the store, its anchoring queue and the chain untouched (issue 16 items 1 and 11), on both stores; its
/// failures are `ServiceError`s the CLI and the gateway map the same way.
@Suite("Consent submission: check, store and record as one unit", .timeLimit(.minutes(5)))
struct ConsentSubmissionTests {
    static let consortiumKey = [UInt8](repeating: 9, count: 32)
    static let seeds = Repository.root.appendingPathComponent("Fuzz/seeds/fhir-json")

    /// Each hostile Consent in Fuzz/seeds/fhir-json and the pointer its refusal names.
    static let refused: [(file: String, pointer: String, issue: String)] = [
        ("consent-draft-status.json", "/status", "invalid"),
        ("consent-no-status.json", "/status", "required"),  // the validator: Consent.status is 1..1
        ("consent-unresolvable-patient-reference.json", "/patient/reference", "invalid"),
        ("consent-entered-in-error-nothing-to-revoke.json", "/status", "business-rule"),
        ("consent-rejected-nothing-to-revoke.json", "/status", "business-rule"),
        ("consent-provision-nested-in-its-own-type.json", "/provision/provision/0/type", "invalid"),
        ("consent-provisions-nested-12-deep.json", "/provision" + String(repeating: "/provision/0", count: 8), "too-costly"),
        ("consent-300-provisions.json", "/provision/provision/255", "too-costly"),
        ("consent-directive-over-64k.json", "/provision", "too-costly"),
        ("consent-period-start-after-end.json", "/provision/period", "invalid"),
        ("consent-period-2027-02-29.json", "/provision/period/start", "value"),  // the validator: no such date
        ("consent-duplicate-actors.json", "/provision/actor/1/reference", "duplicate"),
        // Parsed but not validated (the demo's and a gateway's path): the validator's refusal, at its pointer.
        ("consent-narrative-script.json", "/text/div", "security"),
    ]

    static func consent(_ path: String) throws -> Resource {
        try FHIRDocument.read(Array(try Data(contentsOf: URL(fileURLWithPath: path)))).resource
    }

    static var sample: String { Repository.root.appendingPathComponent("Samples/consent/consent-mira-treatment.json").path }

    /// What a refused submission must not have changed.
    struct Footprint: Equatable {
        var versions: Int
        var queued: Int
        var consents: Int
        var nonce: UInt64
        var mempool: Int

        init(_ store: any RecordStore, _ chain: Chain, _ key: SigningKey) async throws {
            versions = try await store.versionCount()
            queued = try await store.anchorQueueCount()
            consents = await chain.state.consents.count
            nonce = await chain.nextNonce(of: key.publicKey)
            mempool = await chain.mempoolCount
        }
    }

    @Test(arguments: StoreKind.allCases)
    func aRefusedConsentLeavesStoreAndChainUntouched(kind: StoreKind) async throws {
        try await kind.withStore { store, _ in
            let t = try TestChain()
            defer { t.remove() }
            let chain = try await t.open()
            let producer = TestChain.producing(chain)
            defer { producer.cancel() }
            let submission = ConsentSubmission(store: store, consortiumKey: Self.consortiumKey, ledger: chain)
            let before = try await Footprint(store, chain, t.key)
            #expect(before.versions == 0 && before.consents == 0)
            for (file, pointer, issue) in Self.refused {
                let consent = try Self.consent(Self.seeds.appendingPathComponent(file).path)
                do throws(ServiceError) {
                    _ = try await submission.submit(consent)
                    Issue.record("\(file) was submitted")
                } catch {
                    #expect(error.code == .unprocessable && error.httpStatus == 422 && error.exitCode == 1, "\(file): \(error)")
                    #expect(error.operationOutcome.issues.map(\.location) == [[pointer]], "\(file): \(error)")
                    #expect(error.operationOutcome.issues.map(\.code) == [issue], "\(file): \(error)")
                }
                #expect(try await Footprint(store, chain, t.key) == before, "\(file) left a trace")
                #expect(try await store.current(RecordKey(type: "Consent", id: consent.id ?? "")) == nil, "\(file) is stored")
            }
        }
    }

    @Test(arguments: StoreKind.allCases)
    func grantRevokeAndTheirRefusalsKeepStoreAndChainInStep(kind: StoreKind) async throws {
        try await kind.withStore { store, _ in
            let t = try TestChain()
            defer { t.remove() }
            let chain = try await t.open()
            let producer = TestChain.producing(chain)
            defer { producer.cancel() }
            let submission = ConsentSubmission(store: store, consortiumKey: Self.consortiumKey, ledger: chain)
            let active = try Self.consent(Self.sample)
            let granted = try await submission.submit(active)
            #expect(granted.directive.action == .grant && granted.stored.version == 1)
            #expect(granted.directive.consentCommitment == granted.stored.commitment, "the directive commits to the stored version")
            #expect(await chain.state.consents[granted.directive.directiveId]?.directive == granted.directive)

            // A second grant of the same Consent: refused by the ledger's rule, before anything is stored.
            var changed = active
            changed.object["dateTime"] = .string("2026-02-01T09:30:00Z")
            let afterGrant = try await Footprint(store, chain, t.key)
            do throws(ServiceError) {
                _ = try await submission.submit(changed)
                Issue.record("a second grant was submitted")
            } catch {
                #expect(error.code == .conflict && error.httpStatus == 409 && error.exitCode == 1, "\(error)")
                #expect(error.operationOutcome.issues.map(\.location) == [["/id"]] && error.operationOutcome.issues.map(\.code) == ["duplicate"])
            }
            #expect(try await Footprint(store, chain, t.key) == afterGrant)
            #expect(try await store.current(RecordKey(type: "Consent", id: "consent-mira-treatment"))?.version == 1)

            var inactive = active
            inactive.object["status"] = .string("inactive")
            let revoked = try await submission.submit(inactive)
            #expect(revoked.directive.action == .revoke && revoked.stored.version == 2)
            #expect(await chain.state.consents[granted.directive.directiveId]?.revokedAt != nil)

            // Entered in error after the revocation: nothing left to revoke, nothing stored.
            var enteredInError = active
            enteredInError.object["status"] = .string("entered-in-error")
            let afterRevoke = try await Footprint(store, chain, t.key)
            do throws(ServiceError) {
                _ = try await submission.submit(enteredInError)
                Issue.record("a second revocation was submitted")
            } catch {
                #expect(error.code == .unprocessable)
                #expect(error.operationOutcome.issues.first?.location == ["/status"] && error.operationOutcome.issues.first?.diagnostics.contains("already revoked") == true,
                        "\(error)")
            }
            #expect(try await Footprint(store, chain, t.key) == afterRevoke)
            #expect(try await store.current(RecordKey(type: "Consent", id: "consent-mira-treatment"))?.version == 2)
        }
    }

    /// A ledger that cannot be asked: the node is down.
    struct UnreachableLedger: ConsentLedger {
        func consentProblem(_ directive: ConsentDirective) async throws -> TransactionError? { throw NodeError("connection refused") }
        func record(_ directive: ConsentDirective) async throws -> Inclusion { throw NodeError("connection refused") }
    }

    /// The chain, whose node stops once: after the check, before the directive is recorded.
    final class StopsOnce: ConsentLedger {
        let chain: Chain
        let stopped = Mutex(false)
        init(_ chain: Chain) { self.chain = chain }
        func consentProblem(_ directive: ConsentDirective) async throws -> TransactionError? { await chain.consentProblem(directive) }
        func record(_ directive: ConsentDirective) async throws -> Inclusion {
            if stopped.withLock({ let first = !$0; $0 = true; return first }) { throw NodeError("the node stopped") }
            return try await chain.record(directive)
        }
    }

    @Test func aDirectiveNotRecordedAfterItsCheckIsRecordedBySubmittingAgain() async throws {
        try await StoreKind.sqlite.withStore { store, _ in
            let t = try TestChain()
            defer { t.remove() }
            let chain = try await t.open()
            let producer = TestChain.producing(chain)
            defer { producer.cancel() }
            let submission = ConsentSubmission(store: store, consortiumKey: Self.consortiumKey, ledger: StopsOnce(chain))
            let consent = try Self.consent(Self.sample)
            do throws(ServiceError) {
                _ = try await submission.submit(consent)
                Issue.record("recorded although the node stopped")
            } catch {
                #expect(error.code == .notReady && error.exitCode == 75 && error.reason.contains("submit the same Consent again"), "\(error)")
            }
            #expect(await chain.state.consents.isEmpty)
            let again = try await submission.submit(consent)
            #expect(again.stored.version == 1, "the second submission stores nothing new")
            #expect(await chain.state.consents[again.directive.directiveId]?.directive.consentCommitment == again.stored.commitment)
        }
    }

    @Test func aLedgerThatCannotBeAskedStoresNothing() async throws {
        try await StoreKind.sqlite.withStore { store, _ in
            let submission = ConsentSubmission(store: store, consortiumKey: Self.consortiumKey, ledger: UnreachableLedger())
            let sample = try Self.consent(Self.sample)
            do throws(ServiceError) {
                _ = try await submission.submit(sample)
                Issue.record("submitted without a ledger")
            } catch {
                #expect(error.code == .unavailable && error.exitCode == 69 && error.reason.contains("nothing was stored"), "\(error)")
            }
            #expect(try await store.versionCount() == 0)
            #expect(try await store.anchorQueueCount() == 0)
        }
    }
}
