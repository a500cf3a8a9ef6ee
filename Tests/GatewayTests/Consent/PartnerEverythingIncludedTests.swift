import Foundation
import Gateway
import RecordStore
import TestSupport
import Testing

/// A partner's `$everything` and the resources outside every compartment that the patient's records reference
/// (issue 17, Deliver 6: they need no consent): returned when a resource the consent permits references them, never
/// when only a withheld one does, paged and counted as the local answer is. The fixture of
/// ``PartnerLocalOnlyAndPagingTests`` (mira consents to the partner; o4 is also noah's, who has none).
@Suite("Gateway: a partner's $everything includes what permitted records reference", .timeLimit(.minutes(4)))
struct PartnerEverythingIncludedTests {
    typealias Fixture = PartnerLocalOnlyAndPagingTests

    /// `Type/id` and search mode of each entry but the consent notice.
    static func entries(_ reply: RecordGateway.Reply) -> [(key: String, mode: String)] {
        (reply.json["entry"] as? [[String: Any]] ?? []).compactMap { entry in
            guard let r = entry["resource"] as? [String: Any], let type = r["resourceType"] as? String, type != "OperationOutcome",
                  let id = r["id"] as? String, let mode = (entry["search"] as? [String: Any])?["mode"] as? String else { return nil }
            return ("\(type)/\(id)", mode)
        }
    }

    @Test func aPartnerGetsWhatPermittedRecordsReferenceAndNothingAWithheldOneDoes() async throws {
        try await Fixture.withGateway { client, _ in
            // o3 (mira's, permitted) references Organization/org; o4 (mira's and noah's, withheld) references org-w.
            #expect(try await client.write("PUT", "/Organization/org-w", json: ["resourceType": "Organization", "id": "org-w", "name": "Withheld"]).status == 201)
            let o3: [String: Any] = ["resourceType": "Observation", "id": "o3", "status": "final", "code": ["text": "pulse"],
                                     "subject": ["reference": "Patient/mira"], "performer": [["reference": "Organization/org"]]]
            let o4: [String: Any] = ["resourceType": "Observation", "id": "o4", "status": "final", "code": ["text": "pulse"],
                                     "subject": ["reference": "Patient/mira"],
                                     "performer": [["reference": "Patient/noah"], ["reference": "Organization/org-w"]]]
            #expect(try await client.write("PUT", "/Observation/o3", json: o3).status == 200)
            #expect(try await client.write("PUT", "/Observation/o4", json: o4).status == 200)

            // The hospital's own client gets both Organizations.
            let local = Self.entries(try await client.get("/Patient/mira/$everything?_count=1000"))
            #expect(local.filter { $0.mode == "include" }.map(\.key) == ["Organization/org", "Organization/org-w"])

            // The partner: mira's Patient, o1 and o3, then the Organization o3 references; not o4 nor what it references.
            let reply = try await client.get("/Patient/mira/$everything?_count=1000", headers: Fixture.partner)
            try #require(reply.status == 200)
            let partner = Self.entries(reply)
            #expect(partner.map { "\($0.key) \($0.mode)" } == ["Patient/mira match", "Observation/o1 match", "Observation/o3 match",
                                                                "Organization/org include"], "\(partner)")
            #expect(reply.json["total"] as? Int == 3, "total counts the matches the consent permits")
            #expect(try await client.get("/Patient/mira/$everything?_summary=count", headers: Fixture.partner).json["total"] as? Int == 3)

            // One a page: the same resources, the last page in the included part.
            var uri: String? = "/Patient/mira/$everything?_count=1"
            var pages: [[String]] = []
            while let current = uri, pages.count < 10 {
                let page = try await client.get(current, headers: Fixture.partner)
                try #require(page.status == 200, "\(current)")
                pages.append(Self.entries(page).map(\.key))
                uri = EverythingPagingTests.next(page)
            }
            #expect(pages == partner.map { [$0.key] })

            // _type restricts them: the partner's Organizations are org alone.
            let typed = Self.entries(try await client.get("/Patient/mira/$everything?_type=Organization", headers: Fixture.partner))
            #expect(typed.map(\.key) == ["Organization/org"])
        }
    }
}
