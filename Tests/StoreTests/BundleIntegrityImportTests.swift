import FHIRCore
import Foundation
import Ingest
import RecordStore
import TestSupport
import Testing

/// Bundles whose references cannot be rewritten faithfully (issue 16, items 2 and 3): a `fullUrl` shared by two
/// entries (FHIR bdl-7) and a `urn:uuid:`/`urn:oid:` reference no entry resolves. Imported as a user imports them
/// (`ImportFiles.expand` + `Importer.run`), on SQLite and on a real PostgreSQL 15. The inputs are the fuzz seeds in
/// `Fuzz/seeds/fhir-json/`.
@Suite("Bundle integrity on import (SQLite and PostgreSQL)", .timeLimit(.minutes(5)))
struct BundleIntegrityImportTests {
    static func seed(_ name: String) -> String {
        Repository.root.appendingPathComponent("Fuzz/seeds/fhir-json/\(name)").path
    }

    func importPaths(_ store: any RecordStore, _ paths: [String]) async throws -> ImportSummary {
        try await Importer(store: store).run(try ImportFiles.expand(paths))
    }

    /// The issues of a dead letter's OperationOutcome: (code, diagnostics, locations). Every issue's first location
    /// is the file plus the dead letter's location (checked here); the rest are the issue's own pointers.
    func issues(_ letter: DeadLetter) throws -> [(code: String, diagnostics: String, location: [String])] {
        let json = try #require(try JSONSerialization.jsonObject(with: Data(letter.outcome.utf8)) as? [String: Any])
        let issues = try #require(json["issue"] as? [[String: Any]])
        return issues.map { issue in
            let location = issue["location"] as? [String] ?? []
            #expect(location.first == "\(letter.source) \(letter.location)")
            return (issue["code"] as? String ?? "", issue["diagnostics"] as? String ?? "", Array(location.dropFirst()))
        }
    }

    func stored(_ store: any RecordStore, _ type: String, _ id: String) async throws -> String? {
        try await store.current(RecordKey(type: type, id: id)).map { String(decoding: $0.canonical, as: UTF8.self) }
    }

    // MARK: - Item 2: a fullUrl names one entry (bdl-7)

    /// Before: the Observation's performer (the Practitioner's fullUrl) was rewritten to the Encounter that shares it.
    @Test(arguments: StoreKind.allCases)
    func transactionWithADuplicateFullUrlIsRefusedWhole(kind: StoreKind) async throws {
        try await kind.withStore { store, _ in
            let summary = try await importPaths(store, [Self.seed("transaction-duplicate-fullurl.json")])
            #expect(summary.rejected == 1)
            #expect(summary.created == 0 && summary.updated == 0)
            #expect(try await store.versionCount() == 0, "nothing of the Bundle is stored")
            #expect(try await stored(store, "Observation", "dup-observation") == nil)

            let letters = try await store.deadLetters(includeResolved: false)
            let letter = try #require(letters.first)
            #expect(letters.count == 1)
            #expect(letter.location.contains("/entry/0/fullUrl") && letter.location.contains("/entry/1/fullUrl"), "\(letter.location)")
            let found = try issues(letter)
            #expect(found.count == 1)
            #expect(found.first?.code == "invariant")
            #expect(found.first?.location == ["/entry/0/fullUrl", "/entry/1/fullUrl"])
            #expect(found.first?.diagnostics.contains("bdl-7") == true)
            #expect(found.first?.diagnostics.contains("urn:uuid:7f3c9a52-2d1e-4b8a-9c61-0d5e8f4a1b20") == true)
        }
    }

    /// bdl-7 holds for every Bundle type but history: a batch with one fullUrl and one versionId twice is refused.
    @Test(arguments: StoreKind.allCases)
    func batchWithADuplicateFullUrlAndVersionIdIsRefused(kind: StoreKind) async throws {
        try await kind.withStore { store, _ in
            let summary = try await importPaths(store, [Self.seed("batch-duplicate-fullurl-same-versionid.json")])
            #expect(summary.rejected == 1)
            #expect(try await store.versionCount() == 0)
            let letter = try #require(try await store.deadLetters(includeResolved: false).first)
            let found = try issues(letter)
            #expect(found.first?.location == ["/entry/0/fullUrl", "/entry/1/fullUrl"])
            #expect(found.first?.diagnostics.contains("same meta.versionId") == true)
        }
    }

    /// What bdl-7 allows still imports: versions of one resource (distinct versionIds) sharing a fullUrl.
    @Test(arguments: StoreKind.allCases)
    func versionsOfOneResourceMayShareAFullUrl(kind: StoreKind) async throws {
        try await kind.withStore { store, _ in
            let dir = try Repository.temporaryDirectory("careledger-bdl7")
            defer { try? FileManager.default.removeItem(at: dir) }
            let file = dir.appendingPathComponent("versions.json")
            try Data("""
                {"resourceType":"Bundle","type":"transaction","entry":[
                 {"fullUrl":"http://example.org/fhir/Patient/v","resource":{"resourceType":"Patient","id":"v","meta":{"versionId":"1"},"gender":"female"},
                  "request":{"method":"PUT","url":"Patient/v"}},
                 {"fullUrl":"http://example.org/fhir/Patient/v","resource":{"resourceType":"Patient","id":"v","meta":{"versionId":"2"},"gender":"male"},
                  "request":{"method":"PUT","url":"Patient/v"}}]}
                """.utf8).write(to: file)
            let summary = try await importPaths(store, [file.path])
            #expect(summary.rejected == 0)
            #expect(try await store.versions(RecordKey(type: "Patient", id: "v")).count == 2)
        }
    }

    // MARK: - Item 3: a urn:uuid: reference names an entry

    /// Before: the transaction was stored with `performer` still `urn:uuid:99999999-…`, pointing nowhere.
    @Test(arguments: StoreKind.allCases)
    func transactionWithAnUnresolvedURNIsRefusedWithItsPointer(kind: StoreKind) async throws {
        try await kind.withStore { store, _ in
            let summary = try await importPaths(store, [Self.seed("transaction-unresolved-urn-uuid.json")])
            #expect(summary.rejected == 1)
            #expect(summary.created == 0)
            #expect(try await store.versionCount() == 0, "a transaction is all or nothing")
            let letter = try #require(try await store.deadLetters(includeResolved: false).first)
            #expect(letter.location == "/entry/1/resource/performer/0/reference")
            let found = try issues(letter)
            #expect(found.count == 1, "the resolved subject is not reported")
            #expect(found.first?.code == "not-found")
            #expect(found.first?.location == ["/entry/1/resource/performer/0/reference"])
            #expect(found.first?.diagnostics.contains("urn:uuid:99999999-dead-4bad-8bad-000000000000") == true)
        }
    }

    /// In a batch only the entry with the dangling reference is refused — and the Provenance that points at it,
    /// whose reference would otherwise dangle in turn; the rest is stored with its references rewritten.
    @Test(arguments: StoreKind.allCases)
    func batchRefusesOnlyTheEntriesThatWouldPointNowhere(kind: StoreKind) async throws {
        try await kind.withStore { store, _ in
            let summary = try await importPaths(store, [Self.seed("batch-unresolved-urn-uuid.json")])
            #expect(summary.created == 2)
            #expect(summary.rejected == 2)
            let fine = try #require(try await stored(store, "Observation", "batch-fine"))
            #expect(fine.contains("\"Patient/batch-patient\"") && !fine.contains("urn:uuid"))
            #expect(try await stored(store, "Patient", "batch-patient") != nil)
            #expect(try await stored(store, "Observation", "batch-dangling") == nil)
            #expect(try await stored(store, "Provenance", "batch-leaning") == nil)

            let letters = try await store.deadLetters(includeResolved: false).sorted { $0.location < $1.location }
            #expect(letters.map(\.location) == ["/entry/1/resource/encounter/reference", "/entry/3/resource/target/0/reference"])
            let dangling = try issues(letters[0])
            #expect(dangling.map(\.location) == [["/entry/1/resource/encounter/reference"]])
            #expect(dangling.first?.diagnostics.contains("names no entry") == true)
            let leaning = try issues(letters[1])
            #expect(leaning.map(\.location) == [["/entry/3/resource/target/0/reference"]])
            #expect(leaning.first?.diagnostics.contains("names entry 1, which is refused") == true)
        }
    }

    /// A collection Bundle, and `urn:oid:` as well as `urn:uuid:`.
    @Test(arguments: StoreKind.allCases)
    func collectionRefusesTheEntryWithAnUnresolvedOID(kind: StoreKind) async throws {
        try await kind.withStore { store, _ in
            let summary = try await importPaths(store, [Self.seed("collection-unresolved-urn-oid.json")])
            #expect(summary.created == 2)
            #expect(summary.rejected == 1)
            #expect(try await stored(store, "Patient", "oid-patient") == nil)
            let ok = try #require(try await stored(store, "Patient", "oid-patient-ok"))
            #expect(ok.contains("\"Organization/oid-org\""))
            let letter = try #require(try await store.deadLetters(includeResolved: false).first)
            #expect(letter.location == "/entry/1/resource/generalPractitioner/0/reference")
        }
    }

    /// A batch entry refused by validation takes the entries that refer to it by URN with it, and says so.
    @Test func aReferenceToAnEntryRefusedByValidationIsRefusedToo() async throws {
        try await StoreKind.sqlite.withStore { store, _ in
            let dir = try Repository.temporaryDirectory("careledger-urn")
            defer { try? FileManager.default.removeItem(at: dir) }
            let file = dir.appendingPathComponent("batch.json")
            try Data("""
                {"resourceType":"Bundle","type":"batch","entry":[
                 {"fullUrl":"urn:uuid:aaaaaaaa-0000-4000-8000-000000000001","resource":{"resourceType":"Patient","id":"bad","birthDate":"1970-02-30"},
                  "request":{"method":"PUT","url":"Patient/bad"}},
                 {"fullUrl":"urn:uuid:aaaaaaaa-0000-4000-8000-000000000002","resource":{"resourceType":"Observation","id":"o","status":"final",
                  "code":{"text":"x"},"subject":{"reference":"urn:uuid:aaaaaaaa-0000-4000-8000-000000000001"}},
                  "request":{"method":"PUT","url":"Observation/o"}}]}
                """.utf8).write(to: file)
            let summary = try await importPaths(store, [file.path])
            #expect(summary.rejected == 2)
            #expect(try await store.versionCount() == 0)
            let letter = try #require(try await store.deadLetters(includeResolved: false).first { $0.location.hasPrefix("/entry/1/") })
            #expect(try issues(letter).first?.diagnostics.contains("names entry 0, which is refused") == true)
        }
    }
}
