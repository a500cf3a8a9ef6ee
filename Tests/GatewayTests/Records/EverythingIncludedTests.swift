import Foundation
import Gateway
import RecordStore
import TestSupport
import Testing

/// `Patient/{id}/$everything` also returns the resources its records reference that are in no patient compartment
/// (patient-operation-everything: "any resource referenced from those"), as `search.mode = include` after the
/// compartment, over real loopback HTTP with the Synthea patient on SQLite and PostgreSQL. The expected set is worked
/// out here from the transaction Bundle's JSON and the official CompartmentDefinition with Foundation, not by the
/// code under test.
@Suite("Gateway $everything: the resources the compartment references", .timeLimit(.minutes(8)))
struct EverythingIncludedTests {
    /// The types the R4 Patient CompartmentDefinition places in the compartment (those listed with a `param`).
    static func compartmentTypes() throws -> Set<String> {
        let url = Repository.shared.appendingPathComponent("fhir-r4-definitions/compartmentdefinition-patient.json")
        let definition = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        let resources = definition["resource"] as? [[String: Any]] ?? []
        return Set(resources.filter { !(($0["param"] as? [String]) ?? []).isEmpty }.compactMap { $0["code"] as? String })
    }

    /// Every `reference` string anywhere in `value`.
    static func references(in value: Any) -> [String] {
        if let object = value as? [String: Any] {
            return object.flatMap { name, member -> [String] in
                if name == "reference", let text = member as? String { return [text] }
                return references(in: member)
            }
        }
        if let array = value as? [Any] { return array.flatMap { references(in: $0) } }
        return []
    }

    /// `Type/id` of each transaction entry as stored (from its `response.location`), by entry index.
    static func storedKeys(_ reply: RecordGateway.Reply) -> [String] {
        (reply.json["entry"] as? [[String: Any]] ?? []).map { entry in
            let location = (entry["response"] as? [String: Any])?["location"] as? String ?? ""
            return location.split(separator: "/").prefix(2).joined(separator: "/")
        }
    }

    /// The entries of a searchset as (`Type/id`, search mode), in order.
    static func modes(_ reply: RecordGateway.Reply) -> [(key: String, mode: String)] {
        (reply.json["entry"] as? [[String: Any]] ?? []).compactMap { entry in
            guard let r = entry["resource"] as? [String: Any], let type = r["resourceType"] as? String, let id = r["id"] as? String,
                  let mode = (entry["search"] as? [String: Any])?["mode"] as? String else { return nil }
            return ("\(type)/\(id)", mode)
        }
    }

    /// Resources the test writes besides the Synthea Bundle: what the compartment references outside it (a Location
    /// and a Device, both in no compartment by the definition, and a Medication), and references that must add
    /// nothing: another patient's RelatedPerson and Observation (their types are in the compartment), a Practitioner
    /// that does not exist, an Organization named by an absolute URL of another server, and a contained resource.
    static func extras(patient: String) -> [(path: String, json: [String: Any])] {
        let subject = ["reference": "Patient/\(patient)"]
        return [
            ("Patient/gw-other", ["resourceType": "Patient", "id": "gw-other", "name": [["family": "Other"]]]),
            ("RelatedPerson/gw-rp-other", ["resourceType": "RelatedPerson", "id": "gw-rp-other", "patient": ["reference": "Patient/gw-other"]]),
            ("Observation/gw-obs-other", ["resourceType": "Observation", "id": "gw-obs-other", "status": "final", "code": ["text": "pulse"],
                                          "subject": ["reference": "Patient/gw-other"]]),
            ("Organization/gw-far", ["resourceType": "Organization", "id": "gw-far", "name": "Far"]),
            ("Location/gw-loc", ["resourceType": "Location", "id": "gw-loc", "name": "Ward 3"]),
            ("Device/gw-dev", ["resourceType": "Device", "id": "gw-dev", "status": "active"]),
            ("Medication/gw-med", ["resourceType": "Medication", "id": "gw-med", "code": ["text": "aspirin"]]),
            ("Encounter/gw-enc", ["resourceType": "Encounter", "id": "gw-enc", "status": "finished",
                                  "class": ["system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"],
                                  "subject": subject, "location": [["location": ["reference": "Location/gw-loc"]]]]),
            ("MedicationRequest/gw-mr", ["resourceType": "MedicationRequest", "id": "gw-mr", "status": "active", "intent": "order",
                                         "medicationReference": ["reference": "Medication/gw-med"], "subject": subject]),
            ("Observation/gw-refs", ["resourceType": "Observation", "id": "gw-refs", "status": "final", "code": ["text": "pulse"],
                                     "subject": subject, "device": ["reference": "Device/gw-dev/_history/1"],
                                     "performer": [["reference": "RelatedPerson/gw-rp-other"], ["reference": "Practitioner/gw-missing"],
                                                   ["reference": "https://elsewhere.example/fhir/Organization/gw-far"], ["reference": "#c1"]],
                                     "hasMember": [["reference": "Observation/gw-obs-other"]],
                                     "contained": [["resourceType": "Organization", "id": "c1", "name": "Contained"]]]),
        ]
    }

    /// Imports the Synthea Bundle and writes ``extras(patient:)``; the patient's id and the keys of the resources
    /// `$everything` must include, sorted, as this test works them out: every reference of a resource whose type is
    /// in the compartment (the Bundle's `urn:uuid` references mapped to what the transaction stored, the extras'
    /// relative `Type/id[/_history/n]` ones), kept when it names a stored resource of a type outside the compartment.
    static func importAndExpect(_ client: RecordGateway.Client) async throws -> (patient: String, included: [String]) {
        let compartment = try compartmentTypes()
        let synthea = try RecordGateway.corpusJSON(EverythingPagingTests.synthea)
        let reply = try await client.send("POST", "/", headers: ["Content-Type": "application/fhir+json"],
                                          body: try RecordGateway.corpus(EverythingPagingTests.synthea))
        try #require(reply.status == 200)
        let stored = storedKeys(reply)
        let entries = synthea["entry"] as? [[String: Any]] ?? []
        try #require(entries.count == stored.count)
        let patient = try #require(stored.first { $0.hasPrefix("Patient/") }).split(separator: "/")[1]
        var storedByFullURL: [String: String] = [:]
        for (entry, key) in zip(entries, stored) { storedByFullURL[entry["fullUrl"] as? String ?? ""] = key }
        func type(_ key: String) -> String { String(key.split(separator: "/")[0]) }
        var included: Set<String> = []
        for (entry, key) in zip(entries, stored) where compartment.contains(type(key)) {
            for reference in references(in: entry["resource"] ?? [:]) {
                if let target = storedByFullURL[reference], !compartment.contains(type(target)) { included.insert(target) }
            }
        }
        let extras = extras(patient: String(patient))
        for (path, json) in extras {
            let written = try await client.write("PUT", "/\(path)", json: json)
            try #require(written.status == 201, "\(path): \(written.text.prefix(300))")
        }
        let written = Set(extras.map(\.path))
        for (path, json) in extras where compartment.contains(type(path)) {
            // Only this patient's: another's resources are no part of its compartment, so nothing they reference counts.
            guard (json["subject"] as? [String: String])?["reference"] == "Patient/\(patient)" else { continue }
            for reference in references(in: json) {
                let parts = reference.split(separator: "/")
                guard parts.count == 2 || (parts.count == 4 && parts[2] == "_history") else { continue }
                let target = "\(parts[0])/\(parts[1])"
                if written.contains(target), !compartment.contains(type(target)) { included.insert(target) }
            }
        }
        return (String(patient), included.sorted())
    }

    @Test("the referenced resources outside every compartment, included after the compartment", arguments: StoreKind.allCases)
    func theReferencedResourcesAreIncluded(kind: StoreKind) async throws {
        try await RecordGateway.run(kind) { client, _ in
            let (id, expected) = try await Self.importAndExpect(client)
            // The Synthea patient's Organization and Practitioner, and the extras' Device, Location and Medication.
            #expect(expected.map { $0.split(separator: "/")[0] } == ["Device", "Location", "Medication", "Organization", "Practitioner"])
            let whole = try await client.get("/Patient/\(id)/$everything?_count=1000")
            try #require(whole.status == 200)
            #expect(BundleRules.violations(whole.json).isEmpty, "\(BundleRules.violations(whole.json))")
            let entries = Self.modes(whole)
            let included = entries.filter { $0.mode == "include" }.map(\.key)
            let matches = entries.filter { $0.mode == "match" }.map(\.key)
            #expect(included == expected, "the exact set, by type and id")
            #expect(matches.count + included.count == entries.count)
            #expect(entries.map(\.key) == matches + included, "the included resources come after every match")
            #expect(matches.first == "Patient/\(id)" && matches.contains("Observation/gw-refs") && !matches.contains("Observation/gw-obs-other"))
            #expect(whole.json["total"] as? Int == matches.count, "total counts the matches")
            #expect(Set(entries.map(\.key)).count == entries.count, "none twice")
            // _summary=count counts the matches alone.
            #expect(try await client.get("/Patient/\(id)/$everything?_summary=count").json["total"] as? Int == matches.count)
        }
    }

    @Test("included resources page with the cursor, and follow _type, _since and deletes", arguments: StoreKind.allCases)
    func pagingTypeSinceAndDeletes(kind: StoreKind) async throws {
        try await RecordGateway.run(kind) { client, _ in
            let (id, expected) = try await Self.importAndExpect(client)
            let all = EverythingPagingTests.keys(try await client.get("/Patient/\(id)/$everything?_count=1000"))
            // Pages of 4 cross from the compartment into the included resources and page through them.
            let pages = try await EverythingPagingTests.pages(client, from: "/Patient/\(id)/$everything?_count=4")
            #expect(pages.flatMap { $0 } == all)
            #expect(pages.dropLast().allSatisfy { $0.count == 4 })
            #expect(pages.filter { page in page.allSatisfy { expected.contains($0) } }.count >= 1, "a page of included resources only")

            // _type restricts the included resources too; a type in the compartment alone includes none.
            let typed = EverythingPagingTests.keys(try await client.get("/Patient/\(id)/$everything?_count=1000&_type=Organization,Location"))
            #expect(typed == expected.filter { $0.hasPrefix("Location/") || $0.hasPrefix("Organization/") })
            let observations = Self.modes(try await client.get("/Patient/\(id)/$everything?_count=1000&_type=Observation"))
            #expect(!observations.isEmpty && observations.allSatisfy { $0.mode == "match" && $0.key.hasPrefix("Observation/") })

            // _since: an Organization updated after the mark is all that is newer (its referrers are not).
            try await Task.sleep(for: .milliseconds(1100))
            let mark = ISO8601DateFormatter().string(from: Date())
            try await Task.sleep(for: .milliseconds(1100))
            let organization = try #require(expected.first { $0.hasPrefix("Organization/") })
            var body = try await client.get("/\(organization)").json
            try #require(body["resourceType"] as? String == "Organization")
            body["name"] = "Renamed clinic"
            body["meta"] = nil
            #expect(try await client.write("PUT", "/\(organization)", json: body).status == 200)
            let since = try await client.get("/Patient/\(id)/$everything?_since=\(mark.replacingOccurrences(of: "+", with: "%2B"))")
            #expect(Self.modes(since).map { "\($0.key) \($0.mode)" } == ["\(organization) include"], "\(mark)")

            // A deleted resource is no longer included.
            #expect([200, 204].contains(try await client.send("DELETE", "/Location/gw-loc").status))
            let after = Self.modes(try await client.get("/Patient/\(id)/$everything?_count=1000")).filter { $0.mode == "include" }.map(\.key)
            #expect(after == expected.filter { $0 != "Location/gw-loc" })
        }
    }
}
