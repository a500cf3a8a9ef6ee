import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Gateway
import HummingbirdTesting
import RecordStore
import TestSupport
import Testing

/// Content negotiation (Accept, _format, _pretty, Content-Type), Prefer, and the error statuses, each answered
/// with an OperationOutcome, over real loopback HTTP.
@Suite("Gateway negotiation and errors", .timeLimit(.minutes(5)))
struct NegotiationAndErrorTests {
    @Test("JSON and XML by Accept or _format; _pretty; errors in the negotiated format")
    func formats() async throws {
        try await RecordGateway.run(.sqlite) { client, _ in
            var resource = RecordInteractionTests.patient
            resource["id"] = "gw-format"
            #expect(try await client.write("PUT", "/Patient/gw-format", json: resource).status == 201)

            let compact = try await client.get("/Patient/gw-format")
            #expect(!compact.body.contains(0x0A))
            for accept in ["application/fhir+xml", "application/xml", "text/xml", "text/html;q=0.9, application/fhir+xml"] {
                let xml = try await client.get("/Patient/gw-format", headers: ["Accept": accept])
                #expect(xml.status == 200)
                #expect(xml.header("Content-Type") == "application/fhir+xml; charset=utf-8")
                #expect(xml.text.hasPrefix("<?xml"))
                #expect(xml.text.contains("<Patient xmlns=\"http://hl7.org/fhir\">"))
                #expect(xml.text.contains("<family value=\"Chalmers\"/>"))
            }
            let byFormat = try await client.get("/Patient/gw-format?_format=xml", headers: ["Accept": "application/fhir+json"])
            #expect(byFormat.text.hasPrefix("<?xml"))
            let json = try await client.get("/Patient/gw-format?_format=application/fhir%2Bjson", headers: ["Accept": "application/xml"])
            #expect(json.json["id"] as? String == "gw-format")
            let pretty = try await client.get("/Patient/gw-format?_pretty=true")
            #expect(pretty.text.contains("\n  \"resourceType\": \"Patient\""))
            #expect(pretty.json["id"] as? String == "gw-format")
            #expect(try await client.get("/Patient/gw-format", headers: ["Accept": "*/*"]).json["id"] as? String == "gw-format")

            let notAcceptable = try await client.get("/Patient/gw-format", headers: ["Accept": "text/html"])
            #expect(notAcceptable.status == 406)
            #expect(notAcceptable.issue?.code == "not-supported")
            #expect(try await client.get("/Patient/gw-format?_format=turtle").status == 406)

            let xmlError = try await client.get("/Patient/nobody?_format=xml")
            #expect(xmlError.status == 404)
            #expect(xmlError.text.contains("<OperationOutcome xmlns=\"http://hl7.org/fhir\">"))
        }
    }

    @Test("request bodies by Content-Type: XML accepted, others 415, unreadable 400, invalid 422")
    func bodies() async throws {
        try await RecordGateway.run(.sqlite) { client, _ in
            let xml = try RecordGateway.corpus("fhir-r4-examples/patient-example.xml")
            let created = try await client.send("POST", "/Patient", headers: ["Content-Type": "application/fhir+xml"], body: xml)
            #expect(created.status == 201)
            #expect((created.json["name"] as? [[String: Any]])?.first?["family"] as? String == "Chalmers")

            let text = try await client.send("POST", "/Patient", headers: ["Content-Type": "text/plain"], body: Array("hello".utf8))
            #expect(text.status == 415)
            #expect(text.issue?.code == "not-supported")
            let broken = try await client.send("POST", "/Patient", headers: ["Content-Type": "application/fhir+json"],
                                               body: Array(#"{"resourceType":"Patient","#.utf8))
            #expect(broken.status == 400)
            #expect(broken.issue != nil)
            let invalid = try await client.write("POST", "/Patient", json: ["resourceType": "Patient", "birthDate": "yesterday"])
            #expect(invalid.status == 400 || invalid.status == 422)
            #expect(invalid.issue?.diagnostics.contains("birthDate") == true || invalid.text.contains("birthDate"))
            let wrongType = try await client.write("POST", "/Observation", json: RecordInteractionTests.patient)
            #expect(wrongType.status == 400)
        }
    }

    @Test("a body over the 64 MiB upload limit is 413 with an OperationOutcome")
    func tooLarge() async throws {
        try await RecordGateway.run(.sqlite) { client, _ in
            var body = Array(#"{"resourceType":"Patient","text":{"status":"generated","div":""#.utf8)
            body += [UInt8](repeating: UInt8(ascii: "a"), count: (64 << 20) + 1024)
            // URLSession with a 10-minute timeout rather than the test client, whose 120 s per request (LiveClient.timeout)
            // is meant for ordinary requests, not a 64 MiB upload on two shared cores (the check is the 413, not its speed).
            let port = try #require(client.client.port)
            let url = try #require(URL(string: "http://localhost:\(port)/Patient"))
            var request = URLRequest(url: url, timeoutInterval: 600)
            request.httpMethod = "POST"
            request.setValue("application/fhir+json", forHTTPHeaderField: "Content-Type")
            request.httpBody = Data(body)
            let (data, response) = try await URLSession.shared.data(for: request)
            #expect((response as? HTTPURLResponse)?.statusCode == 413)
            let outcome = try JSONSerialization.jsonObject(with: data) as? [String: Any]
            let issue = (outcome?["issue"] as? [[String: Any]])?.first
            #expect(outcome?["resourceType"] as? String == "OperationOutcome")
            #expect(issue?["code"] as? String == "too-costly")
        }
    }

    @Test("Prefer: return=minimal, representation and OperationOutcome")
    func prefer() async throws {
        try await RecordGateway.run(.sqlite) { client, _ in
            var resource = RecordInteractionTests.patient
            resource["id"] = "gw-prefer"
            let minimal = try await client.write("PUT", "/Patient/gw-prefer", json: resource, headers: ["Prefer": "return=minimal"])
            #expect(minimal.status == 201 && minimal.body.isEmpty)
            #expect(minimal.header("Location") == "http://localhost/Patient/gw-prefer/_history/1")
            resource["gender"] = "female"
            let outcome = try await client.write("PUT", "/Patient/gw-prefer", json: resource, headers: ["Prefer": "return=OperationOutcome"])
            #expect(outcome.status == 200)
            #expect(outcome.json["resourceType"] as? String == "OperationOutcome")
            #expect(outcome.header("ETag") == "W/\"2\"")
            resource["gender"] = "male"
            let representation = try await client.write("PUT", "/Patient/gw-prefer", json: resource, headers: ["Prefer": "return=representation"])
            #expect(representation.json["gender"] as? String == "male")
        }
    }

    @Test("404 unknown type or id, 405 with Allow, every error an OperationOutcome")
    func statuses() async throws {
        try await RecordGateway.run(.sqlite) { client, _ in
            let unknownType = try await client.get("/Spaceship/1")
            #expect(unknownType.status == 404)
            #expect(unknownType.issue?.code == "not-found")
            #expect(unknownType.header("Content-Type") == "application/fhir+json; charset=utf-8")
            #expect(try await client.get("/Patient/nobody").status == 404)
            #expect(try await client.get("/no/such/path/at/all").status == 404)
            let badId = try await client.get("/Patient/" + String(repeating: "x", count: 65))
            #expect(badId.status == 400)

            let postMetadata = try await client.send("POST", "/metadata", body: Array("{}".utf8))
            #expect(postMetadata.status == 405)
            #expect(postMetadata.header("Allow") == "GET")
            #expect(postMetadata.issue?.code == "not-supported")
            let deleteType = try await client.send("DELETE", "/Patient")
            #expect(deleteType.status == 405)
            #expect(deleteType.header("Allow")?.contains("POST") == true)
            #expect(try await client.send("POST", "/Patient/1/_history").status == 405)
        }
    }

    @Test("health and the CapabilityStatement")
    func metadata() async throws {
        try await RecordGateway.run(.sqlite) { client, _ in
            let health = try await client.get("/health")
            #expect(health.status == 200 && health.text == #"{"status":"ok"}"#)

            let metadata = try await client.get("/metadata")
            #expect(metadata.status == 200)
            let statement = metadata.json
            #expect(statement["resourceType"] as? String == "CapabilityStatement")
            #expect(statement["fhirVersion"] as? String == "4.0.1")
            let rest = try #require((statement["rest"] as? [[String: Any]])?.first)
            let resources = rest["resource"] as? [[String: Any]] ?? []
            let patient = try #require(resources.first { $0["type"] as? String == "Patient" })
            let interactions = Set((patient["interaction"] as? [[String: Any]] ?? []).compactMap { $0["code"] as? String })
            #expect(interactions.isSuperset(of: ["read", "vread", "update", "patch", "delete", "history-instance", "create"]))
            let parameters = (patient["searchParam"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
            #expect(parameters.contains("birthdate") && parameters.contains("identifier"))
            #expect((patient["operation"] as? [[String: Any]])?.first?["name"] as? String == "everything")
            let security = rest["security"] as? [String: Any] ?? [:]
            let oauth = (security["extension"] as? [[String: Any]])?.first
            #expect(oauth?["url"] as? String == "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris")
            let token = (oauth?["extension"] as? [[String: Any]])?.first { $0["url"] as? String == "token" }
            #expect((token?["valueUri"] as? String)?.hasSuffix("/auth/token") == true)
            let system = Set((rest["interaction"] as? [[String: Any]] ?? []).compactMap { $0["code"] as? String })
            #expect(system == ["transaction", "batch", "history-system"])

            let xml = try await client.get("/metadata?_format=xml")
            #expect(xml.text.contains("<CapabilityStatement xmlns=\"http://hl7.org/fhir\">"))
        }
    }
}
