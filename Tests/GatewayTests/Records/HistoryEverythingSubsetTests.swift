import Foundation
import Gateway
import RecordStore
import TestSupport
import Testing

/// `_summary` (true, text, data, count) and `_elements` on history Bundles (instance, type, system) and
/// `$everything` pages, strict handling of their unknown parameters, and next links that keep every parameter that
/// shapes a page (`_summary`, `_elements`, `_format`), over real loopback HTTP with a real Synthea patient on SQLite
/// and PostgreSQL. What a subset may hold is read from the official definitions (``SummaryTests/Definitions``).
@Suite("Gateway _summary and _elements on history and $everything", .timeLimit(.minutes(8)))
struct HistoryEverythingSubsetTests {
    /// The resources of a Bundle's entries, in order.
    static func resources(_ reply: RecordGateway.Reply) -> [[String: Any]] {
        (reply.json["entry"] as? [[String: Any]] ?? []).compactMap { $0["resource"] as? [String: Any] }
    }

    /// The members `_summary=text` may return of a `type`: resourceType, id, meta, text and the mandatory top-level
    /// elements.
    static func textAllows(_ member: String, of type: String) -> Bool {
        ["resourceType", "id", "meta", "text"].contains(member) || (SummaryTests.Definitions.r4.element(member, of: type)?.min ?? 0) > 0
    }

    /// The `next` link's URL in an XML Bundle (`<relation value="next"/><url value="…"/>`), unescaped.
    static func xmlNext(_ reply: RecordGateway.Reply) -> String? {
        let text = reply.text
        guard let relation = text.range(of: #"<relation value="next"/>"#),
              let start = text.range(of: #"<url value=""#, range: relation.upperBound..<text.endIndex),
              let end = text.range(of: "\"", range: start.upperBound..<text.endIndex) else { return nil }
        let url = String(text[start.upperBound..<end.lowerBound]).replacingOccurrences(of: "&amp;", with: "&")
        guard let components = URLComponents(string: url) else { return nil }
        return components.percentEncodedPath + (components.percentEncodedQuery.map { "?" + $0 } ?? "")
    }

    @Test("history: _summary=true|text|data and _elements subset each version, tagged; next links keep them",
          arguments: StoreKind.allCases)
    func historySubsets(kind: StoreKind) async throws {
        try await RecordGateway.run(kind) { client, _ in
            let id = try await EverythingPagingTests.importPatient(client)
            // A second version of the patient, so that its history has two resources.
            var changed = try await client.get("/Patient/\(id)").json
            changed["gender"] = (changed["gender"] as? String) == "male" ? "female" : "male"
            #expect(try await client.write("PUT", "/Patient/\(id)", json: changed).status == 200)

            let full = try await client.get("/Patient/\(id)/_history")
            let fullVersions = Self.resources(full)
            #expect(fullVersions.count == 2 && fullVersions.allSatisfy { $0["text"] != nil && $0["communication"] != nil })
            let summary = try await client.get("/Patient/\(id)/_history?_summary=true")
            #expect(summary.status == 200)
            #expect(BundleRules.violations(summary.json).isEmpty, "\(BundleRules.violations(summary.json))")
            let summaryVersions = Self.resources(summary)
            try #require(summaryVersions.count == 2)
            for (s, f) in zip(summaryVersions, fullVersions) {
                SummaryTests.expectSummary(s, of: f, type: "Patient", "instance history version \((f["meta"] as? [String: Any])?["versionId"] ?? "")")
            }
            // The entries' request and response are the history's, untouched by the subset.
            let entries = summary.json["entry"] as? [[String: Any]] ?? []
            #expect(entries.compactMap { ($0["response"] as? [String: Any])?["etag"] as? String } == ["W/\"2\"", "W/\"1\""])

            let text = Self.resources(try await client.get("/Patient/\(id)/_history?_summary=text"))
            #expect(text.count == 2)
            for version in text {
                #expect(version.keys.allSatisfy { Self.textAllows($0, of: "Patient") }, "\(version.keys.sorted())")
                #expect(version["text"] != nil && version["communication"] == nil && version["address"] == nil)
                #expect(SummaryTests.tags(version).contains(SummaryTests.subsetted))
            }
            let data = Self.resources(try await client.get("/Patient/\(id)/_history?_summary=data"))
            for (d, f) in zip(data, fullVersions) {
                #expect(d["text"] == nil && Set(d.keys) == Set(f.keys).subtracting(["text"]))
                #expect(SummaryTests.tags(d).contains(SummaryTests.subsetted))
            }
            #expect(Self.resources(try await client.get("/Patient/\(id)/_history?_summary=false")).map { Set($0.keys) } == fullVersions.map { Set($0.keys) })

            // Type history paged with _elements: every page's versions subsetted, the next link carrying it.
            var uri: String? = "/Observation/_history?_count=20&_elements=status,subject"
            var pages = 0
            var versions = 0
            while let current = uri, pages < 10 {
                let page = try await client.get(current)
                try #require(page.status == 200, "\(current): \(page.text.prefix(300))")
                #expect(page.json["type"] as? String == "history")
                for resource in Self.resources(page) {
                    // Observation.status and .code are mandatory; subject is named.
                    #expect(Set(resource.keys).isSubset(of: ["resourceType", "id", "meta", "status", "code", "subject"]), "\(resource.keys.sorted())")
                    #expect(resource["subject"] != nil && SummaryTests.tags(resource).contains(SummaryTests.subsetted))
                    versions += 1
                }
                uri = EverythingPagingTests.next(page)
                if let next = uri { #expect(next.contains("_elements=status%2Csubject") && next.contains("_count=20"), "\(next)") }
                pages += 1
            }
            #expect(pages == 3 && versions == 41, "the patient's 41 Observations, 20 a page")

            // System history in XML with _summary=text: the next page comes in XML and subsetted too.
            let xml = try await client.get("/_history?_count=30&_summary=text&_format=xml")
            #expect(xml.status == 200 && xml.header("content-type")?.hasPrefix("application/fhir+xml") == true)
            let next = try #require(Self.xmlNext(xml))
            #expect(next.contains("_format=xml") && next.contains("_summary=text"), "\(next)")
            let second = try await client.get(next)
            #expect(second.status == 200 && second.header("content-type")?.hasPrefix("application/fhir+xml") == true)
            let shape = SummaryTests.XMLShape.of(second.body)
            #expect(shape.entryResourceTypes.count == 30)
            #expect(shape.codes.filter { $0 == SummaryTests.subsetted }.count == 30, "each version on the next page tagged SUBSETTED")
        }
    }

    @Test("history: _summary=count and values outside the code system are 400; strict handling names unknown parameters")
    func historyRefusals() async throws {
        try await RecordGateway.run(.sqlite) { client, _ in
            let id = try await EverythingPagingTests.importPatient(client)
            for uri in ["/_history", "/Observation/_history", "/Patient/\(id)/_history"] {
                let count = try await client.get(uri + "?_summary=count")
                #expect(count.status == 400, "\(uri)")
                #expect(count.issue?.diagnostics.contains("_summary=count") == true, "\(uri): \(count.issue?.diagnostics ?? "")")
                let bogus = try await client.get(uri + "?_summary=short")
                #expect(bogus.status == 400 && bogus.issue?.diagnostics.contains("_summary") == true, "\(uri)")
                // `_at` is a history parameter CareLedger does not support: ignored, or named in a 400 under strict.
                #expect(try await client.get(uri + "?_at=2020").status == 200, "\(uri)")
                let strict = try await client.get(uri + "?_at=2020&_count=2", headers: ["Prefer": "handling=strict"])
                #expect(strict.status == 400, "\(uri)")
                #expect(strict.issue?.code == "invalid" && strict.issue?.diagnostics.contains("_at") == true, "\(uri): \(strict.issue?.diagnostics ?? "")")
                // The parameters it does support pass strict handling.
                let supported = try await client.get(uri + "?_count=2&_since=2000-01-01T00:00:00Z&_summary=true&_elements=id&_format=json&_pretty=false",
                                                     headers: ["Prefer": "handling=strict"])
                #expect(supported.status == 200, "\(uri): \(supported.text.prefix(300))")
                let since = try await client.get(uri + "?_since=2020-13-45")
                #expect(since.status == 400 && since.issue?.diagnostics.contains("_since") == true, "\(uri)")
                // _count=0: an empty page, no link on and no total (a history has no count to give).
                let empty = try await client.get(uri + "?_count=0")
                #expect(empty.status == 200 && empty.json["entry"] == nil && empty.json["total"] == nil && EverythingPagingTests.next(empty) == nil, "\(uri)")
                #expect(try await client.get(uri + "?_count=-1").issue?.diagnostics.contains("_count") == true, "\(uri)")
                // _pretty survives into the next link too (the patient has one version: no next link to its history).
                let pretty = try await client.get(uri + "?_count=1&_pretty=true")
                if !uri.hasPrefix("/Patient/") { #expect(EverythingPagingTests.next(pretty)?.contains("_pretty=true") == true, "\(uri)") }
            }
        }
    }

    @Test("$everything: subsets on every page, _summary=count and _count=0 give the total alone", arguments: StoreKind.allCases)
    func everythingSubsetsAndCount(kind: StoreKind) async throws {
        try await RecordGateway.run(kind) { client, _ in
            let id = try await EverythingPagingTests.importPatient(client)
            let whole = try await client.get("/Patient/\(id)/$everything?_count=1000")
            let all = Self.resources(whole)
            #expect(all.count == 86)
            // The Organization and Practitioner the records reference are included whole, as search's includes are.
            func isIncluded(_ resource: [String: Any]) -> Bool { ["Organization", "Practitioner"].contains(resource["resourceType"] as? String ?? "") }
            let matches = all.filter { !isIncluded($0) }

            // _summary=true, paged: each page's resources are summaries of the full ones, the next link keeps it.
            var full: [String: [String: Any]] = [:]
            for resource in all { full["\(resource["resourceType"] ?? "")/\(resource["id"] ?? "")"] = resource }
            var uri: String? = "/Patient/\(id)/$everything?_count=30&_summary=true"
            var seen = 0
            while let current = uri, seen < 200 {
                let page = try await client.get(current)
                try #require(page.status == 200, "\(current)")
                #expect(BundleRules.violations(page.json).isEmpty, "\(BundleRules.violations(page.json))")
                for resource in Self.resources(page) {
                    let type = resource["resourceType"] as? String ?? ""
                    let source = try #require(full["\(type)/\(resource["id"] ?? "")"])
                    if isIncluded(resource) {
                        let canonical = { (o: [String: Any]) in try JSONSerialization.data(withJSONObject: o, options: .sortedKeys) }
                        #expect(try canonical(resource) == canonical(source), "an included \(type) is whole")
                    } else {
                        SummaryTests.expectSummary(resource, of: source, type: type, "$everything \(type)")
                    }
                    seen += 1
                }
                uri = EverythingPagingTests.next(page)
                if let next = uri { #expect(next.contains("_summary=true") && next.contains("_count=30"), "\(next)") }
            }
            #expect(seen == all.count)

            // _elements and _format=xml survive into the next link.
            let xml = try await client.get("/Patient/\(id)/$everything?_count=50&_elements=status&_format=xml")
            #expect(xml.status == 200 && xml.header("content-type")?.hasPrefix("application/fhir+xml") == true)
            let next = try #require(Self.xmlNext(xml))
            #expect(next.contains("_format=xml") && next.contains("_elements=status") && next.contains("_count=50"), "\(next)")
            let second = try await client.get(next)
            #expect(second.header("content-type")?.hasPrefix("application/fhir+xml") == true)
            let shape = SummaryTests.XMLShape.of(second.body)
            #expect(shape.entryResourceTypes.count == all.count - 50)
            #expect(shape.codes.filter { $0 == SummaryTests.subsetted }.count == matches.count - 50)
            // `_elements=value` names Observation.value[x] by its base name: each Observation keeps its valueQuantity (or other).
            let values = Self.resources(try await client.get("/Patient/\(id)/$everything?_count=1000&_type=Observation&_elements=value"))
            let withValue = all.filter { $0["resourceType"] as? String == "Observation" && $0.keys.contains { $0.hasPrefix("value") } }
            #expect(!withValue.isEmpty && values.filter { $0.keys.contains { $0.hasPrefix("value") } }.count == withValue.count)
            let data = Self.resources(try await client.get("/Patient/\(id)/$everything?_count=1000&_summary=data"))
            #expect(data.count == all.count && data.filter { !isIncluded($0) }.allSatisfy { $0["text"] == nil && SummaryTests.tags($0).contains(SummaryTests.subsetted) })
            #expect(data.filter(isIncluded).count == 2 && data.filter(isIncluded).allSatisfy { !SummaryTests.tags($0).contains(SummaryTests.subsetted) })

            // _summary=count, or _count=0 (search §3.1.1.5.7): the total alone, whatever _count says, _type honoured.
            for uri in ["/Patient/\(id)/$everything?_summary=count", "/Patient/\(id)/$everything?_summary=count&_count=5",
                        "/Patient/\(id)/$everything?_count=0"] {
                let count = try await client.get(uri)
                #expect(count.status == 200, "\(uri)")
                #expect(count.json["total"] as? Int == matches.count && count.json["entry"] == nil && EverythingPagingTests.next(count) == nil, "\(uri)")
            }
            let observations = try await client.get("/Patient/\(id)/$everything?_summary=count&_type=Observation")
            #expect(observations.json["total"] as? Int == all.filter { $0["resourceType"] as? String == "Observation" }.count)
            #expect(try await client.get("/Patient/nobody/$everything?_summary=count").status == 404)
            #expect(try await client.get("/Patient/\(id)/$everything?_summary=short").status == 400)
            // _summary and _elements pass strict handling; start does not.
            #expect(try await client.get("/Patient/\(id)/$everything?_summary=true&_elements=id", headers: ["Prefer": "handling=strict"]).status == 200)
            let strict = try await client.get("/Patient/\(id)/$everything?_summary=true&start=2020", headers: ["Prefer": "handling=strict"])
            #expect(strict.status == 400 && strict.issue?.diagnostics.contains("start") == true)
        }
    }

    /// The path and query of a JSON Bundle's link of `relation`.
    static func link(_ reply: RecordGateway.Reply, _ relation: String) -> String? {
        guard let link = (reply.json["link"] as? [[String: Any]] ?? []).first(where: { $0["relation"] as? String == relation }),
              let url = link["url"] as? String, let components = URLComponents(string: url) else { return nil }
        return components.percentEncodedPath + (components.percentEncodedQuery.map { "?" + $0 } ?? "")
    }

    @Test("search: _count=0 gives the total; next links keep _format; a later page's self link names that page")
    func searchCountZeroAndFormatInLinks() async throws {
        try await RecordGateway.run(.sqlite) { client, _ in
            let id = try await EverythingPagingTests.importPatient(client)
            let first = try await client.get("/Observation?patient=\(id)&_count=20&_sort=_id")
            #expect(Self.link(first, "self")?.contains("_cursor") == false)
            let page2 = try await client.get(try #require(Self.link(first, "next")))
            let again = try #require(Self.link(page2, "self"))
            #expect(again.contains("_cursor=") && again.contains("_count=20"), "\(again)")
            let secondKeys = EverythingPagingTests.keys(page2)
            let refetched = EverythingPagingTests.keys(try await client.get(again))
            #expect(secondKeys.count == 20 && refetched == secondKeys, "self fetches the same page")
            #expect(Set(secondKeys).isDisjoint(with: EverythingPagingTests.keys(first)))
            let zero = try await client.get("/Observation?patient=\(id)&_count=0")
            #expect(zero.status == 200 && zero.json["total"] as? Int == 41 && zero.json["entry"] == nil && EverythingPagingTests.next(zero) == nil)
            let none = try await client.get("/Observation?patient=\(id)&_count=0&_total=none")
            #expect(none.status == 200 && none.json["total"] == nil, "_total=none refuses the count")
            // _summary=count whatever _count says, before or after it.
            for uri in ["/Observation?patient=\(id)&_summary=count&_count=5", "/Observation?_count=5&patient=\(id)&_summary=count"] {
                let count = try await client.get(uri)
                #expect(count.json["total"] as? Int == 41 && count.json["entry"] == nil, "\(uri)")
            }
            let xml = try await client.get("/Observation?patient=\(id)&_count=20&_format=xml&_summary=text")
            #expect(xml.status == 200)
            let next = try #require(Self.xmlNext(xml))
            #expect(next.contains("_format=xml") && next.contains("_summary=text"), "\(next)")
            let second = try await client.get(next)
            #expect(second.header("content-type")?.hasPrefix("application/fhir+xml") == true)
            #expect(SummaryTests.XMLShape.of(second.body).codes.filter { $0 == SummaryTests.subsetted }.count == 20)
        }
    }
}
