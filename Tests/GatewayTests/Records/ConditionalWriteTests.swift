import Foundation
import Gateway
import RecordStore
import TestSupport
import Testing

/// Conditional create (`If-None-Exist`) and conditional update (`PUT Type?criteria`) with criteria beyond identifier
/// and `_id`, answered by the full search (modifiers, prefixes, a chain), over real loopback HTTP on SQLite and
/// PostgreSQL: no match creates, one match is that resource, several are 412, and criteria the search cannot read
/// (an unknown parameter, a result parameter such as `_count`) are a 400, never ignored.
@Suite("Gateway conditional writes by full search", .timeLimit(.minutes(4)))
struct ConditionalWriteTests {
    static func patient(_ id: String, family: String, birthDate: String) -> [String: Any] {
        ["resourceType": "Patient", "id": id, "name": [["family": family, "given": ["Ana"]]], "birthDate": birthDate]
    }

    static func heartRate(_ id: String, patient: String) -> [String: Any] {
        ["resourceType": "Observation", "id": id, "status": "final",
         "code": ["coding": [["system": "http://loinc.org", "code": "8867-4"]]], "subject": ["reference": "Patient/\(patient)"]]
    }

    @Test(arguments: StoreKind.allCases)
    func criteriaUseTheFullSearch(kind: StoreKind) async throws {
        try await RecordGateway.run(kind) { client, store in
            #expect(try await client.write("PUT", "/Patient/cw-1", json: Self.patient("cw-1", family: "Condwell", birthDate: "1970-01-01")).status == 201)
            #expect(try await client.write("PUT", "/Patient/cw-2", json: Self.patient("cw-2", family: "Condwell", birthDate: "1980-06-15")).status == 201)
            #expect(try await client.write("PUT", "/Observation/cw-o1", json: Self.heartRate("cw-o1", patient: "cw-1")).status == 201)
            let created = Self.patient("cw-new", family: "Condwell", birthDate: "1990-01-01")

            // One match: that resource, nothing stored.
            let versions = try await store.versionCount()
            let one = try await client.write("POST", "/Patient", json: created, headers: ["If-None-Exist": "family=Condwell&birthdate=1970-01-01"])
            #expect(one.status == 200)
            #expect(one.json["id"] as? String == "cw-1")
            let prefixed = try await client.write("POST", "/Patient", json: created, headers: ["If-None-Exist": "family:exact=Condwell&birthdate=ge1975"])
            #expect(prefixed.json["id"] as? String == "cw-2", "modifier and prefix")
            let chained = try await client.write("POST", "/Observation", json: Self.heartRate("cw-o2", patient: "cw-1"),
                                                 headers: ["If-None-Exist": "code=http://loinc.org|8867-4&subject:Patient.birthdate=1970-01-01"])
            #expect(chained.status == 200)
            #expect(chained.json["id"] as? String == "cw-o1", "a chained criterion")
            #expect(try await store.versionCount() == versions)

            // Several: 412, nothing stored.
            let several = try await client.write("POST", "/Patient", json: created, headers: ["If-None-Exist": "family=Condwell"])
            #expect(several.status == 412)
            #expect(several.issue != nil)
            #expect(try await store.versionCount() == versions)

            // None: created.
            let none = try await client.write("POST", "/Patient", json: created, headers: ["If-None-Exist": "family=Condwell&birthdate=1990"])
            #expect(none.status == 201)

            // Conditional update: several are 412; one is updated in place.
            let ambiguous = try await client.write("PUT", "/Patient?family=Condwell&birthdate=lt1985", json: Self.patient("cw-2", family: "Condwell", birthDate: "1980-06-15"))
            #expect(ambiguous.status == 412)
            var changed = Self.patient("cw-2", family: "Condwell", birthDate: "1980-06-15")
            changed["gender"] = "female"
            let updated = try await client.write("PUT", "/Patient?family=Condwell&birthdate=1980-06-15", json: changed)
            #expect(updated.status == 200)
            #expect(updated.header("Location")?.contains("Patient/cw-2/_history/2") == true, "\(updated.header("Location") ?? "")")

            // What the search cannot read as criteria is refused, never ignored.
            for criteria in ["nonsense=1", "family=Condwell&_count=1", "family=Condwell&_sort=birthdate"] {
                let refused = try await client.write("POST", "/Patient", json: created, headers: ["If-None-Exist": criteria])
                #expect(refused.status == 400, "\(criteria)")
            }
        }
    }
}
