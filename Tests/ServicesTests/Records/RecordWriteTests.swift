import FHIRCore
import Foundation
import RecordStore
import Services
import TestSupport
import Testing

/// Create, read, vread, update, conditional create, If-Match, delete and JSON Patch through ``RecordService``, on
/// SQLite and on a real PostgreSQL 15 server, with Synthea resources from the corpus.
@Suite("Record use cases: reads and writes (SQLite and PostgreSQL)", .timeLimit(.minutes(5)))
struct RecordWriteTests {
    @Test(arguments: StoreKind.allCases)
    func createReadVreadUpdate(kind: StoreKind) async throws {
        try await kind.withStore { store, _ in
            let service = RecordService(store: store)
            var patient = try RecordCorpus.resource("Patient")
            let bodyID = try #require(patient.id)
            let created = try await service.create(type: "Patient", resource: patient)
            #expect(created.status == .created && created.httpStatus == 201)
            let first = try #require(created.resource)
            #expect(first.version == 1 && first.id != bodyID, "the server assigns the id, as the importer does")
            #expect(created.location == "Patient/\(first.id)/_history/1")
            // The same resource again: the importer's identity makes it the same record, unchanged.
            let again = try await service.create(type: "Patient", resource: patient)
            #expect(again.status == .unchanged && again.resource?.id == first.id && again.resource?.version == 1)

            let read = try await service.read(type: "Patient", id: first.id)
            #expect(read == first && !read.deleted && read.etag == "W/\"1\"")
            let served = try JSONReader().read(read.canonical)
            #expect(served.object["meta"]?.objectValue?["versionId"] == .string("1"))
            #expect(served.object["name"] == patient.object["name"])

            patient.id = first.id
            patient.object["gender"] = .string(patient.object["gender"]?.stringValue == "male" ? "female" : "male")
            let updated = try await service.update(type: "Patient", id: first.id, resource: patient)
            #expect(updated.status == .updated && updated.resource?.version == 2)
            #expect(try await service.vread(type: "Patient", id: first.id, version: "1") == first)
            #expect(try await service.vread(type: "Patient", id: first.id, version: "2") == updated.resource)
            #expect(await RecordCorpus.failure { try await service.vread(type: "Patient", id: first.id, version: "3") }?.code == .notFound)
            #expect(await RecordCorpus.failure { try await service.read(type: "Patient", id: "nobody") }?.code == .notFound)

            // Update as create, and the id checks.
            patient.id = "made-by-put"
            let put = try await service.update(type: "Patient", id: "made-by-put", resource: patient)
            #expect(put.status == .created && put.resource?.version == 1)
            #expect(await RecordCorpus.failure { try await service.update(type: "Patient", id: "other", resource: patient) }?.httpStatus == 400)
            #expect(await RecordCorpus.failure { try await service.update(type: "Observation", id: "made-by-put", resource: patient) }?.httpStatus == 400)
            // Validation refusals are 422 with the validator's pointers.
            var invalid = patient
            invalid.object["birthDate"] = .string("not-a-date")
            let refused = await RecordCorpus.failure { try await service.update(type: "Patient", id: "made-by-put", resource: invalid) }
            #expect(refused?.httpStatus == 422)
            #expect(refused?.issues.contains { $0.location.contains { $0.hasPrefix("/birthDate") } } == true, "\(String(describing: refused?.issues))")
            // Every version is queued for anchoring.
            #expect(try await store.anchorQueueCount() == 3)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func conditionalCreateWithNoneOneAndTwoMatches(kind: StoreKind) async throws {
        try await kind.withStore { store, _ in
            let service = RecordService(store: store)
            let practitioner = try RecordCorpus.resource("Practitioner")
            let identifier = try #require(practitioner.object["identifier"]?.arrayValue?.first?.objectValue)
            let criteria = "identifier=\(identifier["system"]?.stringValue ?? "")|\(identifier["value"]?.stringValue ?? "")"

            let none = try await service.create(type: "Practitioner", resource: practitioner, ifNoneExist: criteria)
            #expect(none.status == .created)
            let one = try await service.create(type: "Practitioner", resource: practitioner, ifNoneExist: criteria)
            #expect(one.status == .found && one.httpStatus == 200 && one.resource == none.resource)
            #expect(try await store.versionCount() == 1)

            // A second practitioner with the same identifier (stored under its own id): two matches.
            var twin = practitioner
            twin.id = "twin"
            _ = try await service.update(type: "Practitioner", id: "twin", resource: twin)
            let two = await RecordCorpus.failure { try await service.create(type: "Practitioner", resource: practitioner, ifNoneExist: criteria) }
            #expect(two?.code == .preconditionFailed && two?.httpStatus == 412)
            // Criteria with a parameter the server does not know are refused rather than ignored.
            let unknown = await RecordCorpus.failure { try await service.create(type: "Practitioner", resource: practitioner, ifNoneExist: "nickname=Smith") }
            #expect(unknown?.httpStatus == 400)
            // Conditional update: one match updates that resource.
            var changed = practitioner
            changed.id = nil
            changed.object["active"] = .bool(false)
            let byID = try await service.conditionalUpdate(type: "Practitioner", criteria: "_id=twin", resource: changed)
            #expect(byID.status == .updated && byID.resource?.id == "twin" && byID.resource?.version == 2)
            #expect(await RecordCorpus.failure { try await service.conditionalUpdate(type: "Practitioner", criteria: criteria, resource: changed) }?.httpStatus == 412)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func ifMatchConflictsUnderConcurrentUpdates(kind: StoreKind) async throws {
        try await kind.withStore { store, _ in
            let service = RecordService(store: store)
            let patient = try RecordCorpus.resource("Patient", 1)
            let id = try #require(patient.id)
            _ = try await service.update(type: "Patient", id: id, resource: patient)
            func variant(_ n: Int) -> Resource {
                var r = patient
                r.object["birthDate"] = .string("19\(50 + n)-01-0\(1 + n % 9)")
                return r
            }
            let v2 = try await service.update(type: "Patient", id: id, resource: variant(1), ifMatch: 1)
            #expect(v2.resource?.version == 2)
            let stale = await RecordCorpus.failure { try await service.update(type: "Patient", id: id, resource: variant(2), ifMatch: 1) }
            #expect(stale?.code == .preconditionFailed)
            #expect(try await service.read(type: "Patient", id: id).version == 2, "a refused write stores nothing")

            // Two writers with the same If-Match: exactly one wins.
            let results = await withTaskGroup(of: Int?.self) { group in
                for n in 3...4 {
                    group.addTask {
                        do { return try await service.update(type: "Patient", id: id, resource: variant(n), ifMatch: 2).resource?.version } catch { return (error as? ServiceError)?.code == .preconditionFailed ? nil : -1 }
                    }
                }
                return await group.reduce(into: [Int?]()) { $0.append($1) }
            }
            #expect(results.compactMap { $0 } == [3], "one writer stores version 3, the other gets 412: \(results)")
            // Two writers without If-Match: both are stored, as successive versions.
            let free = await withTaskGroup(of: Int?.self) { group in
                for n in 5...6 {
                    group.addTask { try? await service.update(type: "Patient", id: id, resource: variant(n)).resource?.version }
                }
                return await group.reduce(into: [Int?]()) { $0.append($1) }
            }
            #expect(Set(free.compactMap { $0 }) == [4, 5])
            #expect(try await store.versions(RecordKey(type: "Patient", id: id)).map(\.version) == [1, 2, 3, 4, 5])
            #expect(try RecordService.version(ifMatch: #"W/"4""#) == 4)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func deleteThenGoneThenRecreate(kind: StoreKind) async throws {
        try await kind.withStore { store, _ in
            let service = RecordService(store: store)
            let practitioner = try RecordCorpus.resource("Practitioner", 2)
            let id = try #require(practitioner.id)
            _ = try await service.update(type: "Practitioner", id: id, resource: practitioner)
            let identifier = try #require(practitioner.object["identifier"]?.arrayValue?.first?.objectValue?["value"]?.stringValue)
            #expect(try await store.resolveIdentifier(type: "Practitioner", system: nil, value: identifier) == [id])

            let deleted = try await service.delete(type: "Practitioner", id: id)
            #expect(deleted.status == .deleted && deleted.resource?.version == 2 && deleted.resource?.deleted == true)
            let gone = await RecordCorpus.failure { try await service.read(type: "Practitioner", id: id) }
            #expect(gone?.code == .gone && gone?.httpStatus == 410 && gone?.reason.contains("version 2") == true)
            #expect(await RecordCorpus.failure { try await service.vread(type: "Practitioner", id: id, version: "2") }?.code == .gone)
            #expect(try await service.vread(type: "Practitioner", id: id, version: "1").deleted == false, "history keeps the version before")
            #expect(try await store.resolveIdentifier(type: "Practitioner", system: nil, value: identifier).isEmpty, "a deleted resource matches no search")
            // The tombstone is a version like any: canonical, committed, queued for anchoring.
            let tombstone = try #require(try await store.version(RecordKey(type: "Practitioner", id: id), 2))
            #expect(tombstone.isDeleted)
            #expect(try RecordCommitment(canonicalHash: CanonicalForm.sha256(tombstone.canonical), salt: tombstone.salt).value == tombstone.commitment)
            #expect(try await store.anchorQueue(limit: 10).map(\.version) == [1, 2])

            let twice = try await service.delete(type: "Practitioner", id: id)
            #expect(twice.status == .deleted && twice.resource?.version == 2, "deleting twice writes nothing")
            let never = try await service.delete(type: "Practitioner", id: "never-stored")
            #expect(never.status == .deleted && never.resource == nil)

            let history = try await service.history(type: "Practitioner", id: id)
            #expect(history.entries.map(\.version) == [2, 1] && history.entries.map(\.deleted) == [true, false])

            let back = try await service.update(type: "Practitioner", id: id, resource: practitioner)
            #expect(back.status == .created && back.resource?.version == 3)
            #expect(try await service.read(type: "Practitioner", id: id).version == 3)
            #expect(try await store.resolveIdentifier(type: "Practitioner", system: nil, value: identifier) == [id])
        }
    }

    @Test(arguments: StoreKind.allCases)
    func jsonPatch(kind: StoreKind) async throws {
        try await kind.withStore { store, _ in
            let service = RecordService(store: store)
            let patient = try RecordCorpus.resource("Patient", 2)
            let id = try #require(patient.id)
            _ = try await service.update(type: "Patient", id: id, resource: patient)
            let birthDate = try #require(patient.object["birthDate"]?.stringValue)
            let ok = #"[{"op":"test","path":"/birthDate","value":"\#(birthDate)"},{"op":"replace","path":"/birthDate","value":"1901-02-03"},{"op":"add","path":"/active","value":true}]"#
            let patched = try await service.patch(type: "Patient", id: id, jsonPatch: Array(ok.utf8))
            #expect(patched.status == .updated && patched.resource?.version == 2)
            let served = try JSONReader().read(try #require(patched.resource).canonical)
            #expect(served.object["birthDate"] == .string("1901-02-03") && served.object["active"] == .bool(true))
            #expect(served.object["meta"]?.objectValue?["versionId"] == .string("2"))

            let failedTest = #"[{"op":"test","path":"/birthDate","value":"\#(birthDate)"},{"op":"remove","path":"/active"}]"#
            let refused = await RecordCorpus.failure { try await service.patch(type: "Patient", id: id, jsonPatch: Array(failedTest.utf8)) }
            #expect(refused?.httpStatus == 422 && refused?.reason.contains("test failed") == true)
            let invalidResult = #"[{"op":"replace","path":"/birthDate","value":"robot"}]"#
            #expect(await RecordCorpus.failure { try await service.patch(type: "Patient", id: id, jsonPatch: Array(invalidResult.utf8)) }?.httpStatus == 422)
            #expect(await RecordCorpus.failure { try await service.patch(type: "Patient", id: id, jsonPatch: Array(#"{"op":"add"}"#.utf8)) }?.httpStatus == 400)
            #expect(await RecordCorpus.failure { try await service.patch(type: "Patient", id: id, jsonPatch: Array("[]".utf8), ifMatch: 1) }?.httpStatus == 412)
            #expect(try await service.read(type: "Patient", id: id).version == 2, "refused patches store nothing")
        }
    }
}

extension RecordWriteTests {
    /// Criteria other than identifier and _id go to the search engine, strictly: an unknown parameter is refused.
    @Test(arguments: StoreKind.allCases)
    func conditionalCriteriaThroughTheSearchEngine(kind: StoreKind) async throws {
        try await kind.withStore { store, _ in
            let service = RecordService(store: store)
            let patient = try RecordCorpus.resource("Patient", 3)
            let id = try #require(patient.id)
            _ = try await service.update(type: "Patient", id: id, resource: patient)
            let birthDate = try #require(patient.object["birthDate"]?.stringValue)
            let gender = try #require(patient.object["gender"]?.stringValue)
            let found = try await service.create(type: "Patient", resource: patient, ifNoneExist: "birthdate=\(birthDate)&gender=\(gender)")
            #expect(found.status == .found && found.resource?.id == id)
            let none = try await service.create(type: "Patient", resource: patient, ifNoneExist: "birthdate=1800-01-01")
            #expect(none.status == .created && none.resource?.id != id)
            #expect(await RecordCorpus.failure { try await service.create(type: "Patient", resource: patient, ifNoneExist: "no-such-parameter=1") }?.httpStatus == 400)
        }
    }
}
