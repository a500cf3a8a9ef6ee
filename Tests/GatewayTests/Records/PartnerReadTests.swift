import Foundation
import Gateway
import Hummingbird
import HummingbirdTesting
import Ledger
import RecordStore
import Services
import TestSupport
import Testing

/// A partner's record reads over real loopback HTTP: with no consent on the ledger, a read, vread, instance history
/// or `$everything` of patient data is 403, type and system history leave it out and carry the consent notice, a resource in no patient compartment is served, the hospital's own
/// client reads everything, and every partner access is audited (AuditEvents in the store).
@Suite("Gateway partner reads under consent", .timeLimit(.minutes(3)))
struct PartnerReadTests {
    /// A finalized ledger state with no consent directives at all: every patient is NO_CONSENT.
    struct EmptyLedger: ConsentStateSource {
        func finalized() async throws -> FinalizedConsentState? {
            FinalizedConsentState(height: 7, time: 1_765_000_000_000, state: LedgerState(chainId: "careledger-test", participants: []))
        }
    }

    /// Sets a partner principal when `X-Test-Partner` is present (no header: an unauthenticated, local request).
    struct PartnerFromHeader: RouterMiddleware {
        typealias Context = GatewayRequestContext
        func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
            var context = context
            if request.headers.first(named: "x-test-partner") != nil {
                context.principal = Principal(clientId: "hospital-b", kind: .partner, participant: String(repeating: "ab", count: 32),
                                              identifiers: ["http://hl7.org/fhir/sid/us-npi|1234567893"], scopes: ["system/*.rs"])
            }
            return try await next(request, context)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func noConsentMeansNoPatientData(kind: StoreKind) async throws {
        try await kind.withStore { store, _ in
            let gate = ConsentGate(source: EmptyLedger(), store: store, consortiumKey: Array(repeating: 7, count: 32))
            let audit = AuditTrail(store: store, observer: "careledger-gateway-test")
            let dependencies = GatewayDependencies(store: store, consent: gate, audit: audit)
            let principal = GatewayRouteClosure { router, _ in router.add(middleware: PartnerFromHeader()) }
            let concerns: [any GatewayRoutes] = [HealthRoutes(), principal, ReadRoutes(), HistoryRoutes(), WriteRoutes(), EverythingRoutes()]
            let app = try GatewayApplication.make(configuration: GatewayConfiguration(host: "127.0.0.1", port: 0),
                                                  dependencies: dependencies, concerns: concerns)
            try await app.testLive { live in
                let client = RecordGateway.Client(client: live)
                let patient: [String: Any] = ["resourceType": "Patient", "id": "gw-consent",
                                              "identifier": [["system": "urn:oid:2.16.840.1.113883.19.5", "value": "MRN-1"]]]
                let observation: [String: Any] = ["resourceType": "Observation", "id": "gw-obs", "status": "final",
                                                  "code": ["text": "heart rate"], "subject": ["reference": "Patient/gw-consent"]]
                let organization: [String: Any] = ["resourceType": "Organization", "id": "gw-org", "name": "Hospital A"]
                #expect(try await client.write("PUT", "/Patient/gw-consent", json: patient).status == 201)
                #expect(try await client.write("PUT", "/Observation/gw-obs", json: observation).status == 201)
                #expect(try await client.write("PUT", "/Organization/gw-org", json: organization).status == 201)
                let partner = ["X-Test-Partner": "1"]

                let refused = try await client.get("/Patient/gw-consent", headers: partner)
                #expect(refused.status == 403)
                #expect(refused.issue?.code == "forbidden")
                #expect(try await client.get("/Observation/gw-obs/_history/1", headers: partner).status == 403)
                #expect(try await client.get("/Organization/gw-org", headers: partner).status == 200)
                // One record's history is refused like its read, not answered with a filtered (empty) history.
                let instanceHistory = try await client.get("/Observation/gw-obs/_history", headers: partner)
                #expect(instanceHistory.status == 403)
                #expect(instanceHistory.json["resourceType"] as? String == "OperationOutcome")
                #expect(instanceHistory.issue?.code == "forbidden")
                // A type or system history is filtered and ends with the notice, as the response.outcome of its last
                // entry (a history Bundle's entries have request and response, never search: bdl-2, bdl-3, bdl-4);
                // nothing in it names the refused patient or its Observation (the Organization, in no compartment, is
                // served).
                var notices: [String] = []
                for uri in ["/Observation/_history", "/_history"] {
                    let history = try await client.get(uri, headers: partner)
                    #expect(history.status == 200, "\(uri)")
                    let entries = history.json["entry"] as? [[String: Any]] ?? []
                    let outcomes = entries.compactMap { ($0["response"] as? [String: Any])?["outcome"] as? [String: Any] }
                    #expect(outcomes.count == 1 && (entries.last?["response"] as? [String: Any])?["outcome"] != nil, "\(uri)")
                    notices += outcomes.compactMap { ($0["issue"] as? [[String: Any]])?.first?["diagnostics"] as? String }
                    let served = entries.compactMap { $0["resource"] as? [String: Any] }.filter { $0["resourceType"] as? String != "OperationOutcome" }
                    let text = String(decoding: try JSONSerialization.data(withJSONObject: served), as: UTF8.self)
                    #expect(!text.contains("gw-consent") && !text.contains("gw-obs"), "\(uri): nothing about withheld data")
                    let types = served.compactMap { $0["resourceType"] as? String }
                    #expect(uri == "/_history" ? types.contains("Organization") : types.isEmpty, "\(uri): \(types)")
                }
                #expect(notices == [ConsentNotice.searchText, ConsentNotice.searchText])
                // A refused patient's $everything is 403, like the read of the Patient.
                let everything = try await client.get("/Patient/gw-consent/$everything", headers: partner)
                #expect(everything.status == 403)
                #expect(everything.issue?.code == "forbidden")

                // The hospital's own (local) reads are not decided by consent.
                #expect(try await client.get("/Patient/gw-consent").status == 200)
                // The compartment holds the patient, its Observation and the AuditEvents of the partner's accesses to it
                // (AuditEvent is in the patient compartment by its `patient` parameter).
                let local = try await client.get("/Patient/gw-consent/$everything")
                func types(_ mode: String) -> [String] {
                    (local.json["entry"] as? [[String: Any]] ?? []).filter { ($0["search"] as? [String: Any])?["mode"] as? String == mode }
                        .compactMap { ($0["resource"] as? [String: Any])?["resourceType"] as? String }
                }
                #expect(types("match").filter { $0 != "AuditEvent" } == ["Patient", "Observation"])
                // Then what those reference in no compartment: the Organization the partner read, which the AuditEvent of
                // that access names.
                #expect(types("include") == ["Organization"])
            }
            let audited = try await store.countsByType().first { $0.type == "AuditEvent" }?.count ?? 0
            #expect(audited == 7, "every partner access, granted or refused")
        }
    }
}
