import Foundation
import Gateway
import RecordStore
import TestSupport
import Testing

/// The CapabilityStatement's `searchInclude` and `searchRevInclude` list the `_include` and `_revinclude` values the
/// search follows: checked for a few types against the official R4 SearchParameter definitions
/// (../shared/fhir-r4-definitions/search-parameters.json, read here with Foundation), and each listed value asked
/// of the search under `Prefer: handling=strict`, which refuses what it does not support.
@Suite("Gateway CapabilityStatement: searchInclude and searchRevInclude", .timeLimit(.minutes(4)))
struct CapabilityIncludeTests {
    /// The reference search parameters of the R4 definitions as (bases, code, targets).
    static func referenceParameters() throws -> [(bases: [String], code: String, targets: [String])] {
        let url = Repository.shared.appendingPathComponent("fhir-r4-definitions/search-parameters.json")
        let bundle = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        return (bundle["entry"] as? [[String: Any]] ?? []).compactMap { entry in
            guard let p = entry["resource"] as? [String: Any], p["resourceType"] as? String == "SearchParameter",
                  p["type"] as? String == "reference", let code = p["code"] as? String else { return nil }
            return (p["base"] as? [String] ?? [], code, p["target"] as? [String] ?? [])
        }
    }

    static let types = ["Patient", "Observation", "Encounter", "Organization", "Medication", "Practitioner"]

    @Test func theListsAreTheDefinitionsReferenceParameters() async throws {
        let definitions = try Self.referenceParameters()
        try await RecordGateway.run(.sqlite) { client, _ in
            let metadata = try await client.get("/metadata")
            let rest = try #require((metadata.json["rest"] as? [[String: Any]])?.first)
            let resources = rest["resource"] as? [[String: Any]] ?? []
            for type in Self.types {
                let resource = try #require(resources.first { $0["type"] as? String == type })
                let includes = resource["searchInclude"] as? [String] ?? []
                let revIncludes = resource["searchRevInclude"] as? [String] ?? []
                // _include: every reference parameter of the type; _revinclude: every reference parameter of any type
                // that can point at it.
                let expectedIncludes = Set(definitions.filter { $0.bases.contains(type) }.map { "\(type):\($0.code)" })
                let expectedRevIncludes = Set(definitions.filter { $0.targets.contains(type) }.flatMap { p in p.bases.map { "\($0):\(p.code)" } })
                #expect(Set(includes) == expectedIncludes, "\(type) searchInclude")
                #expect(Set(revIncludes) == expectedRevIncludes, "\(type) searchRevInclude")
                #expect(includes.count == Set(includes).count && revIncludes.count == Set(revIncludes).count, "\(type): none twice")
                #expect(!includes.contains("*") && !includes.contains("\(type):*"), "wildcards are not supported")
                #expect(!expectedRevIncludes.isEmpty, "\(type)")
                // Each listed value is followed: strict handling refuses an _include or _revinclude it does not support.
                for value in includes {
                    let reply = try await client.get("/\(type)?_include=\(value)", headers: CapabilityStatementTests.strict)
                    #expect(reply.status == 200, "\(type)?_include=\(value): \(reply.text.prefix(200))")
                }
                for value in revIncludes {
                    let reply = try await client.get("/\(type)?_revinclude=\(value)", headers: CapabilityStatementTests.strict)
                    #expect(reply.status == 200, "\(type)?_revinclude=\(value): \(reply.text.prefix(200))")
                }
            }
            #expect(try await client.get("/Patient?_include=*", headers: CapabilityStatementTests.strict).status == 400,
                    "the wildcard, not listed, is refused")
            // A type the search does not answer lists neither.
            let binary = try #require(resources.first { $0["type"] as? String == "Binary" })
            #expect(binary["searchInclude"] == nil && binary["searchRevInclude"] == nil)
        }
    }
}
