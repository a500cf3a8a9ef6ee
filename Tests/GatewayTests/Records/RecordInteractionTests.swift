import Foundation
import Gateway
import RecordStore
import TestSupport
import Testing

/// The FHIR record interactions over real loopback HTTP, on SQLite and on a real PostgreSQL 15 server: create,
/// read, vread, update (also as create, with If-Match), delete (410 after), history, JSON Patch and the
/// conditional writes, with their status codes and headers.
@Suite("Gateway record interactions", .timeLimit(.minutes(5)))
struct RecordInteractionTests {
    static var patient: [String: Any] { [
        "resourceType": "Patient",
        "identifier": [["system": "urn:oid:1.2.36.146.595.217.0.1", "value": "gw-12345"]],
        "name": [["family": "Chalmers", "given": ["Peter", "James"]]],
        "gender": "male",
        "birthDate": "1974-12-25",
    ] }

    @Test("create, read, vread and the conditional read headers", arguments: StoreKind.allCases)
    func createAndRead(kind: StoreKind) async throws {
        try await RecordGateway.run(kind) { client, _ in
            let created = try await client.write("POST", "/Patient", json: Self.patient)
            #expect(created.status == 201)
            #expect(created.header("ETag") == "W/\"1\"")
            let location = try #require(created.header("Location"))
            #expect(location.hasPrefix("http://localhost/Patient/") && location.hasSuffix("/_history/1"))
            let (path, version) = try #require(RecordGateway.resourcePath(ofLocation: location))
            #expect(version == "1")
            #expect((created.json["meta"] as? [String: Any])?["versionId"] as? String == "1")
            let modified = try #require(created.header("Last-Modified"))
            #expect(modified.hasSuffix(" GMT") && modified.count == 29)

            let read = try await client.get(path)
            #expect(read.status == 200)
            #expect(read.header("Content-Type") == "application/fhir+json; charset=utf-8")
            #expect(read.header("ETag") == "W/\"1\"")
            #expect(read.header("Last-Modified") == modified)
            #expect((read.json["name"] as? [[String: Any]])?.first?["family"] as? String == "Chalmers")
            #expect(read.body == created.body)

            let vread = try await client.get(path + "/_history/1")
            #expect(vread.status == 200 && vread.body == read.body)
            #expect(try await client.get(path + "/_history/2").status == 404)

            let notModified = try await client.get(path, headers: ["If-None-Match": "W/\"1\""])
            #expect(notModified.status == 304 && notModified.body.isEmpty)
            #expect(try await client.get(path, headers: ["If-None-Match": "W/\"7\""]).status == 200)
            #expect(try await client.get(path, headers: ["If-Modified-Since": modified]).status == 304)
            #expect(try await client.get(path, headers: ["If-Modified-Since": "Sun, 06 Nov 1994 08:49:37 GMT"]).status == 200)
        }
    }

    @Test("update with If-Match, 412 on a stale version, update as create", arguments: StoreKind.allCases)
    func update(kind: StoreKind) async throws {
        try await RecordGateway.run(kind) { client, _ in
            let created = try await client.write("POST", "/Patient", json: Self.patient)
            let (path, _) = try #require(RecordGateway.resourcePath(ofLocation: created.header("Location") ?? ""))
            var changed = Self.patient
            changed["id"] = String(path.split(separator: "/")[1])
            changed["gender"] = "other"
            let updated = try await client.write("PUT", path, json: changed, headers: ["If-Match": "W/\"1\""])
            #expect(updated.status == 200)
            #expect(updated.header("ETag") == "W/\"2\"")
            #expect(updated.header("Location")?.hasSuffix(path + "/_history/2") == true)
            #expect(updated.json["gender"] as? String == "other")

            changed["gender"] = "female"
            let stale = try await client.write("PUT", path, json: changed, headers: ["If-Match": "W/\"1\""])
            #expect(stale.status == 412)
            #expect(stale.issue?.code == "conflict")
            #expect(try await client.get(path).json["gender"] as? String == "other")

            var fresh = Self.patient
            fresh["id"] = "gw-put-new"
            let asCreate = try await client.write("PUT", "/Patient/gw-put-new", json: fresh)
            #expect(asCreate.status == 201)
            #expect(asCreate.header("Location") == "http://localhost/Patient/gw-put-new/_history/1")
        }
    }

    @Test("logical delete: 204, then read 410, vread of the old version and history keep it", arguments: StoreKind.allCases)
    func delete(kind: StoreKind) async throws {
        try await RecordGateway.run(kind) { client, store in
            var resource = Self.patient
            resource["id"] = "gw-delete"
            #expect(try await client.write("PUT", "/Patient/gw-delete", json: resource).status == 201)
            let deleted = try await client.send("DELETE", "/Patient/gw-delete")
            #expect(deleted.status == 204)
            #expect(deleted.header("ETag") == "W/\"2\"")
            let gone = try await client.get("/Patient/gw-delete")
            #expect(gone.status == 410)
            #expect(gone.issue?.code == "not-found")
            #expect(try await client.get("/Patient/gw-delete/_history/1").status == 200)
            #expect(try await client.get("/Patient/gw-delete/_history/2").status == 410)

            let history = try await client.get("/Patient/gw-delete/_history")
            #expect(history.status == 200)
            #expect(history.json["type"] as? String == "history")
            let entries = history.json["entry"] as? [[String: Any]] ?? []
            #expect(entries.count == 2)
            #expect((entries.first?["request"] as? [String: Any])?["method"] as? String == "DELETE")
            #expect(entries.first?["resource"] == nil)
            #expect((entries.last?["request"] as? [String: Any])?["method"] as? String == "POST")
            #expect((entries.last?["resource"] as? [String: Any])?["id"] as? String == "gw-delete")
            // The delete is a version like any other: stored and queued for anchoring.
            #expect(try await store.versionCount() == 2)
        }
    }

    @Test("JSON Patch: applied as a new version; other patch formats 415; a failed test 422", arguments: StoreKind.allCases)
    func patch(kind: StoreKind) async throws {
        try await RecordGateway.run(kind) { client, _ in
            var resource = Self.patient
            resource["id"] = "gw-patch"
            _ = try await client.write("PUT", "/Patient/gw-patch", json: resource)
            let ops = Array(#"[{"op":"replace","path":"/birthDate","value":"1975-01-02"}]"#.utf8)
            let patched = try await client.send("PATCH", "/Patient/gw-patch",
                                                headers: ["Content-Type": "application/json-patch+json", "If-Match": "W/\"1\""], body: ops)
            #expect(patched.status == 200)
            #expect(patched.header("ETag") == "W/\"2\"")
            #expect(patched.json["birthDate"] as? String == "1975-01-02")
            let wrongType = try await client.send("PATCH", "/Patient/gw-patch", headers: ["Content-Type": "application/json"], body: ops)
            #expect(wrongType.status == 415)
            #expect(wrongType.issue?.code == "not-supported")
            let failing = Array(#"[{"op":"test","path":"/gender","value":"female"}]"#.utf8)
            let refused = try await client.send("PATCH", "/Patient/gw-patch", headers: ["Content-Type": "application/json-patch+json"], body: failing)
            #expect(refused.status == 422)
            #expect(refused.issue != nil)
        }
    }

    @Test("conditional create (If-None-Exist) and conditional update (PUT /type?criteria)", arguments: StoreKind.allCases)
    func conditionalWrites(kind: StoreKind) async throws {
        try await RecordGateway.run(kind) { client, _ in
            let criteria = "identifier=urn:oid:1.2.36.146.595.217.0.1|gw-12345"
            let first = try await client.write("POST", "/Patient", json: Self.patient, headers: ["If-None-Exist": criteria])
            #expect(first.status == 201)
            var other = Self.patient
            other["gender"] = "unknown"
            let second = try await client.write("POST", "/Patient", json: other, headers: ["If-None-Exist": criteria])
            #expect(second.status == 200)
            #expect(second.header("Location") == first.header("Location"))
            #expect(second.json["gender"] as? String == "male")

            let encoded = "identifier=urn%3Aoid%3A1.2.36.146.595.217.0.1%7Cgw-12345"
            let updated = try await client.write("PUT", "/Patient?" + encoded + "&_format=json", json: other)
            #expect(updated.status == 200)
            #expect(updated.header("ETag") == "W/\"2\"")
            #expect(updated.json["gender"] as? String == "unknown")
            let noCriteria = try await client.write("PUT", "/Patient", json: other)
            #expect(noCriteria.status == 400)
        }
    }
}
