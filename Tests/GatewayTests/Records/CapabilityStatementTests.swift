import Foundation
import Gateway
import RecordStore
import TestSupport
import Testing

/// The CapabilityStatement lists exactly what is implemented (issue 17, Deliver 4): every search parameter it lists
/// for every type is answered under `Prefer: handling=strict` (which refuses what is not), the result parameters
/// and `$everything` parameters its documentation names work, and it says the partner policy (consent, the notice,
/// AuditEvents local-only).
@Suite("Gateway CapabilityStatement lists what is implemented", .timeLimit(.minutes(6)))
struct CapabilityStatementTests {
    /// A value of each parameter type that the search reads.
    static let sampleValues = ["string": "x", "token": "x", "reference": "Patient/x", "date": "ge2020-01-01", "number": "1",
                               "quantity": "1", "uri": "http://example.org/x"]

    static let strict = ["Prefer": "handling=strict"]

    @Test func everyListedSearchParameterIsAnsweredUnderStrictHandling() async throws {
        try await RecordGateway.run(.sqlite) { client, _ in
            let metadata = try await client.get("/metadata")
            let rest = try #require((metadata.json["rest"] as? [[String: Any]])?.first)
            let resources = rest["resource"] as? [[String: Any]] ?? []
            #expect(resources.count > 140)
            var asked = 0
            var refused: [String] = []
            for resource in resources {
                let type = try #require(resource["type"] as? String)
                let interactions = (resource["interaction"] as? [[String: Any]] ?? []).compactMap { $0["code"] as? String }
                if !interactions.contains("search-type") {
                    // Not searched: listed without parameters, and a search of it is refused.
                    #expect(resource["searchParam"] == nil, "\(type)")
                    #expect(try await client.get("/\(type)").status == 404, "\(type)")
                    continue
                }
                for parameter in resource["searchParam"] as? [[String: Any]] ?? [] {
                    let name = parameter["name"] as? String ?? "", kind = parameter["type"] as? String ?? ""
                    guard let value = Self.sampleValues[kind] else {
                        refused.append("\(type).\(name): listed with type \(kind), which is not searched")
                        continue
                    }
                    let uri = "/\(type)?\(name)=\(value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? value)"
                    let reply = try await client.get(uri, headers: Self.strict)
                    asked += 1
                    if reply.status != 200 { refused.append("\(uri): \(reply.status) \(reply.issue?.diagnostics ?? "")") }
                }
            }
            #expect(asked > 1500, "every listed parameter asked")
            #expect(refused.isEmpty, "\(refused.prefix(20))")
        }
    }

    @Test func theDocumentedResultParametersAndPolicyHold() async throws {
        try await RecordGateway.run(.sqlite) { client, _ in
            let rest = try #require((try await client.get("/metadata").json["rest"] as? [[String: Any]])?.first)
            let documentation = rest["documentation"] as? String ?? ""
            for claim in ["_summary (true, text, data, count, false", "_elements", "_revinclude", "AuditEvents are the hospital's own records",
                          "response.outcome", "History (instance, type and system) takes _since, _count, _summary"] {
                #expect(documentation.contains(claim), "\(claim)")
            }
            let resources = rest["resource"] as? [[String: Any]] ?? []
            let audit = try #require(resources.first { $0["type"] as? String == "AuditEvent" })
            #expect((audit["documentation"] as? String)?.contains("partner clients get 403") == true)
            let operation = try #require((rest["operation"] as? [[String: Any]])?.first)
            for claim in ["_since", "_summary", "_elements", "AuditEvent in _type"] {
                #expect((operation["documentation"] as? String)?.contains(claim) == true, "\(claim)")
            }

            let patient: [String: Any] = ["resourceType": "Patient", "id": "cs-1", "name": [["family": "Capable"]], "gender": "female"]
            #expect(try await client.write("PUT", "/Patient/cs-1", json: patient).status == 201)
            let observation: [String: Any] = ["resourceType": "Observation", "id": "cs-o", "status": "final", "code": ["text": "pulse"],
                                              "subject": ["reference": "Patient/cs-1"]]
            #expect(try await client.write("PUT", "/Observation/cs-o", json: observation).status == 201)
            for query in ["_count=1", "_sort=-_lastUpdated,family", "_include=Patient:general-practitioner", "_revinclude=Observation:subject",
                          "_total=accurate", "_total=estimate", "_summary=true", "_summary=text", "_summary=data", "_summary=count",
                          "_summary=false", "_count=0", "_elements=name",
                          "family:exact=Capable", "family:contains=apab", "gender:not=male", "gender:missing=false", "name:missing=false"] {
                let reply = try await client.get("/Patient?\(query)", headers: Self.strict)
                #expect(reply.status == 200, "\(query): \(reply.issue?.diagnostics ?? "")")
            }
            let summary = try await client.get("/Patient?_summary=true&_id=cs-1", headers: Self.strict)
            let match = ((summary.json["entry"] as? [[String: Any]])?.first?["resource"] as? [String: Any]) ?? [:]
            #expect(match["name"] != nil && match["gender"] != nil)
            #expect(try await client.get("/Patient/cs-1/$everything?_count=1&_type=Observation&_since=2000-01-01T00:00:00Z",
                                         headers: Self.strict).status == 200)
            for query in ["_summary=true", "_summary=text", "_summary=data", "_summary=false", "_summary=count", "_elements=status"] {
                let everything = try await client.get("/Patient/cs-1/$everything?\(query)", headers: Self.strict)
                #expect(everything.status == 200, "$everything?\(query): \(everything.issue?.diagnostics ?? "")")
            }
            // History: what historyFeatures lists passes strict handling; _summary=count is refused as it says.
            for uri in ["/Patient/cs-1/_history", "/Patient/_history", "/_history"] {
                for query in ["_since=2000-01-01T00:00:00Z", "_count=1", "_summary=true", "_summary=text", "_summary=data", "_summary=false",
                              "_elements=name"] {
                    let history = try await client.get("\(uri)?\(query)", headers: Self.strict)
                    #expect(history.status == 200, "\(uri)?\(query): \(history.issue?.diagnostics ?? "")")
                }
                #expect(try await client.get("\(uri)?_summary=count").status == 400, "\(uri)")
                #expect(try await client.get("\(uri)?_at=2020", headers: Self.strict).status == 400, "\(uri)")
            }
        }
    }
}
