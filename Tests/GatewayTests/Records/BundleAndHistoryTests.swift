import Foundation
import Gateway
import RecordStore
import TestSupport
import Testing

/// Transaction and batch Bundles at `POST /` with a real Synthea patient, `Patient/{id}/$everything`, and history
/// paging by cursor, over real loopback HTTP on SQLite and PostgreSQL.
@Suite("Gateway Bundles, $everything and history", .timeLimit(.minutes(8)))
struct BundleAndHistoryTests {
    static let synthea = "synthea/bundles/Agustin_Fonseca_cb5696d9-a0de-4f49-94f9-433f96a28eb0.json"

    @Test("a Synthea transaction Bundle, then the patient's $everything", arguments: StoreKind.allCases)
    func transactionThenEverything(kind: StoreKind) async throws {
        let body = try RecordGateway.corpus(Self.synthea)
        let source = try RecordGateway.corpusJSON(Self.synthea)
        let sourceEntries = source["entry"] as? [[String: Any]] ?? []
        let entryCount = sourceEntries.count
        let clinicalTypes = ["Observation", "Encounter", "Condition", "Immunization", "Procedure", "Claim", "MedicationRequest"]
        var sourceCounts: [String: Int] = [:]
        for entry in sourceEntries {
            if let type = (entry["resource"] as? [String: Any])?["resourceType"] as? String { sourceCounts[type, default: 0] += 1 }
        }
        let expectedCounts = sourceCounts
        try await RecordGateway.run(kind) { client, _ in
            let reply = try await client.send("POST", "/", headers: ["Content-Type": "application/fhir+json"], body: body)
            #expect(reply.status == 200)
            #expect(reply.json["type"] as? String == "transaction-response")
            #expect(BundleRules.violations(reply.json).isEmpty, "\(BundleRules.violations(reply.json))")
            let entries = reply.json["entry"] as? [[String: Any]] ?? []
            #expect(entries.count == entryCount)
            let statuses = entries.compactMap { ($0["response"] as? [String: Any])?["status"] as? String }
            #expect(statuses.count == entryCount && statuses.allSatisfy { $0.hasPrefix("201") })

            let patientLocation = try #require(entries.compactMap { ($0["response"] as? [String: Any])?["location"] as? String }
                .first { $0.hasPrefix("Patient/") })
            let patientId = String(patientLocation.split(separator: "/")[1])
            #expect(try await client.get("/Patient/\(patientId)").status == 200)

            // One page holds it all (50 a page unless asked; EverythingPagingTests pages it).
            let everything = try await client.get("/Patient/\(patientId)/$everything?_count=1000")
            #expect(everything.status == 200)
            #expect(everything.json["type"] as? String == "searchset")
            #expect(BundleRules.violations(everything.json).isEmpty, "\(BundleRules.violations(everything.json))")
            let pageEntries = everything.json["entry"] as? [[String: Any]] ?? []
            let found = pageEntries.compactMap { $0["resource"] as? [String: Any] }
            let matches = pageEntries.filter { ($0["search"] as? [String: Any])?["mode"] as? String == "match" }
            #expect(everything.json["total"] as? Int == matches.count, "total counts the matches, not the included resources")
            #expect(found.first?["resourceType"] as? String == "Patient")
            // Every clinical resource of the Bundle is in the patient's compartment; its Organization and
            // Practitioner are in none, and come as resources the records reference (EverythingIncludedTests).
            func count(_ type: String, _ list: [[String: Any]]) -> Int { list.filter { $0["resourceType"] as? String == type }.count }
            for type in clinicalTypes {
                #expect(count(type, found) == expectedCounts[type, default: -1], "\(type)")
            }
            #expect(count("Organization", found) == 1 && count("Practitioner", found) == 1)
            #expect(matches.count == found.count - 2)
            #expect(try await client.get("/Patient/not-there/$everything").status == 404)
        }
    }

    @Test("a batch answers entry by entry; a failing transaction stores nothing", arguments: StoreKind.allCases)
    func batchAndFailedTransaction(kind: StoreKind) async throws {
        try await RecordGateway.run(kind) { client, store in
            let batch: [String: Any] = [
                "resourceType": "Bundle", "type": "batch",
                "entry": [
                    ["resource": ["resourceType": "Patient", "id": "gw-b1", "gender": "male"],
                     "request": ["method": "PUT", "url": "Patient/gw-b1"]],
                    ["request": ["method": "GET", "url": "Patient/not-stored"]],
                ],
            ]
            let reply = try await client.write("POST", "/", json: batch)
            #expect(reply.status == 200)
            #expect(reply.json["type"] as? String == "batch-response")
            #expect(BundleRules.violations(reply.json).isEmpty, "\(BundleRules.violations(reply.json))")
            let statuses = (reply.json["entry"] as? [[String: Any]] ?? []).compactMap { ($0["response"] as? [String: Any])?["status"] as? String }
            #expect(statuses.count == 2)
            #expect(statuses.first?.hasPrefix("201") == true)
            #expect(statuses.last?.hasPrefix("404") == true)
            let before = try await store.versionCount()

            let transaction: [String: Any] = [
                "resourceType": "Bundle", "type": "transaction",
                "entry": [
                    ["resource": ["resourceType": "Patient", "id": "gw-t1"], "request": ["method": "PUT", "url": "Patient/gw-t1"]],
                    ["resource": ["resourceType": "Patient", "id": "gw-t2", "birthDate": "not a date"],
                     "request": ["method": "PUT", "url": "Patient/gw-t2"]],
                ],
            ]
            let failed = try await client.write("POST", "/", json: transaction)
            #expect(failed.status >= 400 && failed.status < 500)
            #expect(failed.issue != nil)
            #expect(try await store.versionCount() == before)
            #expect(try await client.get("/Patient/gw-t1").status == 404)

            let notABundle = try await client.write("POST", "/", json: RecordInteractionTests.patient)
            #expect(notABundle.status == 400)
        }
    }

    @Test("history by type and system pages by cursor: every version once, _since honoured", arguments: StoreKind.allCases)
    func historyPaging(kind: StoreKind) async throws {
        try await RecordGateway.run(kind) { client, _ in
            var expected = Set<String>()
            for n in 1...4 {
                var resource = RecordInteractionTests.patient
                resource["id"] = "gw-h\(n)"
                _ = try await client.write("PUT", "/Patient/gw-h\(n)", json: resource)
                expected.insert("gw-h\(n)/1")
            }
            var changed = RecordInteractionTests.patient
            changed["id"] = "gw-h1"
            changed["gender"] = "female"
            _ = try await client.write("PUT", "/Patient/gw-h1", json: changed)
            expected.insert("gw-h1/2")

            var seen: [String] = []
            var next: String? = "/Patient/_history?_count=2"
            var pages = 0
            while let url = next, pages < 10 {
                let page = try await client.get(url)
                #expect(page.status == 200)
                #expect(page.json["type"] as? String == "history")
                #expect(BundleRules.violations(page.json).isEmpty, "\(BundleRules.violations(page.json))")
                for entry in page.json["entry"] as? [[String: Any]] ?? [] {
                    let resource = entry["resource"] as? [String: Any] ?? [:]
                    let version = (resource["meta"] as? [String: Any])?["versionId"] as? String ?? "?"
                    seen.append("\(resource["id"] as? String ?? "?")/\(version)")
                }
                let link = (page.json["link"] as? [[String: Any]] ?? []).first { $0["relation"] as? String == "next" }
                next = (link?["url"] as? String).map { url in
                    String(url[(url.range(of: "/Patient/_history")?.lowerBound ?? url.startIndex)...])
                }
                if let next { #expect(next.contains("_cursor=") && next.contains("_count=2")) }
                pages += 1
            }
            #expect(pages == 3)
            #expect(seen.count == expected.count && Set(seen) == expected)
            #expect(seen.first == "gw-h1/2")

            let system = try await client.get("/_history")
            #expect((system.json["entry"] as? [[String: Any]])?.count == expected.count)
            let future = try await client.get("/_history?_since=2999-01-01T00:00:00Z")
            #expect(future.status == 200 && future.json["entry"] == nil)
            #expect(try await client.get("/_history?_since=yesterday").status == 400)
            #expect(try await client.get("/_history?_count=many").status == 400)
        }
    }
}
