import FHIRCore
import Foundation
import Ledger
import Node
import RecordStore
import Services
import Testing
import TestSupport

/// Consent query, prove and revoke as the application layer runs them for the CLI, the demo and the gateway: the
/// sample Consent granted on a real chain is answered at the last finalized height, its proof verifies against
/// the genesis as `careledger verify` checks it, and a revoke takes the grant away.
@Suite("Consent query, prove and revoke", .timeLimit(.minutes(5)))
struct ConsentAnswersTests {
    static let consortiumKey = [UInt8](repeating: 9, count: 32)
    static let patient = "urn:oid:2.16.840.1.113883.4.7.1|MRN-40021"
    static let partner = "http://example.org/ids|partner-hospital-b"
    /// Within the sample Consent's period.
    static let inPeriod = "2027-03-01"

    static func sampleConsent() throws -> Resource {
        let path = Repository.root.appendingPathComponent("Samples/consent/consent-mira-treatment.json")
        return try FHIRDocument.read(Array(try Data(contentsOf: path))).resource
    }

    @Test(arguments: StoreKind.allCases)
    func aGrantIsAnsweredProvenAndRevoked(kind: StoreKind) async throws {
        try await kind.withStore { store, _ in
            let t = try TestChain()
            defer { t.remove() }
            let chain = try await t.open()
            let producer = TestChain.producing(chain)
            defer { producer.cancel() }
            let submission = ConsentSubmission(store: store, consortiumKey: Self.consortiumKey, ledger: chain)
            let granted = try await submission.submit(try Self.sampleConsent())
            let answers = ConsentAnswers(chain: chain, consortiumKey: Self.consortiumKey)

            // The test chain's blocks are from 2023, before the Consent's period (2026-01-15 to 2030-12-31): evaluated
            // at block time (never the wall clock), nothing applies; at a time within the period, the grant does.
            let atBlockTime = try ConsentQuestion(patient: Self.patient, actors: [Self.partner], purposes: ["TREAT"])
            #expect(try await answers.query(atBlockTime).answer.decision == .noConsent)
            let treat = try ConsentQuestion(patient: Self.patient, actors: [Self.partner], purposes: ["TREAT"], at: Self.inPeriod)
            let permit = try await answers.query(treat)
            #expect(permit.answer.decision == .permit)
            #expect(permit.answer.basedOn == [granted.directive.directiveId])
            #expect(permit.header.height > granted.inclusion.height, "answered from a header that commits to the state with the grant")
            let medication = try ConsentQuestion(patient: Self.patient, actors: [Self.partner], purposes: ["TREAT"], classes: ["MedicationStatement"], at: Self.inPeriod)
            #expect(try await answers.query(medication).answer.decision == .deny)
            let marketing = try ConsentQuestion(patient: Self.patient, actors: [Self.partner], purposes: ["HMARKT"], at: Self.inPeriod)
            #expect(try await answers.query(marketing).answer.decision == .noConsent)

            // The proof of the same question, through its JSON, checked as `careledger verify` checks it.
            let proof = try await answers.prove(treat)
            #expect(proof.answer.decision == .permit)
            let document = Array(try ConsentJSON.encode(proof))
            guard case .consentProof(_, let verified) = ReceiptVerification.verify(document: document, genesis: t.genesis, record: nil) else {
                Issue.record("the proof does not verify against the genesis")
                return
            }
            #expect(verified == proof.answer)
            // Against another chain's genesis, the commit check fails and says so.
            let other = try TestChain(chainId: "another-chain")
            defer { other.remove() }
            guard case .failed(let check, _) = ReceiptVerification.verify(document: document, genesis: other.genesis, record: nil) else {
                Issue.record("a proof verified against another chain's genesis")
                return
            }
            #expect(!check.isEmpty)

            // Revoke by the Consent's id: the stored Consent, inactive, as a new version; the grant is gone.
            let revoked = try await submission.revoke(consentId: "consent-mira-treatment")
            #expect(revoked.directive.action == .revoke && revoked.stored.version == 2)
            let stored = try #require(try await store.current(RecordKey(type: "Consent", id: "consent-mira-treatment")))
            #expect(try FHIRDocument.read(stored.canonical).resource.object["status"]?.stringValue == "inactive")
            await chain.nextBlock()
            #expect(try await answers.query(treat).answer.decision != .permit)
            do throws(ServiceError) {
                _ = try await submission.revoke(consentId: "no-such-consent")
                Issue.record("a Consent that is not stored was revoked")
            } catch {
                #expect(error.code == .notFound && error.httpStatus == 404, "\(error)")
            }
        }
    }

    /// A Consent naming its actor by a literal reference (`Organization/partner-b`, the common form): the use case
    /// records the stored Organization's identifier, so the partner asking by that identifier is permitted; a
    /// reference to nothing stored is refused at its pointer, and nothing is stored.
    @Test(arguments: StoreKind.allCases)
    func literalActorReferencesAreRecordedAsTheirIdentifiers(kind: StoreKind) async throws {
        try await kind.withStore { store, _ in
            let t = try TestChain()
            defer { t.remove() }
            let chain = try await t.open()
            let producer = TestChain.producing(chain)
            defer { producer.cancel() }
            let organization = #"{"resourceType":"Organization","id":"partner-b","identifier":[{"system":"http://example.org/ids","value":"partner-hospital-b"}],"name":"Partner Hospital B"}"#
            _ = try await store.commit([try PreparedRecord(resource: try FHIRDocument.read(Array(organization.utf8)).resource)], batch: nil)
            var consent = try Self.sampleConsent()
            guard var provision = consent.object["provision"]?.objectValue, var first = provision["actor"]?.arrayValue?.first?.objectValue else {
                Issue.record("the sample Consent has no provision actor")
                return
            }
            /// The sample's actor (its role kept), naming `reference` instead of its identifier.
            func actor(_ reference: String) -> FHIRValue {
                first["reference"] = .object(FHIRObject(["reference": .string(reference)]))
                return .array([.object(first)])
            }
            let submission = ConsentSubmission(store: store, consortiumKey: Self.consortiumKey, ledger: chain)
            provision["actor"] = actor("Organization/nobody")
            consent.object["provision"] = .object(provision)
            let versions = try await store.versionCount()
            do throws(ServiceError) {
                _ = try await submission.submit(consent)
                Issue.record("an actor that names nothing stored was recorded")
            } catch {
                #expect(error.code == .unprocessable && error.operationOutcome.issues.map(\.location) == [["/provision/actor/0/reference"]], "\(error)")
            }
            #expect(try await store.versionCount() == versions, "nothing stored")

            provision["actor"] = actor("Organization/partner-b")
            consent.object["provision"] = .object(provision)
            let granted = try await submission.submit(consent)
            #expect(granted.directive.action == .grant)
            let answers = ConsentAnswers(chain: chain, consortiumKey: Self.consortiumKey)
            let byIdentifier = try ConsentQuestion(patient: Self.patient, actors: [Self.partner], purposes: ["TREAT"], at: Self.inPeriod)
            #expect(try await answers.query(byIdentifier).answer.decision == .permit)
            let another = try ConsentQuestion(patient: Self.patient, actors: ["http://example.org/ids|hospital-c"], purposes: ["TREAT"], at: Self.inPeriod)
            #expect(try await answers.query(another).answer.decision == .noConsent)
        }
    }

    @Test func aChainWithoutABlockIsNotReady() async throws {
        let t = try TestChain()
        defer { t.remove() }
        let answers = ConsentAnswers(chain: try await t.open(), consortiumKey: Self.consortiumKey)
        let question = try ConsentQuestion(patient: Self.patient, actors: [Self.partner], purposes: ["TREAT"])
        do throws(ServiceError) {
            _ = try await answers.query(question)
            Issue.record("answered without a block")
        } catch {
            #expect(error.code == .notReady && error.exitCode == 75 && error.httpStatus == 503, "\(error)")
        }
    }

    /// Terms that could never match a directive are refused with the option that is wrong, as a bad request.
    @Test(arguments: [
        (["bogus"], ["TREAT"], "--actor"),
        ([ConsentAnswersTests.partner], ["|||"], "--purpose"),
    ])
    func malformedTermsAreABadRequest(actors: [String], purposes: [String], option: String) throws {
        do throws(ServiceError) {
            _ = try ConsentQuestion(patient: Self.patient, actors: actors, purposes: purposes)
            Issue.record("\(actors) \(purposes) were accepted")
        } catch {
            #expect(error.code == .invalidRequest && error.exitCode == 64 && error.httpStatus == 400, "\(error)")
            #expect(error.reason.hasPrefix(option), "\(error)")
        }
    }

    @Test func bareCodesAreQualifiedInTheirVocabulary() throws {
        let question = try ConsentQuestion(patient: Self.patient, actors: ["Organization/partner-b"], purposes: ["TREAT"], labels: ["R"], at: "2027-03-01")
        #expect(question.purposes == ["http://terminology.hl7.org/CodeSystem/v3-ActReason|TREAT"])
        #expect(question.labels == ["http://terminology.hl7.org/CodeSystem/v3-Confidentiality|R"])
        #expect(question.category == "http://terminology.hl7.org/CodeSystem/consentscope|patient-privacy")
        #expect(question.at != nil)
        let query = question.query(consortiumKey: Self.consortiumKey, blockTime: 5)
        #expect(query.patient == PatientPseudonym.derive(consortiumKey: Self.consortiumKey, system: "urn:oid:2.16.840.1.113883.4.7.1", value: "MRN-40021"))
        #expect(query.at == question.at)
    }
}
