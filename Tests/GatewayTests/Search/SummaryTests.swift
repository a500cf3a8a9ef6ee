import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Gateway
import RecordStore
import TestSupport
import Testing

/// `_summary=true` (and `text`, `data`) on read and search, JSON and XML, over real loopback HTTP on both stores,
/// with a real Synthea patient. What a summary may hold is read here from the official definitions
/// (`../shared/fhir-r4-definitions/profiles-*.json`, `isSummary` and `min`), not from the type table the gateway uses.
@Suite("Gateway _summary on read and search", .timeLimit(.minutes(5)))
struct SummaryTests {
    static let synthea = "synthea/bundles/Lupe_Little_f8a42e66-8c03-4ee6-85e3-3817c2942de1.json"

    /// Per type (`Patient`, `HumanName`, `Patient.contact`), its elements' JSON name stems (`value` for `value[x]`)
    /// with `isSummary` and `min`.
    struct Definitions {
        var elements: [String: [String: (summary: Bool, min: Int, choice: Bool)]] = [:]

        static let r4: Definitions = {
            var d = Definitions()
            for file in ["profiles-resources.json", "profiles-types.json"] {
                let url = Repository.shared.appendingPathComponent("fhir-r4-definitions/" + file)
                guard let data = try? Data(contentsOf: url),
                      let bundle = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { continue }
                for entry in bundle["entry"] as? [[String: Any]] ?? [] {
                    guard let sd = entry["resource"] as? [String: Any], sd["resourceType"] as? String == "StructureDefinition",
                          let elements = (sd["snapshot"] as? [String: Any])?["element"] as? [[String: Any]] else { continue }
                    for element in elements {
                        guard let path = element["path"] as? String, let dot = path.lastIndex(of: ".") else { continue }
                        var name = String(path[path.index(after: dot)...])
                        let choice = name.hasSuffix("[x]")
                        if choice { name = String(name.dropLast(3)) }
                        d.elements[String(path[..<dot]), default: [:]][name] =
                            (element["isSummary"] as? Bool ?? false, element["min"] as? Int ?? 0, choice)
                    }
                }
            }
            return d
        }()

        /// The definition of a JSON member of `type` (`valueQuantity` → `value[x]`).
        func element(_ member: String, of type: String) -> (summary: Bool, min: Int, choice: Bool)? {
            let known = elements[type] ?? [:]
            if let e = known[member], !e.choice { return e }
            return known.first { $0.value.choice && member.hasPrefix($0.key) && member.dropFirst($0.key.count).first?.isUppercase == true }?.value
        }

        /// Whether `_summary=true` may return `member` of a `type`: marked summary, or mandatory.
        func allows(_ member: String, of type: String) -> Bool {
            guard let e = element(member, of: type) else { return false }
            return e.summary || e.min > 0
        }
    }

    static let subsetted = "SUBSETTED"

    static func tags(_ resource: [String: Any]) -> [String] {
        ((resource["meta"] as? [String: Any])?["tag"] as? [[String: Any]] ?? []).compactMap { $0["code"] as? String }
    }

    /// The checks every summary of a `type` passes against its full version: nothing that is neither summary nor
    /// mandatory, every summary member the full version has, and the SUBSETTED tag.
    static func expectSummary(_ summary: [String: Any], of full: [String: Any], type: String, _ what: String) {
        let definitions = Definitions.r4
        for member in summary.keys where member != "resourceType" {
            #expect(definitions.allows(member, of: type), "\(what): \(type).\(member) is neither summary nor mandatory")
        }
        for member in full.keys where member != "resourceType" && !member.hasPrefix("_") && definitions.allows(member, of: type) {
            #expect(summary[member] != nil, "\(what): summary element \(type).\(member) is missing")
        }
        #expect(summary["text"] == nil && summary["extension"] == nil, "\(what): no narrative, no extensions")
        #expect(tags(summary).contains(subsetted), "\(what): tagged SUBSETTED")
        #expect(!tags(full).contains(subsetted), "\(what): the full version is not")
    }

    /// The names of the root element's children of an XML document, and every `code value` in it.
    final class XMLShape: NSObject, XMLParserDelegate, @unchecked Sendable {
        var depth = 0
        var rootChildren: [String] = []
        var entryResourceTypes: [String] = []
        var codes: [String] = []
        var path: [String] = []

        static func of(_ bytes: [UInt8]) -> XMLShape {
            let shape = XMLShape()
            let parser = XMLParser(data: Data(bytes))
            parser.delegate = shape
            _ = parser.parse()
            return shape
        }

        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                    attributes: [String: String] = [:]) {
            if depth == 1 { rootChildren.append(name) }
            if path.suffix(2) == ["entry", "resource"] { entryResourceTypes.append(name) }
            if name == "code", let value = attributes["value"] { codes.append(value) }
            path.append(name)
            depth += 1
        }

        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            path.removeLast()
            depth -= 1
        }
    }

    @Test("_summary=true on read and search, JSON and XML", arguments: StoreKind.allCases)
    func summaryOnReadAndSearch(kind: StoreKind) async throws {
        let body = try RecordGateway.corpus(Self.synthea)
        try await RecordGateway.run(kind) { client, _ in
            let posted = try await client.send("POST", "/", headers: ["Content-Type": "application/fhir+json"], body: body)
            #expect(posted.status == 200)
            let locations = (posted.json["entry"] as? [[String: Any]] ?? []).compactMap { ($0["response"] as? [String: Any])?["location"] as? String }
            let patientPath = try #require(locations.compactMap(RecordGateway.resourcePath(ofLocation:)).first { $0.path.hasPrefix("/Patient/") }?.path)
            let patientId = String(patientPath.dropFirst("/Patient/".count))

            // Read: the Synthea Patient has a narrative, extensions, maritalStatus and communication, none of them summary.
            let full = try await client.get(patientPath)
            #expect(full.status == 200)
            #expect(full.json["text"] != nil && full.json["extension"] != nil && full.json["communication"] != nil)
            let summary = try await client.get(patientPath + "?_summary=true")
            #expect(summary.status == 200)
            Self.expectSummary(summary.json, of: full.json, type: "Patient", "read")
            #expect(summary.json["communication"] == nil && summary.json["maritalStatus"] == nil)
            // Nested: an address is summary, its geolocation extension is not.
            let address = try #require((summary.json["address"] as? [[String: Any]])?.first)
            #expect(address["extension"] == nil && address["city"] != nil)
            #expect(try await client.get(patientPath + "?_summary=false").json.keys.sorted() == full.json.keys.sorted())

            let xml = try await client.get(patientPath + "?_summary=true&_format=xml")
            #expect(xml.status == 200)
            #expect(xml.header("content-type")?.hasPrefix("application/fhir+xml") == true)
            let xmlShape = XMLShape.of(xml.body)
            #expect(Set(xmlShape.rootChildren) == Set(summary.json.keys.filter { $0 != "resourceType" }), "XML holds what JSON holds")
            #expect(xmlShape.codes.contains(Self.subsetted))

            // Search: every match a summary of its full version, the Bundle's own elements untouched.
            let asked = "/Observation?patient=\(patientId)&_count=5&_sort=_id"
            let fullPage = try await client.get(asked)
            let summaryPage = try await client.get(asked + "&_summary=true")
            #expect(summaryPage.status == 200)
            #expect(summaryPage.json["type"] as? String == "searchset")
            let fullMatches = (fullPage.json["entry"] as? [[String: Any]] ?? []).compactMap { $0["resource"] as? [String: Any] }
            let summaryMatches = (summaryPage.json["entry"] as? [[String: Any]] ?? []).compactMap { $0["resource"] as? [String: Any] }
            #expect(fullMatches.count == 5 && summaryMatches.count == 5)
            #expect(fullMatches.contains { $0["category"] != nil }, "the full Observations carry category, which is not summary")
            for (s, f) in zip(summaryMatches, fullMatches) {
                #expect(s["id"] as? String == f["id"] as? String)
                Self.expectSummary(s, of: f, type: "Observation", "search match \(f["id"] as? String ?? "")")
                #expect(s["category"] == nil)
            }
            let nextLink = (summaryPage.json["link"] as? [[String: Any]] ?? []).first { $0["relation"] as? String == "next" }?["url"] as? String
            #expect(nextLink?.contains("_summary=true") == true, "paging keeps the summary")

            let xmlPage = try await client.get(asked + "&_summary=true&_format=xml")
            #expect(xmlPage.status == 200)
            let pageShape = XMLShape.of(xmlPage.body)
            #expect(pageShape.entryResourceTypes == Array(repeating: "Observation", count: 5))
            #expect(pageShape.codes.filter { $0 == Self.subsetted }.count == 5, "each match tagged SUBSETTED")
        }
    }

    @Test func summaryTextAndDataOnReadAndSearchAndUnknownValuesRefused() async throws {
        try await RecordGateway.run(.sqlite) { client, _ in
            let id = try await EverythingPagingTests.importPatient(client)
            let full = try await client.get("/Patient/\(id)").json
            #expect(full["text"] != nil && full["address"] != nil)
            let searched = { (summary: String) async throws -> [String: Any] in
                let page = try await client.get("/Patient?_id=\(id)&_summary=\(summary)")
                return try #require(HistoryEverythingSubsetTests.resources(page).first)
            }
            // text: the narrative, id, meta and the mandatory top-level elements (Patient has none).
            for text in [try await client.get("/Patient/\(id)?_summary=text").json, try await searched("text")] {
                #expect(Set(text.keys) == ["resourceType", "id", "meta", "text"], "\(text.keys.sorted())")
                #expect(Self.tags(text).contains(Self.subsetted))
            }
            // data: everything but the narrative.
            for data in [try await client.get("/Patient/\(id)?_summary=data").json, try await searched("data")] {
                #expect(Set(data.keys) == Set(full.keys).subtracting(["text"]), "\(data.keys.sorted())")
                #expect(Self.tags(data).contains(Self.subsetted))
            }
            // A value outside the code system is malformed, under either handling.
            for headers in [["Prefer": "handling=strict"], [:]] {
                let refused = try await client.get("/Patient?_summary=short", headers: headers)
                #expect(refused.status == 400)
                #expect(refused.issue?.diagnostics.contains("_summary") == true)
            }
        }
    }
}
