import FHIRCore
import Foundation
import RecordStore
import Services
import TestSupport
import Testing

/// Transactions, batches, import of a body and history paging through ``RecordService``, on SQLite and on a
/// real PostgreSQL 15 server, with Synthea data from the corpus.
@Suite("Record use cases: Bundles, bodies and history (SQLite and PostgreSQL)", .timeLimit(.minutes(5)))
struct RecordBundleTests {
    @Test(arguments: StoreKind.allCases)
    func transactionIsAllOrNothingWithURNs(kind: StoreKind) async throws {
        try await kind.withStore { store, _ in
            let service = RecordService(store: store)
            let bundle = try RecordCorpus.smallestBundle()
            let entries = try #require(bundle.object["entry"]?.arrayValue)

            // One invalid entry refuses the whole transaction: nothing stored.
            var broken = bundle
            var bad = entries
            var last = try #require(bad[bad.count - 1].objectValue)
            var resource = try #require(last["resource"]?.objectValue)
            resource["status"] = .number(FHIRNumber(7))
            last["resource"] = .object(resource)
            bad[bad.count - 1] = .object(last)
            broken.object["entry"] = .array(bad)
            let refused = await RecordCorpus.failure { try await service.process(bundle: broken) }
            #expect(refused?.httpStatus == 422)
            #expect(refused?.issues.contains { $0.location.contains { $0.hasPrefix("/entry/\(entries.count - 1)/resource/status") } } == true)
            #expect(try await store.versionCount() == 0)

            // A urn:uuid that names no entry refuses it too.
            var dangling = bundle
            var cut = entries
            cut.removeFirst() // the Patient, which every other entry refers to by its urn:uuid
            dangling.object["entry"] = .array(cut)
            #expect(await RecordCorpus.failure { try await service.process(bundle: dangling) }?.httpStatus == 422)
            #expect(try await store.versionCount() == 0)

            let result = try await service.process(bundle: bundle)
            #expect(result.type == "transaction-response" && result.entries.count == entries.count)
            #expect(result.entries.allSatisfy { $0.status == 201 }, "\(result.entries.map(\.status))")
            #expect(try await store.versionCount() == entries.count)
            let patient = try #require(result.entries[0].resource)
            #expect(patient.type == "Patient")
            // Every urn:uuid became the id given: the observations name the stored patient.
            for e in result.entries.dropFirst() {
                let text = RecordCorpus.text(try #require(e.resource))
                #expect(!text.contains("urn:uuid:"), "\(e.resource?.type ?? "")")
            }
            let observation = try #require(result.entries.first { $0.resource?.type == "Observation" }?.resource)
            #expect(RecordCorpus.text(observation).contains("\"reference\":\"Patient/\(patient.id)\""))
            // The response Bundle carries status, location and etag per entry.
            let response = try result.bundle()
            let first = try #require(response.object["entry"]?.arrayValue?.first?.objectValue?["response"]?.objectValue)
            #expect(first["status"] == .string("201 Created"))
            #expect(first["location"] == .string("Patient/\(patient.id)/_history/1") && first["etag"] == .string("W/\"1\""))

            // GET entries are read after the writes; deleting and reading in one transaction.
            let organization = try RecordCorpus.resource("Organization", 5)
            let orgID = try #require(organization.id)
            func entry(_ method: String, _ url: String, _ resource: Resource?) -> FHIRValue {
                var e = FHIRObject(["request": .object(FHIRObject(["method": .string(method), "url": .string(url)]))])
                if let resource { e["resource"] = .object(resource.object) }
                return .object(e)
            }
            let mixed = try Resource(FHIRObject(["resourceType": .string("Bundle"), "type": .string("transaction"), "entry": .array([
                entry("GET", "Organization/\(orgID)", nil),
                entry("PUT", "Organization/\(orgID)", organization),
                entry("DELETE", "Observation/\(observation.id)", nil),
                entry("GET", "Observation/\(observation.id)", nil),
            ])]))
            let answered = try await service.process(bundle: mixed)
            #expect(answered.entries.map(\.status) == [200, 201, 200, 410])
            #expect(answered.entries[0].resource?.id == orgID && answered.entries[2].resource?.deleted == true)
            #expect(try await store.versionCount() == entries.count + 2)
            _ = try await service.update(type: "Observation", id: observation.id, resource: try JSONReader().read(observation.canonical))

            // The same transaction again changes nothing (the importer's identities).
            let again = try await service.process(bundle: bundle)
            #expect(again.entries.allSatisfy { $0.status == 200 }, "\(again.entries.map(\.status))")
            #expect(try await store.versionCount() == entries.count + 3)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func batchEntriesSucceedAndFailOnTheirOwn(kind: StoreKind) async throws {
        try await kind.withStore { store, _ in
            let service = RecordService(store: store)
            let stored = try RecordCorpus.resource("Organization", 0)
            let storedID = try #require(stored.id)
            _ = try await service.update(type: "Organization", id: storedID, resource: stored)
            let organization = try RecordCorpus.resource("Organization", 1)
            var invalid = try RecordCorpus.resource("Organization", 2)
            invalid.object["active"] = .string("yes")
            func entry(_ method: String, _ url: String, _ resource: Resource?) -> FHIRValue {
                var e = FHIRObject(["request": .object(FHIRObject(["method": .string(method), "url": .string(url)]))])
                if let resource { e["resource"] = .object(resource.object) }
                return .object(e)
            }
            let batch = try Resource(FHIRObject(["resourceType": .string("Bundle"), "type": .string("batch"), "entry": .array([
                entry("POST", "Organization", organization),
                entry("POST", "Organization", invalid),
                entry("DELETE", "Organization/\(storedID)", nil),
                entry("PUT", "Organization/not-its-id", organization),
                entry("GET", "Organization/\(storedID)", nil),
            ])]))
            let result = try await service.process(bundle: batch)
            #expect(result.type == "batch-response")
            #expect(result.entries.map(\.status) == [201, 422, 200, 400, 410])
            #expect(result.entries[1].outcome?.issues.isEmpty == false && result.entries[0].outcome == nil)
            let response = try result.bundle()
            let second = try #require(response.object["entry"]?.arrayValue?[1].objectValue?["response"]?.objectValue)
            #expect(second["status"] == .string("422 Unprocessable Content") && second["outcome"] != nil)
            // The created organization and the delete are stored; the refused entries wrote nothing.
            #expect(try await store.versionCount() == 3)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func importOfABody(kind: StoreKind) async throws {
        try await kind.withStore { store, _ in
            let service = RecordService(store: store)
            let lines = try RecordCorpus.lines("Practitioner", 12)
            var body: [UInt8] = []
            for line in lines { body += line + [0x0A] }
            body += Array(#"{"resourceType":"Practitioner","id":"bad","birthDate":"robot"}"#.utf8) + [0x0A]
            let result = try await service.importBody(body, mediaType: "application/fhir+ndjson", source: "test body")
            #expect(result.outcomes.count == 12 && result.outcomes.allSatisfy { if case .created = $0 { true } else { false } })
            #expect(result.rejected.count == 1 && result.rejected[0].outcome.contains("birthDate"))
            #expect(try await store.deadLetters(includeResolved: false).count == 1, "a refused line is a dead letter, as in a file import")
            let again = try await service.importBody(body, mediaType: "application/fhir+ndjson; charset=utf-8", source: "test body")
            #expect(again.outcomes.count == 12 && again.outcomes.allSatisfy { if case .unchanged = $0 { true } else { false } })
            // A Bundle body goes through the same Bundle import as a file.
            let bundle = JSONWriter(style: .compact).write(try RecordCorpus.smallestBundle())
            let imported = try await service.importBody(bundle, mediaType: "application/fhir+json", source: "bundle body")
            #expect(imported.outcomes.count >= 60 && imported.rejected.isEmpty)
            #expect(await RecordCorpus.failure { try await service.importBody(body, mediaType: "text/csv", source: "x") }?.httpStatus == 415)
        }
    }

    /// History pages read while other writers add versions: every version stored before the first page is seen
    /// exactly once, nothing twice.
    @Test(arguments: StoreKind.allCases)
    func historyPagingUnderConcurrentInserts(kind: StoreKind) async throws {
        try await kind.withStore { store, _ in
            let service = RecordService(store: store)
            var body: [UInt8] = []
            for line in try RecordCorpus.lines("Condition", 40) { body += line + [0x0A] }
            let seeded = try await service.importBody(body, mediaType: "application/fhir+ndjson", source: "seed")
            #expect(seeded.outcomes.count == 40)
            let before = Set(seeded.outcomes.map { "\($0.key)/1" })
            let extra = try RecordCorpus.lines("Practitioner", 20).map { try JSONReader().read($0) }
            let writer = Task {
                for p in extra { _ = try await service.update(type: "Practitioner", id: p.id ?? "", resource: p) }
            }
            for scope in [Optional("Condition"), nil] {
                var seen: [String] = []
                var cursor: String?
                var pages = 0
                repeat {
                    let page = try await service.history(type: scope, count: 7, cursor: cursor)
                    seen += page.entries.map { "\($0.type)/\($0.id)/\($0.version)" }
                    cursor = page.next
                    pages += 1
                } while cursor != nil && pages < 100
                #expect(Set(seen).count == seen.count, "no version is listed twice")
                #expect(before.isSubset(of: Set(seen)), "every version there before paging is listed")
                if scope == "Condition" { #expect(seen.count == 40 && pages == 6) }
            }
            try await writer.value
            let all = try await service.history(count: 1000)
            #expect(all.entries.count == 60 && all.next == nil)
            #expect(all.entries.first?.type == "Practitioner", "newest first")
            let since = try await service.history(type: "Practitioner", since: "2000-01-01T00:00:00Z")
            #expect(since.entries.count == 20)
            let future = try await service.history(type: "Practitioner", since: "2999-01-01T00:00:00+01:00")
            #expect(future.entries.isEmpty)
            #expect(await RecordCorpus.failure { try await service.history(type: "Patient", cursor: "nonsense") }?.httpStatus == 400)
            #expect(await RecordCorpus.failure { try await service.history(type: "Patient", since: "yesterday") }?.httpStatus == 400)
        }
    }
}
