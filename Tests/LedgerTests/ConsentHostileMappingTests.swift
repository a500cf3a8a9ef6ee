import Crypto
import FHIRCore
import Foundation
import Ledger
import Node
import Testing

/// Hostile Consents and query terms refused by the mapping with a JSON pointer (or the option), never granted or
/// answered (issue 16 items 10 and 11); and the ledger's consent check agreeing with `apply`.
@Suite("Hostile Consents and consent query terms")
struct ConsentHostileMappingTests {
    static let key = [UInt8](repeating: 3, count: 32)

    /// The mapping's refusal of `json` (nil when it maps).
    static func failure(_ json: String) throws -> ConsentMapping.Failure? {
        let resource = try JSONReader().read(Array(json.utf8))
        do throws(ConsentMapping.Failure) {
            _ = try ConsentMapping.directive(from: resource, consortiumKey: key, consentCommitment: [UInt8](repeating: 0, count: 32), issuedFallback: 0)
            return nil
        } catch {
            return error
        }
    }

    static func consent(status: String = "active", provision: String) -> String {
        #"{"resourceType":"Consent","id":"hostile","status":"\#(status)","scope":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentscope","code":"patient-privacy"}]},"patient":{"identifier":{"system":"urn:oid:1.2.3","value":"MRN-1"}},"provision":\#(provision)}"#
    }

    static let actor = #"{"reference":{"identifier":{"system":"http://example.org/ids","value":"partner-b"}}}"#

    @Test func seventyThousandProvisionsAreRefusedAtThePointerOfTheFirstOverTheBound() throws {
        let children = Array(repeating: #"{"type":"deny"}"#, count: 70_000).joined(separator: ",")
        let failure = try #require(try Self.failure(Self.consent(provision: #"{"type":"permit","provision":[\#(children)]}"#)))
        #expect(failure.pointer == "/provision/provision/\(ConsentMapping.Limits.maxProvisions - 1)")
        #expect(failure.issueType == "too-costly" && failure.reason.contains("256"), "\(failure)")
    }

    @Test func twentyThousandDuplicateActorsAreRefusedAtTheSecond() throws {
        let actors = Array(repeating: Self.actor, count: 20_000).joined(separator: ",")
        let failure = try #require(try Self.failure(Self.consent(provision: #"{"type":"permit","actor":[\#(actors)]}"#)))
        #expect(failure.pointer == "/provision/actor/1/reference" && failure.issueType == "duplicate", "\(failure)")
        #expect(failure.reason.contains("first at /provision/actor/0/reference"), "\(failure)")
    }

    @Test func manyDistinctActorsAreRefusedBeyondTheBound() throws {
        let actors = (0..<300).map { #"{"reference":{"identifier":{"system":"http://example.org/ids","value":"org-\#($0)"}}}"# }.joined(separator: ",")
        let failure = try #require(try Self.failure(Self.consent(provision: #"{"type":"permit","actor":[\#(actors)]}"#)))
        #expect(failure.pointer == "/provision/actor/256/reference" && failure.issueType == "too-costly", "\(failure)")
    }

    @Test(arguments: [
        (#"{"type":"permit","period":{"start":"2030-01-01","end":"2026-01-01"}}"#, "/provision/period"),
        (#"{"type":"permit","provision":[{"type":"deny","period":{"start":"2026-06-01T10:00:00Z","end":"2026-06-01T09:00:00Z"}}]}"#, "/provision/provision/0/period"),
        (#"{"type":"permit","period":{"start":"2027-02-29"}}"#, "/provision/period/start"),
        (#"{"type":"permit","period":{"end":"2027-04-31"}}"#, "/provision/period/end"),
        (#"{"type":"permit","period":{"start":"2027-01-01T10:00:00+99:00"}}"#, "/provision/period/start"),
        (#"{"type":"permit","period":{"start":"2027-01-01T10:00:00"}}"#, "/provision/period/start"),
    ])
    func impossiblePeriodsAreRefusedAtTheirPointer(provision: String, pointer: String) throws {
        let failure = try #require(try Self.failure(Self.consent(provision: provision)))
        #expect(failure.pointer == pointer, "\(failure)")
    }

    @Test func aPeriodOfOneInstantAndALeapDayAreGranted() throws {
        #expect(try Self.failure(Self.consent(provision: #"{"type":"permit","period":{"start":"2026-06-01T10:00:00Z","end":"2026-06-01T10:00:00Z"}}"#)) == nil)
        #expect(try Self.failure(Self.consent(provision: #"{"type":"permit","period":{"start":"2028-02-29","end":"2028-02-29"}}"#)) == nil)
    }

    @Test(arguments: ["2027-02-29", "2027-04-31", "2027-13-01", "2027-00-10", "2027-01-01T10:00:00+99:00", "2027-01-01T10:00:00+14:30",
                      "2027-01-01T10:00:00", "2027-01-01T10:00", "2027-01-01T24:00:00Z", "2027-01-01T10:00:00.Z", "0000-01-01", "2027-1-01"])
    func impossibleInstantsAreRefused(text: String) {
        #expect(throws: ConsentMapping.Failure.self) { try ConsentMapping.instant(text, pointer: "--at", end: false) }
    }

    @Test func instantsThatExistAreRead() throws {
        #expect(try ConsentMapping.instant("2028-02-29", pointer: "", end: false) == 1_835_395_200_000)
        #expect(try ConsentMapping.instant("2027-01-01T10:00:00+14:00", pointer: "", end: false) == 1_798_797_600_000 - 14 * 3_600_000)
        #expect(try ConsentMapping.instant("2027-01-01T10:00:00-05:00", pointer: "", end: false) == 1_798_797_600_000 + 5 * 3_600_000)
        #expect(try ConsentMapping.instant("2027", pointer: "", end: true) == 1_830_297_600_000 - 1)
    }

    @Test(arguments: ["", "bogus", "|", "||", "a|b|c", "|partner-b", "http://example.org/ids|", "Organization/", "organization/x",
                      "Organization/x y", "ftp://host/Organization/x", " Organization/x"])
    func actorsThatNameNobodyAreRefused(text: String) {
        #expect(throws: ConsentMapping.Failure.self) { try ConsentMapping.queryActor(text, option: "--actor") }
    }

    @Test func actorsAsConsentsNameThemAreAccepted() throws {
        #expect(try ConsentMapping.queryActor("http://example.org/ids|partner-hospital-b", option: "--actor") == "http://example.org/ids|partner-hospital-b")
        #expect(try ConsentMapping.queryActor("Organization/partner-b", option: "--actor") == "Organization/partner-b")
        #expect(try ConsentMapping.queryActor("https://fhir.example.org/r4/Organization/b.1", option: "--actor") == "https://fhir.example.org/r4/Organization/b.1")
    }

    @Test(arguments: ["", "|||", "|", "|TREAT", "x|", "TREAT ", "TR  EAT", "a|b|c"])
    func purposesThatAreNoCodeAreRefused(text: String) {
        #expect(throws: ConsentMapping.Failure.self) {
            try ConsentMapping.queryCode(text, option: "--purpose", defaultSystem: ConsentMapping.QuerySystem.purpose)
        }
    }

    @Test func aBarePurposeIsAnActReasonCode() throws {
        #expect(try ConsentMapping.queryCode("TREAT", option: "--purpose", defaultSystem: ConsentMapping.QuerySystem.purpose)
                == "http://terminology.hl7.org/CodeSystem/v3-ActReason|TREAT")
        #expect(try ConsentMapping.queryCode("http://loinc.org|59284-0", option: "--code", defaultSystem: nil) == "http://loinc.org|59284-0")
        #expect(throws: ConsentMapping.Failure.self) { try ConsentMapping.queryCode("59284-0", option: "--code", defaultSystem: nil) }
    }

    /// The check a submitter asks before storing says exactly what `apply` would refuse.
    @Test func theConsentCheckAgreesWithApply() throws {
        let signer = try SigningKey(seed: [UInt8](repeating: 41, count: 32))
        let stranger = try SigningKey(seed: [UInt8](repeating: 42, count: 32))
        var state = LedgerState(chainId: "c", participants: [(signer.publicKey, Participant(name: "A", nodeKey: signer.publicKey, stake: 1)),
                                                              (stranger.publicKey, Participant(name: "B", nodeKey: stranger.publicKey, stake: 1))])
        func directive(_ status: String, provision: String = #"{"type":"permit"}"#) throws -> ConsentDirective {
            let resource = try JSONReader().read(Array(Self.consent(status: status, provision: provision).utf8))
            return try ConsentMapping.directive(from: resource, consortiumKey: Self.key, consentCommitment: [UInt8](repeating: 1, count: 32), issuedFallback: 0)
        }
        var nonces: [PublicKey: UInt64] = [:]
        // Each step: the directive, who signs, and the code both must give (nil: applies).
        var sameKind = try directive("active")
        sameKind.provision.provisions = [Provision(kind: .permit)]
        let steps: [(ConsentDirective, SigningKey, TransactionError.Code?)] = [
            (try directive("entered-in-error"), signer, .unknownDirective),
            (sameKind, signer, .malformed),
            (try directive("active"), signer, nil),
            (try directive("active"), signer, .duplicateDirective),
            (try directive("inactive"), stranger, .notSubmitter),
            (try directive("rejected"), signer, nil),
            (try directive("inactive"), signer, .unknownDirective),
        ]
        for (n, (d, key, expected)) in steps.enumerated() {
            #expect(state.consentProblem(d, signer: key.publicKey)?.code == expected, "step \(n)")
            let nonce = nonces[key.publicKey] ?? 0
            let tx = try Transaction(signing: .consentDirective(d), nonce: nonce, chainId: "c", with: key)
            do throws(TransactionError) {
                try state.apply(tx, height: UInt64(n + 1), time: Int64(n + 1) * 1_000, index: 0)
                nonces[key.publicKey] = nonce + 1
                #expect(expected == nil, "step \(n) applied")
            } catch {
                #expect(error.code == expected, "step \(n): \(error)")
            }
        }
    }
}
