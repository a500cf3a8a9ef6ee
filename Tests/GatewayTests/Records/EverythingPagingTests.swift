import Foundation
import Gateway
import RecordStore
import TestSupport
import Testing

/// `Patient/{id}/$everything` paged (patient-operation-everything): `_count` pages with sealed `next` cursors that are
/// stable under concurrent writes, `_type` and `_since` as the operation defines them, over real loopback HTTP with a
/// real Synthea patient on SQLite and PostgreSQL.
@Suite("Gateway $everything paging, _type and _since", .timeLimit(.minutes(8)))
struct EverythingPagingTests {
    static let synthea = BundleAndHistoryTests.synthea

    /// `Type/id` of each entry's resource, in order.
    static func keys(_ reply: RecordGateway.Reply) -> [String] {
        (reply.json["entry"] as? [[String: Any]] ?? []).compactMap { entry in
            guard let r = entry["resource"] as? [String: Any], let type = r["resourceType"] as? String, let id = r["id"] as? String else { return nil }
            return "\(type)/\(id)"
        }
    }

    /// The path and query of the Bundle's `next` link, for the test client.
    static func next(_ reply: RecordGateway.Reply) -> String? {
        guard let link = (reply.json["link"] as? [[String: Any]] ?? []).first(where: { $0["relation"] as? String == "next" }),
              let url = link["url"] as? String, let components = URLComponents(string: url) else { return nil }
        return components.percentEncodedPath + (components.percentEncodedQuery.map { "?" + $0 } ?? "")
    }

    /// Whether `Type/id` is one of the Synthea patient's included (referenced, outside every compartment) resources.
    static func included(_ key: String) -> Bool { key.hasPrefix("Organization/") || key.hasPrefix("Practitioner/") }

    /// Imports the Synthea patient's transaction Bundle; its Patient id.
    static func importPatient(_ client: RecordGateway.Client) async throws -> String {
        let reply = try await client.send("POST", "/", headers: ["Content-Type": "application/fhir+json"], body: try RecordGateway.corpus(synthea))
        try #require(reply.status == 200)
        let locations = (reply.json["entry"] as? [[String: Any]] ?? []).compactMap { ($0["response"] as? [String: Any])?["location"] as? String }
        let patient = try #require(locations.first { $0.hasPrefix("Patient/") })
        return String(patient.split(separator: "/")[1])
    }

    /// Follows `next` links from `first`; every page's keys. At most 100 pages.
    static func pages(_ client: RecordGateway.Client, from first: String, between: (Int) async throws -> Void = { _ in }) async throws -> [[String]] {
        var out: [[String]] = []
        var uri: String? = first
        while let current = uri, out.count < 100 {
            let reply = try await client.get(current)
            try #require(reply.status == 200, "\(current): \(reply.text.prefix(300))")
            #expect(reply.json["type"] as? String == "searchset")
            #expect(BundleRules.violations(reply.json).isEmpty, "\(current): \(BundleRules.violations(reply.json))")
            out.append(keys(reply))
            uri = next(reply)
            if uri != nil { try await between(out.count) }
        }
        return out
    }

    @Test("pages of _count resources, every resource once, in the operation's order", arguments: StoreKind.allCases)
    func pagesCoverTheCompartmentOnce(kind: StoreKind) async throws {
        try await RecordGateway.run(kind) { client, _ in
            let id = try await Self.importPatient(client)
            let whole = try await client.get("/Patient/\(id)/$everything?_count=1000")
            let all = Self.keys(whole)
            #expect(all.count == 86, "the patient, its 83 compartment resources, and the Organization and Practitioner they reference")
            #expect(whole.json["total"] as? Int == 84, "one page: the total is given (the matches, not the 2 included)")
            #expect(Self.next(whole) == nil)
            // The Patient first, then the compartment by type and id, then the included resources by type and id.
            #expect(all.first == "Patient/\(id)")
            let compartment = all.dropFirst().filter { !Self.included($0) }, included = all.filter(Self.included)
            #expect(Array(all.dropFirst()) == compartment.sorted() + included.sorted())
            #expect(included.count == 2)

            let pages = try await Self.pages(client, from: "/Patient/\(id)/$everything?_count=10")
            #expect(pages.count == 9)
            #expect(pages.dropLast().allSatisfy { $0.count == 10 } && pages.last?.count == 6)
            #expect(pages.flatMap { $0 } == all, "the same resources in the same order, none twice")
            let paged = try await client.get("/Patient/\(id)/$everything?_count=10")
            #expect(paged.json["total"] == nil, "more than one page: no total")

            // The cursor is sealed: altered, it is a 400.
            let link = try #require(Self.next(paged))
            let altered = link.replacingOccurrences(of: "_cursor=", with: "_cursor=A")
            let refused = try await client.get(altered)
            #expect(refused.status == 400)
            #expect(refused.issue != nil)
        }
    }

    @Test("writes while paging neither repeat nor skip what was there", arguments: StoreKind.allCases)
    func pagingIsStableUnderWrites(kind: StoreKind) async throws {
        try await RecordGateway.run(kind) { client, _ in
            let id = try await Self.importPatient(client)
            let before = Self.keys(try await client.get("/Patient/\(id)/$everything?_count=1000"))
            let pages = try await Self.pages(client, from: "/Patient/\(id)/$everything?_count=7") { page in
                // Between pages: new resources of the patient sorting before and after every id, an update of one.
                for newID in ["000-gw-new-\(page)", "zzz-gw-new-\(page)"] {
                    let observation: [String: Any] = ["resourceType": "Observation", "id": newID, "status": "final",
                                                      "code": ["text": "pulse"], "subject": ["reference": "Patient/\(id)"]]
                    let written = try await client.write("PUT", "/Observation/\(newID)", json: observation)
                    #expect(written.status == 201)
                }
            }
            let seen = pages.flatMap { $0 }
            #expect(Set(seen).count == seen.count, "no resource twice")
            #expect(Set(before).isSubset(of: Set(seen)), "nothing that was there at the first page is skipped")
            // A resource written after page p shows up exactly when it sorts after page p's last resource (the
            // compartment by type, then id, then the included resources: the operation's order after the Patient).
            func sortsAfter(_ a: String, _ b: String) -> Bool {
                let x = a.split(separator: "/"), y = b.split(separator: "/")
                return (Self.included(a) ? 1 : 0, x[0], x[1]) > (Self.included(b) ? 1 : 0, y[0], y[1])
            }
            var expectedNew: [String] = []
            for (index, page) in pages.dropLast().enumerated() {
                let last = try #require(page.last)
                for newID in ["000-gw-new-\(index + 1)", "zzz-gw-new-\(index + 1)"] where sortsAfter("Observation/\(newID)", last) {
                    expectedNew.append("Observation/\(newID)")
                }
            }
            #expect(Set(seen.filter { !before.contains($0) }) == Set(expectedNew))
            #expect(!expectedNew.isEmpty)
        }
    }

    @Test("_type keeps only those types; _since only what was updated since", arguments: StoreKind.allCases)
    func typeAndSince(kind: StoreKind) async throws {
        try await RecordGateway.run(kind) { client, _ in
            let id = try await Self.importPatient(client)
            let all = Self.keys(try await client.get("/Patient/\(id)/$everything?_count=1000"))
            func types(_ keys: [String]) -> [String] { keys.map { String($0.split(separator: "/")[0]) } }

            let typed = Self.keys(try await client.get("/Patient/\(id)/$everything?_count=1000&_type=Condition,Immunization&_type=Patient"))
            #expect(typed == all.filter { ["Patient", "Condition", "Immunization"].contains(String($0.split(separator: "/")[0])) })
            #expect(Set(types(typed)) == ["Patient", "Condition", "Immunization"])
            // _type and _count survive into the next link.
            let typedPages = try await Self.pages(client, from: "/Patient/\(id)/$everything?_type=Observation&_count=20")
            #expect(typedPages.map(\.count) == [20, 20, 1])
            #expect(Set(types(typedPages.flatMap { $0 })) == ["Observation"])

            #expect(try await client.get("/Patient/\(id)/$everything?_type=NoSuchType").status == 400)
            let none = try await client.get("/Patient/\(id)/$everything?_count=0")
            #expect(none.status == 200 && Self.keys(none).isEmpty && none.json["total"] as? Int == all.filter { !Self.included($0) }.count,
                    "_count=0 is _summary=count (search §3.1.1.5.7): no entries, the total")

            let future = try await client.get("/Patient/\(id)/$everything?_since=2999-01-01T00:00:00Z")
            #expect(future.status == 200)
            #expect(Self.keys(future).isEmpty && future.json["total"] as? Int == 0)
            #expect(Self.keys(try await client.get("/Patient/\(id)/$everything?_count=1000&_since=2000-01-01T00:00:00Z")) == all)
            // An update after a mark is all that is newer than it.
            try await Task.sleep(for: .milliseconds(1100))
            let mark = ISO8601DateFormatter().string(from: Date())
            try await Task.sleep(for: .milliseconds(1100))
            let observation: [String: Any] = ["resourceType": "Observation", "id": "gw-since", "status": "final",
                                              "code": ["text": "pulse"], "subject": ["reference": "Patient/\(id)"]]
            #expect(try await client.write("PUT", "/Observation/gw-since", json: observation).status == 201)
            let since = try await client.get("/Patient/\(id)/$everything?_since=\(mark.replacingOccurrences(of: "+", with: "%2B"))")
            #expect(Self.keys(since) == ["Observation/gw-since"], "\(mark)")
            #expect(try await client.get("/Patient/\(id)/$everything?_since=yesterday").status == 400)

            // Unknown parameters: ignored, or a 400 under strict handling.
            #expect(try await client.get("/Patient/\(id)/$everything?start=2020-01-01").status == 200)
            #expect(try await client.get("/Patient/\(id)/$everything?start=2020-01-01", headers: ["Prefer": "handling=strict"]).status == 400)
        }
    }

    @Test("POST with a Parameters body: the same operation, its next links in the GET form", arguments: StoreKind.allCases)
    func postWithParameters(kind: StoreKind) async throws {
        try await RecordGateway.run(kind) { client, _ in
            let id = try await Self.importPatient(client)
            let all = Self.keys(try await client.get("/Patient/\(id)/$everything?_count=1000"))
            let json = ["Content-Type": "application/fhir+json"]
            func post(_ parameters: [[String: Any]], headers: [String: String] = json, query: String = "") async throws -> RecordGateway.Reply {
                let body = try JSONSerialization.data(withJSONObject: ["resourceType": "Parameters", "parameter": parameters])
                return try await client.send("POST", "/Patient/\(id)/$everything\(query)", headers: headers, body: Array(body))
            }
            // _count and _type in the body; the next link carries them, and following it pages through the rest.
            let first = try await post([["name": "_count", "valueInteger": 20], ["name": "_type", "valueCode": "Observation"]])
            #expect(first.status == 200, "\(first.text.prefix(300))")
            #expect(first.json["type"] as? String == "searchset" && BundleRules.violations(first.json).isEmpty)
            let next = try #require(Self.next(first))
            #expect(next.contains("_count=20") && next.contains("_type=Observation"), "\(next)")
            let rest = try await Self.pages(client, from: next)
            let observations = all.filter { $0.hasPrefix("Observation/") }
            #expect(Self.keys(first) + rest.flatMap { $0 } == observations)
            // URL and body parameters together (_summary in the URL); an empty body is the operation without parameters.
            let counted = try await post([["name": "_type", "valueCode": "Observation"]], query: "?_summary=count")
            #expect(counted.json["total"] as? Int == observations.count && counted.json["entry"] == nil)
            let bare = try await client.send("POST", "/Patient/\(id)/$everything?_count=1000")
            #expect(bare.status == 200 && Self.keys(bare) == all)
            let future = try await post([["name": "_since", "valueInstant": "2999-01-01T00:00:00Z"]])
            #expect(future.status == 200 && future.json["total"] as? Int == 0)
            // An XML Parameters body is read too.
            let xml = #"<Parameters xmlns="http://hl7.org/fhir"><parameter><name value="_count"/><valueInteger value="3"/></parameter></Parameters>"#
            let fromXML = try await client.send("POST", "/Patient/\(id)/$everything", headers: ["Content-Type": "application/fhir+xml"], body: Array(xml.utf8))
            #expect(fromXML.status == 200 && Self.keys(fromXML) == Array(all.prefix(3)))

            // Refused: another resource as the body, a parameter without a primitive value, a body that is not FHIR,
            // and under strict handling a parameter the operation does not support.
            let patient = try await client.write("POST", "/Patient/\(id)/$everything", json: ["resourceType": "Patient", "id": "x"])
            #expect(patient.status == 400 && patient.issue?.diagnostics.contains("Parameters") == true)
            let noValue = try await post([["name": "_count"]])
            #expect(noValue.status == 400 && noValue.issue?.diagnostics.contains("_count") == true)
            let text = try await client.send("POST", "/Patient/\(id)/$everything", headers: ["Content-Type": "text/plain"], body: Array("_count=1".utf8))
            #expect(text.status == 415)
            #expect(try await post([["name": "start", "valueDate": "2020-01-01"]]).status == 200)
            let strict = try await post([["name": "start", "valueDate": "2020-01-01"]], headers: json.merging(["Prefer": "handling=strict"]) { $1 })
            #expect(strict.status == 400 && strict.issue?.diagnostics.contains("start") == true)
            let badCount = try await post([["name": "_count", "valueInteger": -1]])
            #expect(badCount.status == 400 && badCount.issue?.diagnostics.contains("_count") == true)
        }
    }
}
