import FHIRCore
import Foundation
import Ledger
import Node
import RecordStore
import Testing
import TestSupport

/// Consent actors and organizations given as literal references (`Organization/x`, as in HL7's own R4 examples) are
/// recorded on the ledger as the identifiers of the resources they name, resolved in a real store; one that names
/// nothing with an identifier is refused at its JSON pointer.
@Suite("Consent actors resolved to identifiers")
struct ConsentActorResolutionTests {
    static let corpus = Repository.root.deletingLastPathComponent().appendingPathComponent("shared/corpus/fhir-r4-examples")
    static let key = [UInt8](repeating: 9, count: 32)
    /// Artis University Medical Center's identifier in organization-example-f201-aumc.json.
    static let aumc = "http://www.zorgkaartnederland.nl/|Artis University Medical Center"

    static func corpusResource(_ name: String) throws -> Resource {
        try FHIRDocument.read(Array(try Data(contentsOf: corpus.appendingPathComponent(name)))).resource
    }

    /// HL7's consent-example-Out.json (organization and actor `Organization/f001`, patient `Patient/f001`), with the
    /// root provision's type, which R4's examples leave out and the mapping needs, and its references pointed at
    /// `organization` and `actor` (the corpus has no Organization f001).
    static func outConsent(organization: String = "Organization/f201", actor: String = "Organization/f201") throws -> Resource {
        var text = String(decoding: try Data(contentsOf: corpus.appendingPathComponent("consent-example-Out.json")), as: UTF8.self)
        // The organization's reference comes first in the file, the provision's actor after it.
        let literal = #""reference": "Organization/f001""#
        if let first = text.range(of: literal) { text.replaceSubrange(first, with: #""reference": "\#(organization)""#) }
        text = text.replacingOccurrences(of: literal, with: #""reference": "\#(actor)""#)
        text = text.replacingOccurrences(of: #""provision": {"#, with: #""provision": {"type": "deny","#)
        return try FHIRDocument.read(Array(text.utf8)).resource
    }

    /// A store with HL7's Organization f201 (one identifier), Organization f002 (none) and Patient f001.
    static func store(in dir: URL) async throws -> SQLiteStore {
        let store = try SQLiteStore(path: dir.appendingPathComponent("store.sqlite").path)
        for name in ["organization-example-f201-aumc.json", "organization-example-f002-burgers-card.json", "patient-example-f001-pieter.json"] {
            _ = try await store.commit([try PreparedRecord(resource: try corpusResource(name))], batch: nil)
        }
        return store
    }

    static func directive(_ consent: Resource, actors: [String: [String]]) throws(ConsentMapping.Failure) -> ConsentDirective {
        try ConsentMapping.directive(from: consent, consortiumKey: key, consentCommitment: [UInt8](repeating: 1, count: 32), issuedFallback: 0,
                                     resolvePatient: { _ in ("urn:oid:2.16.840.1.113883.2.4.6.3", "738472983") }, resolveActor: { actors[$0] ?? [] })
    }

    static func failure(_ consent: Resource, actors: [String: [String]]) -> ConsentMapping.Failure? {
        do throws(ConsentMapping.Failure) {
            _ = try directive(consent, actors: actors)
            return nil
        } catch {
            return error
        }
    }

    @Test func literalActorsBecomeTheReferencedOrganizationsIdentifiers() async throws {
        let dir = try Repository.temporaryDirectory("careledger-consent-actors")
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try await Self.store(in: dir)
        let consent = try Self.outConsent()
        #expect(ConsentMapping.actorReferences(in: consent) == ["Organization/f201"])
        let actors = try await ConsentMapping.resolveActors(in: consent, store: store)
        #expect(actors == ["Organization/f201": [Self.aumc]])
        let directive = try Self.directive(consent, actors: actors)
        #expect(directive.grantees == [Self.aumc])
        #expect(directive.provision.kind == .deny && directive.provision.actors == [Self.aumc])
        #expect(!directive.encoded.contains(subsequence: Array("Organization/".utf8)), "no local reference reaches the chain")
        try await store.close()
    }

    @Test func anActorWithoutAnIdentifierIsRefusedAtItsPointer() async throws {
        let dir = try Repository.temporaryDirectory("careledger-consent-actors")
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try await Self.store(in: dir)

        // The corpus Consent as HL7 wrote it: Organization/f001 is stored nowhere.
        let missing = try Self.outConsent(organization: "Organization/f001", actor: "Organization/f001")
        let none = try await ConsentMapping.resolveActors(in: missing, store: store)
        #expect(none.isEmpty)
        let first = try #require(Self.failure(missing, actors: none))
        #expect(first.pointer == "/organization/0/reference" && first.reason.contains("Organization/f001"), "\(first)")

        // The organization resolves; the provision's actor is a stored Organization without any identifier.
        let noIdentifier = try Self.outConsent(actor: "Organization/f002")
        let resolved = try await ConsentMapping.resolveActors(in: noIdentifier, store: store)
        #expect(resolved["Organization/f002"] == nil)
        let second = try #require(Self.failure(noIdentifier, actors: resolved))
        #expect(second.pointer == "/provision/actor/0/reference", "\(second)")

        // Without a resolver (the old callers), a literal reference is refused rather than recorded as itself.
        #expect(Self.failure(try Self.outConsent(), actors: [:])?.pointer == "/organization/0/reference")
        try await store.close()
    }

    @Test func nestedContainedAndAbsoluteReferencesResolve() async throws {
        let dir = try Repository.temporaryDirectory("careledger-consent-actors")
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try await Self.store(in: dir)
        // HL7's consent-example-signature.json: actors Practitioner/13 and, nested, Practitioner/xcda-author; here
        // the first is a contained Practitioner and the second an absolute, versioned reference to Organization f201.
        var text = String(decoding: try Data(contentsOf: Self.corpus.appendingPathComponent("consent-example-signature.json")), as: UTF8.self)
        text = text.replacingOccurrences(of: #""reference": "Practitioner/13""#, with: ##""reference": "#p13""##)
        text = text.replacingOccurrences(of: #""reference": "Practitioner/xcda-author""#,
                                         with: #""reference": "https://fhir.example.org/r4/Organization/f201/_history/1""#)
        text = text.replacingOccurrences(of: #""resourceType": "Consent","#,
                                         with: #""resourceType": "Consent", "contained": [{"resourceType": "Practitioner", "id": "p13", "identifier": [{"system": "http://hl7.org/fhir/sid/us-npi", "value": "1234567893"}, {"use": "old", "system": "urn:x", "value": "retired"}]}],"#)
        let consent = try FHIRDocument.read(Array(text.utf8)).resource
        #expect(ConsentMapping.actorReferences(in: consent) == ["Organization/f001", "#p13", "https://fhir.example.org/r4/Organization/f201/_history/1"])
        let actors = try await ConsentMapping.resolveActors(in: consent, store: store)
        #expect(actors["#p13"] == ["http://hl7.org/fhir/sid/us-npi|1234567893"])
        #expect(actors["https://fhir.example.org/r4/Organization/f201/_history/1"] == [Self.aumc])
        #expect(actors["Organization/f001"] == nil)
        try await store.close()
    }

    /// The sample Consent names its actor and organization by identifier: nothing to resolve, the same directive.
    @Test func identifiersInTheConsentNeedNoResolution() throws {
        let consent = try FHIRDocument.read(Array(try Data(contentsOf: Repository.root.appendingPathComponent("Samples/consent/consent-mira-treatment.json")))).resource
        #expect(ConsentMapping.actorReferences(in: consent).isEmpty)
        let directive = try Self.directive(consent, actors: [:])
        #expect(directive.provision.actors == ["http://example.org/ids|partner-hospital-b"])
        #expect(directive.grantees == ["urn:oid:2.16.840.1.113883.4.7|RIV-001"])
    }
}

extension Array where Element == UInt8 {
    func contains(subsequence: [UInt8]) -> Bool {
        guard !subsequence.isEmpty, count >= subsequence.count else { return false }
        return (0...(count - subsequence.count)).contains { Array(self[$0..<($0 + subsequence.count)]) == subsequence }
    }
}
