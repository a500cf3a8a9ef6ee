import FHIRCore
import Foundation
import Gateway
import Hummingbird
import HummingbirdTesting
import Ledger
import Node
import RecordStore
import Services
import TestSupport
import Testing

/// A partner's reads and searches through the gateway's routes, with the consent decided on a real chain and every
/// access audited into the store.
@Suite("Gateway: consent on partner reads and searches, audited", .timeLimit(.minutes(3)))
struct PartnerConsentRoutesTests {
    static let consortiumKey = [UInt8](repeating: 6, count: 32)
    static let partnerIdentifier = "http://example.org/ids|partner-hospital-b"

    struct AsCaller: RouterMiddleware {
        let principal: Principal
        func handle(_ request: Request, context: GatewayRequestContext,
                    next: (Request, GatewayRequestContext) async throws -> Response) async throws -> Response {
            var context = context
            context.principal = principal
            return try await next(request, context)
        }
    }

    static func resource(_ json: String) throws -> Resource { try FHIRDocument.read(Array(json.utf8)).resource }

    static func patient(_ id: String) throws -> Resource {
        try resource(#"{"resourceType": "Patient", "id": "\#(id)", "identifier": [{"system": "urn:mrn", "value": "\#(id)"}]}"#)
    }

    static func observation(_ id: String, _ patient: String) throws -> Resource {
        try resource(#"{"resourceType": "Observation", "id": "\#(id)", "status": "final", "code": {"text": "pulse"}, "subject": {"reference": "Patient/\#(patient)"}}"#)
    }

    /// A Consent of `urn:mrn|<patient>` permitting partner B for treatment.
    static func consent(_ patient: String) throws -> Resource {
        try resource("""
            {"resourceType": "Consent", "id": "consent-\(patient)", "status": "active",
             "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]},
             "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
             "patient": {"identifier": {"system": "urn:mrn", "value": "\(patient)"}}, "dateTime": "2024-01-01T00:00:00Z",
             "provision": {"type": "permit", "actor": [{"reference": {"identifier": {"system": "http://example.org/ids", "value": "partner-hospital-b"}}}],
                           "purpose": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "TREAT"}]}}
            """)
    }

    static func withGateway(_ body: @escaping @Sendable (any TestClientProtocol, any RecordStore) async throws -> Void) async throws {
        let folder = try Repository.temporaryDirectory("careledger-gateway-consent")
        defer { try? FileManager.default.removeItem(at: folder) }
        let key = try SigningKey(seed: [UInt8](repeating: 17, count: 32))
        let genesis = Genesis(chainId: "careledger-gateway-consent", genesisTime: Date(timeIntervalSince1970: 1_700_000_000),
                              validators: [Genesis.Validator(name: "Hospital A", publicKey: key.publicKey, power: 10)])
        let chain = try await Chain(genesis: genesis, blocks: try BlockStore(path: folder.appendingPathComponent("blocks.log").path, writable: true), key: key)
        let directive = try ConsentMapping.directive(from: try consent("mira"), consortiumKey: consortiumKey,
                                                     consentCommitment: [UInt8](repeating: 1, count: 32), issuedFallback: 0)
        _ = try await chain.submit(.consentDirective(directive))
        try await chain.produceBlock(now: 1_704_067_200_000)
        try await chain.produceBlock(now: 1_704_067_200_001)

        let store = try await StoreLocation.open("sqlite:" + folder.appendingPathComponent("store.sqlite").path)
        let records = try [patient("mira"), patient("noah"), observation("o1", "mira"), observation("o2", "noah"), observation("o3", "mira"),
                           resource(#"{"resourceType": "Organization", "id": "org", "name": "Riverside"}"#)]
        _ = try await store.commit(try records.map { try PreparedRecord(resource: $0) }, batch: nil)
        let gate = ConsentGate(source: ChainConsentState(chain: chain), store: store, consortiumKey: consortiumKey)
        let dependencies = GatewayDependencies(store: store, consent: gate, audit: AuditTrail(store: store, observer: "test gateway"))
        let partner = Principal(clientId: "partner-b", kind: .partner, identifiers: [partnerIdentifier], scopes: ["system/*.rs"])
        let router = GatewayApplication.router(dependencies: dependencies, concerns: [
            GatewayRouteClosure { router, _ in router.add(middleware: AsCaller(principal: partner)) },
            SearchRoutes(consent: gate), ReadRoutes(),
        ])
        do {
            try await Application(router: router).test(.router) { client in try await body(client, store) }
            try await store.close()
        } catch {
            try? await store.close()
            throw error
        }
    }

    static func json(_ response: TestResponse) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any])
    }

    static func auditEvents(_ store: any RecordStore) async throws -> Int {
        try await store.countsByType().first { $0.type == "AuditEvent" }?.count ?? 0
    }

    @Test func aPartnerReadsWhatConsentPermitsAndIsRefusedTheRestEachAccessAudited() async throws {
        try await Self.withGateway { client, store in
            try await client.execute(uri: "/Observation/o1", method: .get) { response in
                #expect(response.status == .ok)
            }
            #expect(try await Self.auditEvents(store) == 1, "audited before the response left")
            try await client.execute(uri: "/Observation/o2", method: .get) { response in
                #expect(response.status == .forbidden)
                let outcome = try Self.json(response)
                #expect(outcome["resourceType"] as? String == "OperationOutcome")
                #expect(((outcome["issue"] as? [[String: Any]])?.first?["code"] as? String) == "forbidden")
            }
            #expect(try await Self.auditEvents(store) == 2, "a refusal is audited too")
            try await client.execute(uri: "/Organization/org", method: .get) { response in
                #expect(response.status == .ok, "no consent needed outside every patient compartment")
            }
        }
    }

    @Test func aPartnerSearchLeavesWithheldResourcesOutAndCarriesTheNotice() async throws {
        try await Self.withGateway { client, store in
            var notices: [String] = []
            for uri in ["/Observation?_sort=_id", "/Observation?_id=o2"] {
                try await client.execute(uri: uri, method: .get) { response in
                    #expect(response.status == .ok)
                    let bundle = try Self.json(response)
                    let entries = bundle["entry"] as? [[String: Any]] ?? []
                    let matches = entries.filter { ($0["search"] as? [String: Any])?["mode"] as? String == "match" }
                        .compactMap { ($0["resource"] as? [String: Any])?["id"] as? String }
                    let outcome = entries.filter { ($0["search"] as? [String: Any])?["mode"] as? String == "outcome" }
                    #expect(outcome.count == 1, "\(uri)")
                    notices += outcome.compactMap { (($0["resource"] as? [String: Any])?["issue"] as? [[String: Any]])?.first?["diagnostics"] as? String }
                    #expect(bundle["total"] as? Int == matches.count, "\(uri): total counts only what is returned")
                    #expect(matches == (uri.contains("o2") ? [] : ["o1", "o3"]), "\(uri)")
                }
            }
            #expect(notices.count == 2 && Set(notices).count == 1, "the same notice whether or not anything was withheld")
            #expect(try await Self.auditEvents(store) == 2)
        }
    }
}
