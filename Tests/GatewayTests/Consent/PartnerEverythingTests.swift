import FHIRCore
import Foundation
import Gateway
import Hummingbird
import HTTPTypes
import HummingbirdTesting
import RecordStore
import Services
import TestSupport
import Testing

/// A partner's `$everything` over real loopback HTTP, its consent decided on a real chain (the fixture of
/// ``PartnerLocalOnlyAndPagingTests``: mira consents to partner B, noah has none, o4 is both's): naming AuditEvent in
/// `_type` is the 403 a search of AuditEvents is, audited with real tokens; without `_type` AuditEvents are left out;
/// `_summary=count` counts only what the consent permits; subsets keep the consent notice and page on.
@Suite("Gateway: a partner's $everything — local-only _type, counts and subsets", .timeLimit(.minutes(4)))
struct PartnerEverythingTests {
    typealias Fixture = PartnerLocalOnlyAndPagingTests

    @Test func namingAuditEventInTypeIsRefusedToAPartnerAndServedLocally() async throws {
        try await Fixture.withGateway { client, _ in
            for types in ["AuditEvent", "Observation,AuditEvent", "Patient&_type=AuditEvent"] {
                let uri = "/Patient/mira/$everything?_type=\(types)"
                let refused = try await client.get(uri, headers: Fixture.partner)
                #expect(refused.status == 403, "\(uri)")
                #expect(refused.issue?.code == "forbidden", "\(uri)")
                #expect(refused.issue?.diagnostics.contains("not served to partner clients") == true, "\(uri): \(refused.issue?.diagnostics ?? "")")
                let counted = try await client.get(uri + "&_summary=count", headers: Fixture.partner)
                #expect(counted.status == 403, "\(uri)&_summary=count")
            }
            // Without _type the partner gets mira's permitted resources and no AuditEvent, though her compartment has one.
            let all = try await client.get("/Patient/mira/$everything", headers: Fixture.partner)
            #expect(all.status == 200)
            #expect(!Fixture.types(all).contains("AuditEvent") && Fixture.types(all).contains("Patient"))
            // The hospital's own client names it and gets it (and the AuditEvents of the partner's accesses above).
            let local = try await client.get("/Patient/mira/$everything?_type=AuditEvent&_count=1000")
            #expect(local.status == 200)
            let keys = EverythingPagingTests.keys(local)
            #expect(keys.contains("AuditEvent/ae-mira") && keys.allSatisfy { $0.hasPrefix("AuditEvent/") }, "\(keys)")
        }
    }

    @Test func aPartnersCountIsOfWhatItsConsentPermitsAndIsAudited() async throws {
        try await Fixture.withGateway { client, store in
            let before = try await PartnerConsentRoutesTests.auditEvents(store)
            // mira's Patient, o1 and o3; not o4 (noah's too) nor her AuditEvent.
            for uri in ["/Patient/mira/$everything?_summary=count", "/Patient/mira/$everything?_count=0"] {
                let reply = try await client.get(uri, headers: Fixture.partner)
                #expect(reply.status == 200, "\(uri)")
                #expect(reply.json["total"] as? Int == 3, "\(uri)")
                #expect(EverythingPagingTests.keys(reply).filter { !$0.hasPrefix("OperationOutcome/") }.isEmpty, "\(uri)")
                let outcomes = (reply.json["entry"] as? [[String: Any]] ?? []).filter { ($0["search"] as? [String: Any])?["mode"] as? String == "outcome" }
                #expect(outcomes.count == 1, "\(uri): the consent notice")
            }
            #expect(try await PartnerConsentRoutesTests.auditEvents(store) == before + 2, "each count audited")
            // Locally the count has o4 too (and AuditEvents: ae-mira and those of the partner's accesses).
            #expect(try await client.get("/Patient/mira/$everything?_summary=count&_type=Patient,Observation").json["total"] as? Int == 4)
            #expect(try await client.get("/Patient/mira/$everything?_summary=count").json["total"] as? Int ?? 0 >= 5)
            // A refused patient's count is refused as its pages are.
            #expect(try await client.get("/Patient/noah/$everything?_summary=count", headers: Fixture.partner).status == 403)
        }
    }

    @Test func aPartnersSubsettedPagesKeepTheNoticeAndPageOn() async throws {
        try await Fixture.withGateway { client, _ in
            var uri: String? = "/Patient/mira/$everything?_count=1&_elements=status"
            var pages: [[String]] = []
            while let current = uri, pages.count < 10 {
                let reply = try await client.get(current, headers: Fixture.partner)
                try #require(reply.status == 200, "\(current)")
                let entries = reply.json["entry"] as? [[String: Any]] ?? []
                let outcome = try #require(entries.first { ($0["search"] as? [String: Any])?["mode"] as? String == "outcome" })
                let notice = try #require(outcome["resource"] as? [String: Any])
                #expect(((notice["issue"] as? [[String: Any]])?.first?["diagnostics"] as? String) == ConsentNotice.searchText, "the notice is whole")
                for resource in HistoryEverythingSubsetTests.resources(reply) where resource["resourceType"] as? String != "OperationOutcome" {
                    #expect(SummaryTests.tags(resource).contains(SummaryTests.subsetted), "\(current)")
                    // Observation.status is named, .code mandatory; Patient has neither.
                    #expect(Set(resource.keys).isSubset(of: ["resourceType", "id", "meta", "status", "code"]), "\(resource.keys.sorted())")
                }
                pages.append(EverythingPagingTests.keys(reply).filter { !$0.hasPrefix("OperationOutcome/") })
                uri = EverythingPagingTests.next(reply)
                if let next = uri { #expect(next.contains("_elements=status"), "\(next)") }
            }
            #expect(pages == [["Patient/mira"], ["Observation/o1"], ["Observation/o3"]])
        }
    }

    /// With real tokens: the 403 for naming AuditEvent in `_type` is audited before it arrives, with the local-only
    /// reason, as a partner's search of AuditEvents is (``LocalOnlyRefusalAuditTests``).
    @Test(arguments: StoreKind.allCases)
    func theRefusalIsAuditedBeforeThe403(kind: StoreKind) async throws {
        try await kind.withStore { store, _ in
            try await ScopeRefusalAuditTests.withGateway(store, scopes: ["system/*.rs"], more: [EverythingRoutes()]) { client, partnerKey, _ in
                let partner = try await ScopeRefusalAuditTests.token(client, id: "partner-b", key: partnerKey)
                try await client.execute(uri: "/Patient/mira/$everything?_type=Condition,AuditEvent", method: .get,
                                         headers: [.authorization: "Bearer \(partner)"]) { response in
                    #expect(response.status == .forbidden)
                }
                let events = try await ScopeRefusalAuditTests.auditEvents(store)
                #expect(events.count == 1, "audited before the response")
                let event = try #require(events.first)
                #expect(event["outcome"] as? String == "4")
                #expect(event["outcomeDesc"] as? String == LocalOnlyRecords.refusalReason)
                let text = String(decoding: try JSONSerialization.data(withJSONObject: event), as: UTF8.self)
                #expect(text.contains("partner-b") && text.contains("$everything"), "who and what was asked")

                // POST with a Parameters body: the refusal's AuditEvent names the body's parameters as the query asked.
                let body = try JSONSerialization.data(withJSONObject: ["resourceType": "Parameters", "parameter": [
                    ["name": "_type", "valueCode": "Condition,AuditEvent"], ["name": "_count", "valueInteger": 5]]])
                try await client.execute(uri: "/Patient/mira/$everything", method: .post,
                                         headers: [.authorization: "Bearer \(partner)", .contentType: "application/fhir+json"],
                                         body: ByteBuffer(bytes: body)) { response in
                    #expect(response.status == .forbidden)
                }
                let after = try await ScopeRefusalAuditTests.auditEvents(store)
                #expect(after.count == 2)
                let queries = after.flatMap { ($0["entity"] as? [[String: Any]]) ?? [] }.compactMap { $0["query"] as? String }
                    .compactMap { Data(base64Encoded: $0).map { String(decoding: $0, as: UTF8.self) } }
                #expect(queries.contains { $0.contains("_type=Condition") && $0.contains("AuditEvent") && $0.contains("_count=5") }, "\(queries)")
            }
        }
    }
}
