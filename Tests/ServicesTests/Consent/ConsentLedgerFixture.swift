import Crypto
import FHIRCore
import Foundation
import Ledger
import Node
import RecordStore
import Services
import TestSupport

/// A real one-validator chain in a temp directory, with FHIR Consents recorded on it the way `consent submit`
/// maps them (``ConsentMapping``), blocks produced at explicit times, and a store holding the patients whose
/// identifiers the ledger keys consent by.
struct ConsentLedgerFixture {
    static let consortiumKey = [UInt8](repeating: 5, count: 32)
    /// consent-cases.md: evaluation at 2024-01-01T00:00:00Z.
    static let evaluation: Int64 = 1_704_067_200_000
    static let hour: Int64 = 3_600_000

    let dir: URL
    let key: SigningKey
    let chain: Chain

    init() async throws {
        dir = try Repository.temporaryDirectory("careledger-consent-gate")
        key = try SigningKey(seed: (0..<32).map { UInt8(truncatingIfNeeded: $0 &* 11 &+ 1) })
        let genesis = Genesis(chainId: "careledger-consent-gate", genesisTime: Date(timeIntervalSince1970: 1_700_000_000),
                              validators: [Genesis.Validator(name: "Hospital A", publicKey: key.publicKey, power: 10)])
        chain = try await Chain(genesis: genesis, blocks: try BlockStore(path: dir.appendingPathComponent("blocks.log").path, writable: true), key: key)
    }

    func remove() { try? FileManager.default.removeItem(at: dir) }

    /// Maps a Consent (JSON) to its directive and admits it to the mempool; the next block records it.
    func submit(_ consentJSON: String) async throws {
        let consent = try FHIRDocument.read(Array(consentJSON.utf8)).resource
        let directive = try ConsentMapping.directive(from: consent, consortiumKey: Self.consortiumKey,
                                                     consentCommitment: Array(SHA256.hash(data: Array(consentJSON.utf8))), issuedFallback: 0)
        _ = try await chain.submit(.consentDirective(directive))
    }

    /// A block at `time`, then an empty one a millisecond later, so the state holding the first block's
    /// directives is the one the last finalized header commits to.
    func finalize(at time: Int64) async throws {
        try await chain.produceBlock(now: time)
        try await chain.produceBlock(now: time + 1)
    }

    /// Stores a Patient `id` with the identifier `us-medicare|<value>`.
    static func storePatient(_ id: String, medicare value: String, in store: any RecordStore) async throws {
        let patient = try FHIRDocument.read(Array("""
            {"resourceType": "Patient", "id": "\(id)", "identifier": [{"system": "http://example.org/mrn", "value": "mrn-\(id)"},
             {"system": "http://hl7.org/fhir/sid/us-medicare", "value": "\(value)"}]}
            """.utf8)).resource
        _ = try await store.commit([try PreparedRecord(resource: patient)], batch: nil)
    }
}

/// FHIR R4 Consents written for the cases of ../shared/specs/consent-cases.md.
enum CaseConsents {
    /// Actor references (Reference objects) and the identifiers a partner's token carries for them.
    static let org54 = #"{"identifier": {"system": "urn:ietf:rfc:3986", "value": "urn:oid:2.16.840.1.113883.20.5"}}"#
    static let drBob = #"{"identifier": {"system": "http://example.org/ids", "value": "dr-bob"}}"#
    static let org54Identifier = "urn:ietf:rfc:3986|urn:oid:2.16.840.1.113883.20.5"
    static let drBobIdentifier = "http://example.org/ids|dr-bob"
    static let otherOrgIdentifier = "http://example.org/ids|other-org"

    static func label(_ code: String) -> String {
        let system = ["N", "R", "V"].contains(code) ? "http://terminology.hl7.org/CodeSystem/v3-Confidentiality" : "http://terminology.hl7.org/CodeSystem/v3-ActCode"
        return #"{"system": "\#(system)", "code": "\#(code)"}"#
    }

    static func purpose(_ code: String) -> String { #"{"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "\#(code)"}"# }

    static func nestedDeny(actor: String? = nil, purposes: [String] = [], labels: [String] = [], classes: [String] = [], codes: [String] = []) -> String {
        var parts = [#""type": "deny""#]
        if let actor { parts.append(#""actor": [{"role": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "IRCP"}]}, "reference": \#(actor)}]"#) }
        if !purposes.isEmpty { parts.append(#""purpose": [\#(purposes.map(purpose).joined(separator: ", "))]"#) }
        if !labels.isEmpty { parts.append(#""securityLabel": [\#(labels.map(label).joined(separator: ", "))]"#) }
        if !classes.isEmpty { parts.append(#""class": [\#(classes.map { #"{"system": "http://hl7.org/fhir/resource-types", "code": "\#($0)"}"# }.joined(separator: ", "))]"#) }
        if !codes.isEmpty { parts.append(#""code": [\#(codes.map { #"{"coding": [{"system": "http://loinc.org", "code": "\#($0)"}]}"# }.joined(separator: ", "))]"#) }
        return "{" + parts.joined(separator: ", ") + "}"
    }

    /// A Consent of patient `us-medicare|<patient>`: root `rootType`, the given period, root purposes and nested
    /// provisions.
    static func consent(id: String, patient: String, status: String = "active", categoryInScope: Bool = true, research: Bool = false,
                        dateTime: String = "2023-12-01T00:00:00Z", rootType: String = "permit",
                        period: (String, String)? = ("2020-01-01", "2030-01-01"), rootPurposes: [String] = [], nested: [String]) -> String {
        let categoryCoding = research
            ? #"{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "research"}]}"#
            : #"{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]}"#
        let scopeAndCategory = categoryInScope
            ? #""scope": \#(categoryCoding), "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}]"#
            : #""scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "adr"}]}, "category": [\#(categoryCoding)]"#
        var provision = [#""type": "\#(rootType)""#]
        if let period { provision.append(#""period": {"start": "\#(period.0)", "end": "\#(period.1)"}"#) }
        if !rootPurposes.isEmpty { provision.append(#""purpose": [\#(rootPurposes.map(purpose).joined(separator: ", "))]"#) }
        if !nested.isEmpty { provision.append(#""provision": [\#(nested.joined(separator: ", "))]"#) }
        return """
            {"resourceType": "Consent", "id": "\(id)", "status": "\(status)", \(scopeAndCategory),
             "patient": {"identifier": {"system": "http://hl7.org/fhir/sid/us-medicare", "value": "\(patient)"}},
             "dateTime": "\(dateTime)", "provision": {\(provision.joined(separator: ", "))}}
            """
    }
}
