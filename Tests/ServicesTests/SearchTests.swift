import FHIRCore
import Foundation
import RecordStore
import Services
import TestSupport
import Testing

/// FHIR search end to end below HTTP: URL parameters → ``SearchRequest`` → the store's query engine → a page, on
/// SQLite and on a real PostgreSQL server.
@Suite("Search (SQLite and PostgreSQL)", .timeLimit(.minutes(5)))
struct SearchTests {
    static let fixture = [
        #"{"resourceType":"Organization","id":"org1","name":"Acme"}"#,
        #"{"resourceType":"Patient","id":"p1","meta":{"profile":["http://example.org/StructureDefinition/pat"],"tag":[{"system":"urn:t","code":"vip"}]},"identifier":[{"system":"urn:x","value":"1"}],"name":[{"family":"Chalmers","given":["Peter"]}],"gender":"male","birthDate":"1974-12-25","managingOrganization":{"reference":"Organization/org1"}}"#,
        #"{"resourceType":"Patient","id":"p2","identifier":[{"system":"urn:x","value":"2"}],"name":[{"family":"Müller","given":["Ana"]}],"gender":"female","birthDate":"1980"}"#,
        #"{"resourceType":"Patient","id":"p3","name":[{"family":"Jones","given":["Peterson"]}],"gender":"male","birthDate":"1990-06","deceasedBoolean":true}"#,
        #"{"resourceType":"Observation","id":"o1","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8867-4","display":"Heart rate"}]},"subject":{"reference":"Patient/p1"},"effectiveDateTime":"2020-01-15T10:00:00Z","valueQuantity":{"value":72,"unit":"/min","system":"http://unitsofmeasure.org","code":"/min"}}"#,
        #"{"resourceType":"Observation","id":"o2","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8867-4","display":"Heart rate"}]},"subject":{"reference":"Patient/p2"},"effectiveDateTime":"2021","valueQuantity":{"value":100,"unit":"/min","system":"http://unitsofmeasure.org","code":"/min"}}"#,
        #"{"resourceType":"Observation","id":"o3","status":"amended","code":{"coding":[{"system":"http://loinc.org","code":"29463-7"}],"text":"Body weight"},"subject":{"reference":"Patient/p1"},"effectivePeriod":{"start":"2020-03-01","end":"2020-03-05"},"valueQuantity":{"value":80.5,"unit":"kg","system":"http://unitsofmeasure.org","code":"kg"}}"#,
        #"{"resourceType":"Provenance","id":"pv1","target":[{"reference":"Observation/o1"}],"recorded":"2020-01-15T10:00:00Z","agent":[{"who":{"reference":"Organization/org1"}}]}"#,
        #"{"resourceType":"RiskAssessment","id":"ra1","status":"final","subject":{"reference":"Patient/p1"},"prediction":[{"probabilityDecimal":0.25}]}"#,
    ]

    static func load(_ store: any RecordStore) async throws {
        let unit = try fixture.map { try PreparedRecord(resource: JSONReader().read(Array($0.utf8))) }
        _ = try await store.commit(unit, batch: nil)
    }

    /// The ids a search answers, in order (one page of up to 50).
    static func ids(_ store: any RecordStore, _ type: String, _ query: String, handling: SearchRequest.Handling = .lenient) async throws -> [String] {
        let request = try SearchRequest.parse(type: type, parameters: parameters(query), handling: handling)
        return try await RecordSearch(store: store).search(request).matches.map(\.id)
    }

    static func parameters(_ query: String) -> [(name: String, value: String)] {
        query.split(separator: "&").map { part in
            let kv = part.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? String($0) }
            return (kv[0], kv.count > 1 ? kv[1] : "")
        }
    }

    @Test(arguments: StoreKind.allCases)
    func eachParameterType(kind: StoreKind) async throws {
        try await kind.withStore { store, _ in
            try await Self.load(store)
            // string: prefix, case and accents folded; :exact; :contains
            #expect(try await Self.ids(store, "Patient", "name=pet") == ["p1", "p3"])
            #expect(try await Self.ids(store, "Patient", "name=MULLER") == ["p2"])
            #expect(try await Self.ids(store, "Patient", "name:exact=Peter") == ["p1"])
            #expect(try await Self.ids(store, "Patient", "name:exact=peter") == [])
            #expect(try await Self.ids(store, "Patient", "family:contains=ller") == ["p2"])
            // token: code, system|code, |code, system|, :not, :text, booleans
            #expect(try await Self.ids(store, "Patient", "gender=male") == ["p1", "p3"])
            #expect(try await Self.ids(store, "Patient", "identifier=urn:x|1") == ["p1"])
            #expect(try await Self.ids(store, "Patient", "identifier=|1") == [])
            #expect(try await Self.ids(store, "Patient", "identifier=urn:x|") == ["p1", "p2"])
            #expect(try await Self.ids(store, "Patient", "gender:not=male") == ["p2"])
            #expect(try await Self.ids(store, "Patient", "deceased=true") == ["p3"])
            #expect(try await Self.ids(store, "Observation", "code=http://loinc.org|8867-4") == ["o1", "o2"])
            #expect(try await Self.ids(store, "Observation", "code:text=heart") == ["o1", "o2"])
            #expect(try await Self.ids(store, "Observation", "code:text=body") == ["o3"])
            #expect(try await Self.ids(store, "Patient", "_tag=urn:t|vip") == ["p1"])
            // :missing
            #expect(try await Self.ids(store, "Patient", "identifier:missing=true") == ["p3"])
            #expect(try await Self.ids(store, "Patient", "identifier:missing=false") == ["p1", "p2"])
            // reference: Type/id, bare id, type modifier, :identifier-free
            #expect(try await Self.ids(store, "Observation", "subject=Patient/p1") == ["o1", "o3"])
            #expect(try await Self.ids(store, "Observation", "subject=p1") == ["o1", "o3"])
            #expect(try await Self.ids(store, "Observation", "subject:Patient=p2") == ["o2"])
            #expect(try await Self.ids(store, "Observation", "patient=Patient/p2") == ["o2"])
            // uri
            #expect(try await Self.ids(store, "Patient", "_profile=http://example.org/StructureDefinition/pat") == ["p1"])
            // _id with OR
            #expect(try await Self.ids(store, "Patient", "_id=p3,p1") == ["p1", "p3"])
            // OR within a parameter, AND across repeated parameters
            #expect(try await Self.ids(store, "Patient", "name=ana,jones") == ["p2", "p3"])
            #expect(try await Self.ids(store, "Patient", "name=pet&name=jon") == ["p3"])
        }
    }

    @Test(arguments: StoreKind.allCases)
    func prefixesOnDatesNumbersAndQuantities(kind: StoreKind) async throws {
        try await kind.withStore { store, _ in
            try await Self.load(store)
            #expect(try await Self.ids(store, "Patient", "birthdate=1974") == ["p1"])
            #expect(try await Self.ids(store, "Patient", "birthdate=1974-12-25") == ["p1"])
            #expect(try await Self.ids(store, "Patient", "birthdate=gt1975") == ["p2", "p3"])
            #expect(try await Self.ids(store, "Patient", "birthdate=le1980-12-31") == ["p1", "p2"])
            // 1980 (the whole year) is not entirely after 1980-06-01: neither gt nor sa, but it ends after it.
            #expect(try await Self.ids(store, "Patient", "birthdate=sa1980-06-01") == ["p3"])
            #expect(try await Self.ids(store, "Patient", "birthdate=gt1980-06-01") == ["p2", "p3"])
            #expect(try await Self.ids(store, "Patient", "birthdate=ne1980") == ["p1", "p3"])
            #expect(try await Self.ids(store, "Patient", "birthdate=eb1980") == ["p1"])
            #expect(try await Self.ids(store, "Patient", "birthdate=ap1990-06-15") == ["p3"])
            #expect(try await Self.ids(store, "Observation", "date=2020") == ["o1", "o3"])
            #expect(try await Self.ids(store, "Observation", "date=2020-03-03") == [])
            #expect(try await Self.ids(store, "Observation", "date=ge2020-03-03") == ["o2", "o3"])
            #expect(try await Self.ids(store, "Observation", "date=lt2020-02") == ["o1"])
            // quantity: by value (its precision for eq), with system and code
            #expect(try await Self.ids(store, "Observation", "value-quantity=72") == ["o1"])
            #expect(try await Self.ids(store, "Observation", "value-quantity=80") == [])
            #expect(try await Self.ids(store, "Observation", "value-quantity=80.5") == ["o3"])
            #expect(try await Self.ids(store, "Observation", "value-quantity=gt75") == ["o2", "o3"])
            #expect(try await Self.ids(store, "Observation", "value-quantity=lt100") == ["o1", "o3"])
            #expect(try await Self.ids(store, "Observation", "value-quantity=le100|http://unitsofmeasure.org|/min") == ["o1", "o2"])
            #expect(try await Self.ids(store, "Observation", "value-quantity=ap95") == ["o2"])
            #expect(try await Self.ids(store, "Observation", "value-quantity=ne72") == ["o2", "o3"])
            // number
            #expect(try await Self.ids(store, "RiskAssessment", "probability=0.25") == ["ra1"])
            #expect(try await Self.ids(store, "RiskAssessment", "probability=gt0.3") == [])
            #expect(try await Self.ids(store, "RiskAssessment", "probability=ge0.2") == ["ra1"])
            // _lastUpdated: everything was written just now
            #expect(try await Self.ids(store, "Patient", "_lastUpdated=gt2020-01-01") == ["p1", "p2", "p3"])
            #expect(try await Self.ids(store, "Patient", "_lastUpdated=lt2020-01-01") == [])
        }
    }

    @Test(arguments: StoreKind.allCases)
    func chainsIncludesAndSorts(kind: StoreKind) async throws {
        try await kind.withStore { store, _ in
            try await Self.load(store)
            #expect(try await Self.ids(store, "Observation", "subject:Patient.name=peter") == ["o1", "o3"])
            #expect(try await Self.ids(store, "Observation", "subject.name=ana") == ["o2"])
            #expect(try await Self.ids(store, "Observation", "subject:Patient.birthdate=lt1975") == ["o1", "o3"])
            #expect(try await Self.ids(store, "Observation", "patient.organization=Organization/org1") == ["o1", "o3"])

            let search = RecordSearch(store: store)
            let include = try await search.search(SearchRequest.parse(type: "Observation", parameters: Self.parameters(
                "_id=o1,o2&_include=Observation:subject&_revinclude=Provenance:target")))
            #expect(include.matches.map(\.id) == ["o1", "o2"])
            #expect(Set(include.included.map { "\($0.type)/\($0.id)" }) == ["Patient/p1", "Patient/p2", "Provenance/pv1"])
            let targeted = try await search.search(SearchRequest.parse(type: "Provenance", parameters: Self.parameters(
                "_include=Provenance:agent:Organization")))
            #expect(targeted.included.map { "\($0.type)/\($0.id)" } == ["Organization/org1"])

            #expect(try await Self.ids(store, "Patient", "_sort=-birthdate") == ["p3", "p2", "p1"])
            #expect(try await Self.ids(store, "Patient", "_sort=birthdate") == ["p1", "p2", "p3"])
            #expect(try await Self.ids(store, "Patient", "_sort=gender,-_id") == ["p2", "p3", "p1"])
            #expect(try await Self.ids(store, "Observation", "_sort=-value-quantity") == ["o2", "o3", "o1"])
            #expect(try await Self.ids(store, "Patient", "_sort=-_lastUpdated,_id").count == 3)
            // Paging on -_lastUpdated: the three were written in one unit (one instant), so the id decides.
            var lastUpdatedPages: [String] = []
            var cursor: SearchCursor?
            repeat {
                var request = try SearchRequest.parse(type: "Patient", parameters: Self.parameters("_sort=-_lastUpdated&_count=2"))
                request.query.cursor = cursor
                let page = try await search.search(request)
                lastUpdatedPages += page.matches.map(\.id)
                cursor = page.next
            } while cursor != nil && lastUpdatedPages.count < 10
            #expect(lastUpdatedPages == ["p1", "p2", "p3"])

            let count = try await search.search(SearchRequest.parse(type: "Patient", parameters: Self.parameters("_summary=count")))
            #expect(count.total == 3 && count.matches.isEmpty)
            let total = try await search.search(SearchRequest.parse(type: "Patient", parameters: Self.parameters("gender=male&_total=accurate&_count=1")))
            #expect(total.total == 2 && total.matches.count == 1 && total.next != nil)
        }
    }

    /// Paging by cursor with a sort: every page follows the previous, the last has no next link.
    @Test(arguments: StoreKind.allCases)
    func pagingFollowsTheCursor(kind: StoreKind) async throws {
        try await kind.withStore { store, _ in
            try await Self.load(store)
            var seen: [String] = []
            var cursor: String?
            var pages = 0
            repeat {
                var parameters = Self.parameters("_sort=-birthdate&_count=1")
                if let cursor { parameters.append(("_cursor", cursor)) }
                let page = try await RecordSearch(store: store).search(SearchRequest.parse(type: "Patient", parameters: parameters))
                seen += page.matches.map(\.id)
                cursor = page.next?.description
                pages += 1
            } while cursor != nil && pages < 10
            #expect(seen == ["p3", "p2", "p1"])
            #expect(pages == 3)
        }
    }

    /// Pages read while other resources are written between them: every resource that existed before the first
    /// page is seen exactly once, and nothing twice.
    @Test(arguments: StoreKind.allCases)
    func pagingIsStableUnderConcurrentInserts(kind: StoreKind) async throws {
        try await kind.withStore { store, _ in
            func patient(_ id: String) throws -> PreparedRecord {
                try PreparedRecord(resource: JSONReader().read(Array(#"{"resourceType":"Patient","id":"\#(id)","gender":"other"}"#.utf8)))
            }
            let before = (0..<60).map { String(format: "c%03d", $0 * 2) }
            _ = try await store.commit(try before.map(patient), batch: nil)
            let writer = Task {
                for n in 0..<60 {
                    // Odd ids fall between the even ones already paged and those still to come.
                    _ = try await store.commit([try patient(String(format: "c%03d", n * 2 + 1))], batch: nil)
                    await Task.yield()
                }
            }
            var seen: [String] = []
            var cursor: SearchCursor?
            var pages = 0
            repeat {
                var request = try SearchRequest.parse(type: "Patient", parameters: [("gender", "other"), ("_count", "7")])
                request.query.cursor = cursor
                let page = try await RecordSearch(store: store).search(request)
                seen += page.matches.map(\.id)
                cursor = page.next
                pages += 1
            } while cursor != nil && pages < 100
            try await writer.value
            #expect(Set(seen).count == seen.count, "no resource twice")
            #expect(Set(before).isSubset(of: Set(seen)), "every resource that existed before is seen")
            #expect(seen == seen.sorted(), "in id order")
        }
    }

    @Test func strictAndLenientHandling() throws {
        let lenient = try SearchRequest.parse(type: "Patient", parameters: [("name", "x"), ("colour", "red"), ("name:nonsense", "y")])
        #expect(lenient.query.clauses.count == 1)
        #expect(lenient.warnings.count == 2)
        #expect(lenient.warnings[0].contains("colour"))
        #expect(throws: ServiceError.self) {
            try SearchRequest.parse(type: "Patient", parameters: [("name", "x"), ("colour", "red")], handling: .strict)
        }
        do {
            _ = try SearchRequest.parse(type: "Patient", parameters: [("colour", "red")], handling: .strict)
            Issue.record("strict handling accepted an unknown parameter")
        } catch {
            #expect(error.code == .invalidRequest)
            #expect(error.reason.contains("colour"))
        }
        #expect(SearchRequest.Handling(prefer: "return=minimal, handling=strict") == .strict)
        #expect(SearchRequest.Handling(prefer: nil) == .lenient)
        // Composite parameters exist but are not searched.
        #expect(try SearchRequest.parse(type: "Observation", parameters: [("code-value-quantity", "x$1")]).warnings.count == 1)
    }

    @Test func malformedValuesAreRefusedNamingTheParameter() {
        for (type, name, value) in [("Patient", "birthdate", "yesterday"), ("Observation", "value-quantity", "gtabc"),
                                    ("Patient", "_count", "-1"), ("Patient", "_cursor", "nope"), ("Patient", "_sort", "colour"),
                                    ("Patient", "identifier:missing", "maybe"), ("Patient", "identifier", "a|b|c")] {
            do {
                _ = try SearchRequest.parse(type: type, parameters: [(name, value)], handling: .lenient)
                Issue.record("\(name)=\(value) was accepted")
            } catch {
                #expect(error.code == .invalidRequest, "\(name)")
                #expect(error.reason.contains(name.split(separator: ":")[0]), "\(error.reason)")
            }
        }
        #expect(throws: ServiceError.self) { try SearchRequest.parse(type: "Nonsense", parameters: []) }
    }

    @Test func searchsetBundle() throws {
        let request = try SearchRequest.parse(type: "Patient", parameters: [("name", "a b"), ("_elements", "name")])
        let canonical = Array(#"{"gender":"male","id":"p1","meta":{"lastUpdated":"2020-01-01T00:00:00.000Z","versionId":"1"},"name":[{"family":"A"}],"resourceType":"Patient"}"#.utf8)
        let stored = StoredVersion(key: RecordKey(type: "Patient", id: "p1"), version: 1, txid: 1, lastUpdated: "2020-01-01T00:00:00.000Z",
                                   contentHash: [], canonicalHash: [], salt: [], commitment: [], canonical: canonical)
        let result = SearchResult(matches: [StoredResource(stored)], included: [], next: SearchCursor(keys: [], id: "p1"), total: 7,
                                  warnings: ["w"])
        let bundle = try #require(SearchBundle.make(result, request: request, base: "https://h/fhir/Patient", fullURLBase: "https://h/fhir").objectValue)
        #expect(bundle["type"] == .string("searchset"))
        #expect(bundle["total"] == .number(FHIRNumber(7)))
        let links = try #require(bundle["link"]?.arrayValue)
        #expect(links[0].objectValue?["url"] == .string("https://h/fhir/Patient?name=a%20b&_elements=name"))
        let next = try #require(links[1].objectValue?["url"]?.stringValue)
        #expect(next.hasPrefix("https://h/fhir/Patient?name=a%20b&_elements=name&_cursor="))
        let entries = try #require(bundle["entry"]?.arrayValue)
        #expect(entries.count == 2)
        let match = try #require(entries[0].objectValue)
        #expect(match["search"]?.objectValue?["mode"] == .string("match"))
        #expect(match["resource"]?.objectValue?["gender"] == nil)
        #expect(match["resource"]?.objectValue?["name"] != nil)
        #expect(entries[1].objectValue?["search"]?.objectValue?["mode"] == .string("outcome"))
    }
}
