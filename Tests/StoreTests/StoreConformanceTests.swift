import FHIRCore
import Foundation
import Ingest
import RecordStore
import TestSupport
import Testing

/// The record store's promises, checked the same way on SQLite and on a real PostgreSQL 15 server.
@Suite("Record store conformance (SQLite and PostgreSQL)", .timeLimit(.minutes(5)))
struct StoreConformanceTests {
    func importPaths(_ store: any RecordStore, _ paths: [String], source: String = "careledger-import") async throws -> ImportSummary {
        try await Importer(store: store, source: source).run(try ImportFiles.expand(paths))
    }

    @Test(arguments: StoreKind.allCases)
    func syntheaImportIsCompleteAndIdempotent(kind: StoreKind) async throws {
        try await kind.withStore { store, _ in
            let expected = try SharedData.expectedKeys(bundles: true, bulk: true)
            let first = try await importPaths(store, [SharedData.syntheaBundles, SharedData.syntheaBulk])
            #expect(first.rejected == 0)
            #expect(first.created == expected.count, "every distinct resource stored once")
            #expect(first.unresolvedReferences == 0, "every conditional reference of the bulk export resolves")
            let counts = try await store.countsByType()
            #expect(counts.reduce(0) { $0 + $1.count } == expected.count)
            var byType: [String: Int] = [:]
            for k in expected { byType[String(k.prefix { $0 != "/" }), default: 0] += 1 }
            #expect(Dictionary(uniqueKeysWithValues: counts.map { ($0.type, $0.count) }) == byType)
            #expect(try await store.versionCount() == expected.count)
            #expect(try await store.anchorQueueCount() == expected.count)

            // The same export again: nothing new, nothing queued.
            let second = try await importPaths(store, [SharedData.syntheaBulk, SharedData.syntheaBundles])
            #expect(second.created == 0 && second.updated == 0 && second.rejected == 0)
            #expect(second.unchanged == first.created + first.unchanged)
            #expect(try await store.versionCount() == expected.count)
            #expect(try await store.anchorQueueCount() == expected.count)
            print("store conformance (\(kind)): \(expected.count) Synthea resources imported once; re-import: \(second.unchanged) unchanged, 0 new versions")

            // References: urn:uuid rewritten to Type/id, conditional references resolved to stored ids.
            var unresolved = 0
            var checked = 0
            for key in expected.sorted().prefix(400) {
                let parts = key.split(separator: "/")
                let version = try #require(try await store.current(RecordKey(type: String(parts[0]), id: String(parts[1]))))
                let text = String(decoding: version.canonical, as: UTF8.self)
                if text.contains("\"urn:uuid:") || text.contains("?identifier=") { unresolved += 1 }
                // The served bytes are the canonical form of the resource they spell, with the store's meta.
                let served = try JSONReader().read(version.canonical)
                #expect(try CanonicalForm.bytes(of: served) == version.canonical, "\(key)")
                #expect(served.object["meta"]?.objectValue?["versionId"] == .string("1"), "\(key)")
                #expect(try RecordCommitment(canonicalHash: CanonicalForm.sha256(version.canonical), salt: version.salt).value == version.commitment)
                checked += 1
            }
            #expect(unresolved == 0, "\(unresolved) of \(checked) stored resources still carry urn:uuid or conditional references")
        }
    }

    /// Identifier searches answered many at once (how the importer resolves a unit's conditional references)
    /// give the same ids as one at a time: system given or not, ambiguous, absent, of another type.
    @Test(arguments: StoreKind.allCases)
    func identifierSearchesInOneCall(kind: StoreKind) async throws {
        try await kind.withStore { store, _ in
            let practitioners = [("p1", "urn:a", "1"), ("p2", "urn:b", "1"), ("p3", "urn:a", "2")]
            let unit = try practitioners.map { (id, system, value) in
                try PreparedRecord(resource: JSONReader().read(Array("""
                    {"resourceType":"Practitioner","id":"\(id)","identifier":[{"system":"\(system)","value":"\(value)"}]}
                    """.utf8)))
            }
            _ = try await store.commit(unit, batch: nil)
            let queries = [
                IdentifierQuery(type: "Practitioner", system: "urn:a", value: "1"),
                IdentifierQuery(type: "Practitioner", system: nil, value: "1"),
                IdentifierQuery(type: "Practitioner", system: "urn:b", value: "2"),
                IdentifierQuery(type: "Patient", system: "urn:a", value: "1"),
                IdentifierQuery(type: "Practitioner", system: nil, value: "2"),
            ]
            let batch = try await store.resolveIdentifiers(queries)
            #expect(batch == [["p1"], ["p1", "p2"], [], [], ["p3"]])
            var single: [[String]] = []
            for q in queries { single.append(try await store.resolveIdentifier(type: q.type, system: q.system, value: q.value)) }
            #expect(batch == single)
        }
    }

    /// Units committed at the same time that write the same resources (the importer keeps several in flight): the
    /// history stays a gapless run of versions, every change is one version, and nothing is lost or duplicated.
    @Test(arguments: StoreKind.allCases)
    func concurrentUnitsWritingTheSameResources(kind: StoreKind) async throws {
        try await kind.withStore { store, _ in
            // 12 units, each writing the same 40 patients; units 2k and 2k+1 carry the same content (one of them
            // finds it unchanged, unless the other's commit is not yet visible, in which case it must conflict
            // and re-plan).
            func unit(_ n: Int) throws -> [PreparedRecord] {
                try (0..<40).map { p in
                    try PreparedRecord(resource: JSONReader().read(Array("""
                        {"resourceType":"Patient","id":"shared-\(p)","gender":"other","name":[{"family":"Family-\(n / 2)"}]}
                        """.utf8)))
                }
            }
            let units = try (0..<12).map(unit)
            let outcomes = try await withThrowingTaskGroup(of: [RecordOutcome].self) { group in
                for u in units { group.addTask { try await store.commit(u, batch: nil) } }
                var all: [RecordOutcome] = []
                for try await o in group { all += o }
                return all
            }
            var written = 0
            for o in outcomes {
                if case .unchanged = o { continue }
                written += 1
            }
            #expect(outcomes.count == 12 * 40)
            #expect(try await store.versionCount() == written)
            for p in 0..<40 {
                let versions = try await store.versions(RecordKey(type: "Patient", id: "shared-\(p)"))
                #expect(versions.map(\.version) == Array(1...versions.count), "versions form a gapless run")
                // No two consecutive versions have the same content: an unchanged write made no version.
                for (a, b) in zip(versions, versions.dropFirst()) { #expect(a.contentHash != b.contentHash) }
                // Every version's content is one of the six names, and the current one is what some unit wrote.
                #expect(versions.count >= 1 && versions.count <= 12)
            }
            print("store concurrency (\(kind)): 12 concurrent units × 40 resources → \(written) versions, histories gapless")
        }
    }

    @Test(arguments: StoreKind.allCases)
    func servedRecordsVerifyAgainstTheirCommitments(kind: StoreKind) async throws {
        try await kind.withStore { store, _ in
            let patient = #"{"resourceType":"Patient","id":"pat-1","meta":{"versionId":"77","lastUpdated":"2001-01-01T00:00:00Z","source":"x"},"gender":"female","birthDate":"1970-01-01","name":[{"family":"Ng","given":["Ann"]}],"identifier":[{"system":"urn:mrn","value":"123"}]}"#
            let path = try SharedData.tempFile("patient.json", Array(patient.utf8))
            let s1 = try await importPaths(store, [path])
            #expect(s1.created == 1)
            let v1 = try #require(try await store.current(RecordKey(type: "Patient", id: "pat-1")))
            #expect(v1.version == 1)
            // The served resource carries the store's versionId and lastUpdated, not the input's.
            let served = try JSONReader().read(v1.canonical)
            let meta = try #require(served.object["meta"]?.objectValue)
            #expect(meta["versionId"] == .string("1"))
            #expect(meta["lastUpdated"]?.stringValue == v1.lastUpdated || kind == .postgres)
            #expect(meta["source"] == .string("x"))
            // Whoever receives the served bytes can check them against the commitment.
            #expect(try CanonicalForm.bytes(of: served) == v1.canonical)
            #expect(CanonicalForm.sha256(v1.canonical) == v1.canonicalHash)
            #expect(try RecordCommitment(canonicalHash: v1.canonicalHash, salt: v1.salt).value == v1.commitment)
            #expect(v1.salt.count == 32)

            // Same content with other server fields: a no-op.
            let again = patient.replacingOccurrences(of: "\"77\"", with: "\"5\"")
            let s2 = try await importPaths(store, [try SharedData.tempFile("patient.json", Array(again.utf8))])
            #expect(s2.unchanged == 1 && s2.created == 0 && s2.updated == 0)
            #expect(try await store.anchorQueueCount() == 1)

            // Changed content: version 2, queued, old version kept, index replaced.
            let changed = patient.replacingOccurrences(of: "\"female\"", with: "\"other\"")
            let s3 = try await importPaths(store, [try SharedData.tempFile("patient.json", Array(changed.utf8))])
            #expect(s3.updated == 1)
            let versions = try await store.versions(RecordKey(type: "Patient", id: "pat-1"))
            #expect(versions.map(\.version) == [1, 2])
            #expect(versions[0].commitment != versions[1].commitment)
            #expect(versions[1].txid > versions[0].txid)
            #expect(try await store.anchorQueueCount() == 2)
            #expect(try await store.search(type: "Patient", param: "gender", value: "other") == ["pat-1"])
            #expect(try await store.search(type: "Patient", param: "gender", value: "female").isEmpty)
            #expect(try await store.search(type: "Patient", param: "name", value: "ann") == ["pat-1"])
            #expect(try await store.search(type: "Patient", param: "birthdate", value: "1970-01-01") == ["pat-1"])
            #expect(try await store.resolveIdentifier(type: "Patient", system: "urn:mrn", value: "123") == ["pat-1"])
        }
    }

    @Test(arguments: StoreKind.allCases)
    func resourcesWithoutIDsGetTheSameIDEveryTime(kind: StoreKind) async throws {
        try await kind.withStore { store, _ in
            let lines = """
                {"resourceType":"Patient","identifier":[{"system":"urn:mrn","value":"A1"}],"gender":"male"}
                {"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},"subject":{"reference":"Patient?identifier=urn:mrn|A1"},"valueQuantity":{"value":72.0,"unit":"/min"}}
                """
            let path = try SharedData.tempFile("export.ndjson", Array(lines.utf8))
            let first = try await importPaths(store, [path])
            #expect(first.created == 2 && first.rejected == 0 && first.unresolvedReferences == 0)
            let patients = try await store.resolveIdentifier(type: "Patient", system: "urn:mrn", value: "A1")
            #expect(patients.count == 1)
            let observations = try await store.search(type: "Observation", param: "code", value: "8867-4")
            #expect(observations.count == 1)
            let obs = try #require(try await store.current(RecordKey(type: "Observation", id: observations[0])))
            #expect(String(decoding: obs.canonical, as: UTF8.self).contains("\"reference\":\"Patient/\(patients[0])\""))
            #expect(try await store.search(type: "Observation", param: "patient", value: "Patient/\(patients[0])") == observations)
            // Decimal precision survives storage.
            #expect(String(decoding: obs.canonical, as: UTF8.self).contains("\"value\":72.0"))
            let second = try await importPaths(store, [path])
            #expect(second.unchanged == 2 && second.created == 0)
            #expect(try await store.countsByType().map(\.count) == [1, 1])
            // Another source system gives other ids.
            let third = try await importPaths(store, [path], source: "other-hospital")
            #expect(third.created == 2)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func aTransactionIsAllOrNothingAndRejectionsAreDeadLetters(kind: StoreKind) async throws {
        try await kind.withStore { store, _ in
            let bundle = """
                {"resourceType":"Bundle","type":"transaction","entry":[
                  {"fullUrl":"urn:uuid:11111111-1111-1111-1111-111111111111","resource":{"resourceType":"Patient","gender":"female"},"request":{"method":"POST","url":"Patient"}},
                  {"fullUrl":"urn:uuid:22222222-2222-2222-2222-222222222222","resource":{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"urn:uuid:11111111-1111-1111-1111-111111111111"},"effectiveDateTime":"2020-02-30"},"request":{"method":"POST","url":"Observation"}}
                ]}
                """
            let path = try SharedData.tempFile("tx.json", Array(bundle.utf8))
            let s = try await importPaths(store, [path])
            #expect(s.rejected == 1 && s.created == 0)
            #expect(try await store.versionCount() == 0, "nothing of a rejected transaction is stored")
            let letters = try await store.deadLetters(includeResolved: false)
            try #require(letters.count == 1)
            #expect(letters[0].source == path)
            #expect(letters[0].location.contains("/entry/1/resource/effectiveDateTime"))
            #expect(letters[0].outcome.contains("OperationOutcome") && letters[0].outcome.contains("2020-02-30"))
            #expect(letters[0].raw == Array(bundle.utf8))
            // The same rejection again keeps one open dead letter.
            _ = try await importPaths(store, [path])
            #expect(try await store.deadLetters(includeResolved: false).count == 1)

            // A batch Bundle stores its good entries and dead-letters the bad one by itself.
            let batch = bundle.replacingOccurrences(of: "\"transaction\"", with: "\"batch\"")
            let s2 = try await importPaths(store, [try SharedData.tempFile("batch.json", Array(batch.utf8))])
            #expect(s2.created == 1 && s2.rejected == 1)
            // The entry's dead letter keeps the validator's issue (its code and where in the Bundle).
            let entryLetter = try #require(try await store.deadLetters(includeResolved: false).first { $0.source.hasSuffix("batch.json") })
            #expect(entryLetter.location == "/entry/1/resource/effectiveDateTime")
            let outcome = try JSONReader().readValue(Array(entryLetter.outcome.utf8))
            #expect(outcome.objectValue?["issue"]?.arrayValue?.first?.objectValue?["code"] == .string("value"))

            // A retry of a unit that is still bad keeps it open; one that is good now stores it.
            let importer = Importer(store: store)
            let (stored, _) = try await importer.retry(letters[0])
            #expect(!stored)
            let fixed = DeadLetter(batch: nil, source: "fixed.json", location: "", format: "json",
                                   raw: Array(bundle.replacingOccurrences(of: "2020-02-30", with: "2020-02-28").utf8),
                                   outcome: "{}", createdAt: Instant.format(Date()))
            let id = try await store.addDeadLetter(fixed)
            let letter = try #require(try await store.deadLetter(id: id))
            let (storedNow, summary) = try await importer.retry(letter)
            // The patient was stored by the batch above (same content, same id); the fixed observation is new.
            #expect(storedNow && summary.created == 1 && summary.unchanged == 1)
            #expect(try await store.deadLetter(id: id)?.resolvedAt != nil)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func gzippedNDJSONAndXMLImportLikeTheirPlainJSON(kind: StoreKind) async throws {
        try await kind.withStore { store, _ in
            let plain = SharedData.syntheaBulk + "/Patient.000.ndjson"
            let dir = try Repository.temporaryDirectory("careledger-gz")
            defer { try? FileManager.default.removeItem(at: dir) }
            let gz = try Repository.gzip(plain, to: dir.appendingPathComponent("Patient.000.ndjson.gz").path)
            let s1 = try await importPaths(store, [gz])
            #expect(s1.rejected == 0 && s1.created > 0)
            let s2 = try await importPaths(store, [plain])
            #expect(s2.unchanged == s1.created && s2.created == 0)

            // The same patient as XML is the same content: unchanged.
            let first = try #require(String(decoding: try Data(contentsOf: URL(fileURLWithPath: plain)), as: UTF8.self).split(separator: "\n").first)
            let xml = try XMLWriter().write(try JSONReader().read(Array(first.utf8)))
            let s3 = try await importPaths(store, [try SharedData.tempFile("patient.xml", xml)])
            #expect(s3.unchanged == 1 && s3.rejected == 0)
        }
    }

    /// A Synthea export as it comes: hospital and practitioner Bundles with conditional creates, imported before
    /// the patient Bundles that refer to them by identifier, whatever the file names' order.
    @Test(arguments: StoreKind.allCases)
    func syntheaSharedBundlesComeFirstAndConditionalCreatesDoNotDuplicate(kind: StoreKind) async throws {
        try await kind.withStore { store, _ in
            let dir = try Repository.temporaryDirectory("careledger-synthea-export")
            defer { try? FileManager.default.removeItem(at: dir) }
            func hospital(_ id: String) -> String {
                """
                {"resourceType":"Bundle","type":"transaction","entry":[{"fullUrl":"urn:uuid:\(id)",
                  "resource":{"resourceType":"Organization","id":"\(id)","identifier":[{"system":"https://github.com/synthetichealth/synthea","value":"org-77"}],"name":"General"},
                  "request":{"method":"POST","url":"Organization","ifNoneExist":"identifier=https://github.com/synthetichealth/synthea|org-77"}}]}
                """
            }
            let patient = """
                {"resourceType":"Bundle","type":"transaction","entry":[{"fullUrl":"urn:uuid:5a1e0000-0000-4000-8000-000000000001",
                  "resource":{"resourceType":"Patient","id":"5a1e0000-0000-4000-8000-000000000001","managingOrganization":{"reference":"Organization?identifier=https://github.com/synthetichealth/synthea|org-77"}},
                  "request":{"method":"POST","url":"Patient"}}]}
                """
            // "Aaron…" sorts before "hospitalInformation…": the order must come from what the files are.
            try Data(patient.utf8).write(to: dir.appendingPathComponent("Aaron_Abbott_1.json"))
            try Data(hospital("0rg00000-0000-4000-8000-000000000001").utf8).write(to: dir.appendingPathComponent("hospitalInformation1.json"))
            let first = try await importPaths(store, [dir.path])
            #expect(first.rejected == 0 && first.created == 2 && first.unresolvedReferences == 0)
            let stored = try #require(try await store.current(RecordKey(type: "Patient", id: "5a1e0000-0000-4000-8000-000000000001")))
            #expect(String(decoding: stored.canonical, as: UTF8.self).contains("\"reference\":\"Organization/0rg00000-0000-4000-8000-000000000001\""))

            // Another export names the same organization with another id: the conditional create finds it.
            let other = try SharedData.tempFile("hospitalInformation2.json", Array(hospital("0rg00000-0000-4000-8000-000000000002").utf8))
            let second = try await importPaths(store, [other])
            #expect(second.created == 0 && second.unchanged == 1)
            #expect(try await store.resolveIdentifier(type: "Organization", system: "https://github.com/synthetichealth/synthea", value: "org-77").count == 1)
        }
    }

    /// Relative references to a Bundle entry follow it when the store gives it another id.
    @Test(arguments: StoreKind.allCases)
    func relativeReferencesFollowTheirEntry(kind: StoreKind) async throws {
        try await kind.withStore { store, _ in
            let bundle = """
                {"resourceType":"Bundle","type":"collection","entry":[
                  {"fullUrl":"http://example.org/fhir/Patient/local-7","resource":{"resourceType":"Patient","identifier":[{"system":"urn:mrn","value":"R7"}]}},
                  {"fullUrl":"http://example.org/fhir/Observation/o1","resource":{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/local-7"}}}
                ]}
                """
            let s = try await importPaths(store, [try SharedData.tempFile("collection.json", Array(bundle.utf8))])
            #expect(s.created == 2 && s.rejected == 0)
            let patient = try #require(try await store.resolveIdentifier(type: "Patient", system: "urn:mrn", value: "R7").first)
            #expect(patient != "local-7")
            #expect(try await store.search(type: "Observation", param: "subject", value: "Patient/\(patient)") == ["o1"])
        }
    }

    /// A bulk file that breaks off (a truncated .ndjson.gz) keeps every line read before the break and is
    /// reported as a dead letter that says where it broke.
    @Test(arguments: StoreKind.allCases)
    func aTruncatedGzipKeepsWhatWasReadAndSaysWhere(kind: StoreKind) async throws {
        try await kind.withStore { store, _ in
            let dir = try Repository.temporaryDirectory("careledger-truncated")
            defer { try? FileManager.default.removeItem(at: dir) }
            let plain = SharedData.syntheaBulk + "/Procedure.000.ndjson"
            let gz = try [UInt8](Data(contentsOf: URL(fileURLWithPath: try Repository.gzip(plain, to: dir.appendingPathComponent("full.gz").path))))
            let cut = dir.appendingPathComponent("Procedure.000.ndjson.gz")
            try Data(gz.prefix(gz.count * 2 / 3)).write(to: cut)
            let s = try await importPaths(store, [cut.path])
            #expect(s.rejected == 1)
            #expect(s.created > 100, "the lines before the break are stored")
            let letters = try await store.deadLetters(includeResolved: false)
            #expect(letters.count == 1 && letters[0].outcome.contains("truncated") && letters[0].outcome.contains("after line"))
        }
    }
}
