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

/// A partner over real loopback HTTP, its consent decided on a real chain (mira consents to partner B for treatment,
/// noah has no consent): AuditEvents are never served to it on any path, its `$everything` is paged past withheld
/// resources, and its type and system history Bundles are valid history Bundles (bdl-1…bdl-8, CareLedger's
/// validator, fhirkit-rs) that still carry the consent notice.
@Suite("Gateway: partners get no AuditEvents, paged $everything, valid history Bundles", .timeLimit(.minutes(4)))
struct PartnerLocalOnlyAndPagingTests {
    typealias Fixture = PartnerConsentRoutesTests

    /// A partner principal when `X-Test-Partner` is present; otherwise a local request (no principal).
    struct PartnerFromHeader: RouterMiddleware {
        typealias Context = GatewayRequestContext
        func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
            var context = context
            if request.headers.first(named: "x-test-partner") != nil {
                context.principal = Principal(clientId: "partner-b", kind: .partner, identifiers: [Fixture.partnerIdentifier],
                                              scopes: ["system/*.cruds"])
            }
            return try await next(request, context)
        }
    }

    static let partner = ["X-Test-Partner": "1"]

    /// An AuditEvent of another access, in no compartment or in mira's (BALP: the patient as an entity).
    static func auditEvent(_ id: String, patient: String?) throws -> Resource {
        let entity = patient.map { #", "entity": [{"what": {"reference": "Patient/\#($0)"}}]"# } ?? ""
        return try Fixture.resource("""
            {"resourceType": "AuditEvent", "id": "\(id)", "type": {"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "110112"},
             "recorded": "2026-12-07T10:00:00Z", "agent": [{"requestor": true, "who": {"display": "partner hospital C"}}],
             "source": {"observer": {"display": "careledger-gateway"}}\(entity)}
            """)
    }

    static func withGateway(_ body: @escaping @Sendable (RecordGateway.Client, any RecordStore) async throws -> Void) async throws {
        let folder = try Repository.temporaryDirectory("careledger-gateway-local-only")
        defer { try? FileManager.default.removeItem(at: folder) }
        let key = try SigningKey(seed: [UInt8](repeating: 19, count: 32))
        let genesis = Genesis(chainId: "careledger-gateway-local-only", genesisTime: Date(timeIntervalSince1970: 1_700_000_000),
                              validators: [Genesis.Validator(name: "Hospital A", publicKey: key.publicKey, power: 10)])
        let chain = try await Chain(genesis: genesis, blocks: try BlockStore(path: folder.appendingPathComponent("blocks.log").path, writable: true), key: key)
        let directive = try ConsentMapping.directive(from: try Fixture.consent("mira"), consortiumKey: Fixture.consortiumKey,
                                                     consentCommitment: [UInt8](repeating: 1, count: 32), issuedFallback: 0)
        _ = try await chain.submit(.consentDirective(directive))
        try await chain.produceBlock(now: 1_704_067_200_000)
        try await chain.produceBlock(now: 1_704_067_200_001)

        let store = try await StoreLocation.open("sqlite:" + folder.appendingPathComponent("store.sqlite").path)
        // o4 is mira's and noah's (performer): noah has no consent, so a partner never gets it.
        let shared = try Fixture.resource(#"{"resourceType": "Observation", "id": "o4", "status": "final", "code": {"text": "pulse"}, "subject": {"reference": "Patient/mira"}, "performer": [{"reference": "Patient/noah"}]}"#)
        let records = try [Fixture.patient("mira"), Fixture.patient("noah"), Fixture.observation("o1", "mira"), Fixture.observation("o2", "noah"),
                           Fixture.observation("o3", "mira"), shared, Fixture.resource(#"{"resourceType": "Organization", "id": "org", "name": "Riverside"}"#),
                           auditEvent("ae-other", patient: nil), auditEvent("ae-mira", patient: "mira")]
        _ = try await store.commit(try records.map { try PreparedRecord(resource: $0) }, batch: nil)
        let gate = ConsentGate(source: ChainConsentState(chain: chain), store: store, consortiumKey: Fixture.consortiumKey)
        let dependencies = GatewayDependencies(store: store, consent: gate, audit: AuditTrail(store: store, observer: "test gateway"))
        let concerns: [any GatewayRoutes] = [
            GatewayRouteClosure { router, _ in router.add(middleware: PartnerFromHeader()) },
            SearchRoutes(consent: gate), ReadRoutes(), HistoryRoutes(), WriteRoutes(), EverythingRoutes(),
        ]
        let app = try GatewayApplication.make(configuration: GatewayConfiguration(host: "127.0.0.1", port: 0), dependencies: dependencies,
                                              concerns: concerns)
        do {
            try await app.testLive { live in try await body(RecordGateway.Client(client: live), store) }
            try await store.close()
        } catch {
            try? await store.close()
            throw error
        }
    }

    /// The resource types of a Bundle's entries.
    static func types(_ reply: RecordGateway.Reply) -> [String] {
        (reply.json["entry"] as? [[String: Any]] ?? []).compactMap { ($0["resource"] as? [String: Any])?["resourceType"] as? String }
    }

    @Test func aPartnerIsRefusedAuditEventsOnEveryPathAndFindsNoneInItsBundles() async throws {
        try await Self.withGateway { client, _ in
            // Direct interactions on AuditEvent: 403 with an OperationOutcome, in or out of a permitted compartment.
            for (method, uri) in [("GET", "/AuditEvent/ae-other"), ("GET", "/AuditEvent/ae-mira"), ("GET", "/AuditEvent/ae-other/_history/1"),
                                  ("GET", "/AuditEvent/ae-mira/_history"), ("GET", "/AuditEvent/_history"), ("GET", "/AuditEvent"),
                                  ("GET", "/AuditEvent?patient=Patient/mira"), ("DELETE", "/AuditEvent/ae-other")] {
                let reply = try await client.send(method, uri, headers: Self.partner)
                #expect(reply.status == 403, "\(method) \(uri)")
                #expect(reply.issue?.code == "forbidden", "\(method) \(uri)")
            }
            let posted = try await client.send("POST", "/AuditEvent/_search", headers: Self.partner.merging(["Content-Type": "application/x-www-form-urlencoded"]) { $1 },
                                               body: Array("patient=Patient/mira".utf8))
            #expect(posted.status == 403)
            let forged = try await client.write("PUT", "/AuditEvent/ae-forged", json: ["resourceType": "AuditEvent", "id": "ae-forged"], headers: Self.partner)
            #expect(forged.status == 403, "a partner cannot write into the hospital's audit trail either")

            // Lists: a permitted patient's revinclude, the system history and $everything hold no AuditEvent,
            // though mira's compartment has one (and the partner's own accesses above added more).
            let revinclude = try await client.get("/Patient?_id=mira&_revinclude=AuditEvent:patient", headers: Self.partner)
            #expect(revinclude.status == 200)
            #expect(Self.types(revinclude).contains("Patient") && !Self.types(revinclude).contains("AuditEvent"), "\(Self.types(revinclude))")
            let history = try await client.get("/_history?_count=1000", headers: Self.partner)
            #expect(history.status == 200)
            #expect(!Self.types(history).contains("AuditEvent") && Self.types(history).contains("Organization"), "\(Self.types(history))")
            let everything = try await client.get("/Patient/mira/$everything?_count=1000", headers: Self.partner)
            #expect(everything.status == 200)
            #expect(Self.types(everything).filter { $0 != "OperationOutcome" } == ["Patient", "Observation", "Observation"])

            // The hospital's own clients read them as any record.
            #expect(try await client.get("/AuditEvent/ae-other").status == 200)
            let local = try await client.get("/Patient/mira/$everything?_count=1000")
            #expect(Self.types(local).contains("AuditEvent"))
            #expect(!Self.types(try await client.get("/AuditEvent?_count=1000")).isEmpty)
        }
    }

    @Test func aPartnerCannotReachAuditEventsThroughAChain() async throws {
        try await Self.withGateway { client, store in
            // A Provenance in no patient's compartment (a partner needs no consent for it) that targets an AuditEvent.
            let provenance = try Fixture.resource("""
                {"resourceType": "Provenance", "id": "prov", "recorded": "2026-12-07T10:00:00Z",
                 "target": [{"reference": "AuditEvent/ae-other"}], "agent": [{"who": {"display": "careledger-gateway"}}]}
                """)
            _ = try await store.commit([try PreparedRecord(resource: provenance)], batch: nil)
            // The hospital's own client finds it through the chain, typed or not.
            #expect(Self.types(try await client.get("/Provenance?target:AuditEvent._id=ae-other")) == ["Provenance"])
            #expect(Self.types(try await client.get("/Provenance?target._id=ae-other")) == ["Provenance"])
            // A partner naming AuditEvent in the chain is refused as a search of AuditEvents is.
            let typed = try await client.get("/Provenance?target:AuditEvent._id=ae-other", headers: Self.partner)
            #expect(typed.status == 403)
            #expect(typed.issue?.code == "forbidden")
            // An untyped chain does not look into AuditEvents for a partner; the Provenance itself is still served.
            let untyped = try await client.get("/Provenance?target._id=ae-other", headers: Self.partner)
            #expect(untyped.status == 200)
            #expect(!Self.types(untyped).contains("Provenance"), "\(Self.types(untyped))")
            #expect(Self.types(try await client.get("/Provenance?_id=prov", headers: Self.partner)).contains("Provenance"))
        }
    }

    @Test func aPartnersEverythingIsPagedPastWithheldResourcesAndAudited() async throws {
        try await Self.withGateway { client, store in
            let before = try await PartnerConsentRoutesTests.auditEvents(store)
            var pages: [[String]] = []
            var uri: String? = "/Patient/mira/$everything?_count=1"
            while let current = uri, pages.count < 10 {
                let reply = try await client.get(current, headers: Self.partner)
                try #require(reply.status == 200, "\(current): \(reply.text.prefix(300))")
                let entries = reply.json["entry"] as? [[String: Any]] ?? []
                let outcomes = entries.filter { ($0["search"] as? [String: Any])?["mode"] as? String == "outcome" }
                #expect(outcomes.count == 1, "every page carries the consent notice")
                #expect(reply.json["total"] == nil, "a paged answer has no total")
                pages.append(EverythingPagingTests.keys(reply).filter { !$0.hasPrefix("OperationOutcome/") })
                uri = EverythingPagingTests.next(reply)
            }
            // o4 (noah's too) is withheld; the last page does not link on to it.
            #expect(pages == [["Patient/mira"], ["Observation/o1"], ["Observation/o3"]])
            #expect(try await PartnerConsentRoutesTests.auditEvents(store) == before + 3, "each page audited")
            let whole = try await client.get("/Patient/mira/$everything", headers: Self.partner)
            #expect(whole.json["total"] as? Int == 3, "one page: total counts only what is returned")
            // Locally the compartment has o4 and mira's AuditEvents.
            let local = EverythingPagingTests.keys(try await client.get("/Patient/mira/$everything?_count=1000&_type=Observation"))
            #expect(local == ["Observation/o1", "Observation/o3", "Observation/o4"])
            // A refused patient's $everything is 403 on its first page.
            #expect(try await client.get("/Patient/noah/$everything", headers: Self.partner).status == 403)
        }
    }

    @Test func aPartnersHistoryPagesAreFilledPastWithheldVersions() async throws {
        try await Self.withGateway { client, _ in
            // Follows next links as the partner; every page's `Type/id`s (the notice entry has no resource).
            func pages(_ first: String) async throws -> [[String]] {
                var out: [[String]] = []
                var uri: String? = first
                while let current = uri, out.count < 20 {
                    let reply = try await client.get(current, headers: Self.partner)
                    try #require(reply.status == 200, "\(current)")
                    #expect(BundleRules.violations(reply.json).isEmpty)
                    let entries = reply.json["entry"] as? [[String: Any]] ?? []
                    #expect(entries.last.flatMap { ($0["response"] as? [String: Any])?["outcome"] } != nil, "every page carries the notice")
                    out.append(EverythingPagingTests.keys(reply))
                    uri = EverythingPagingTests.next(reply)
                }
                return out
            }
            // Newest first: o4 and o2 (noah's) are withheld; no page is empty or short but the last.
            #expect(try await pages("/Observation/_history?_count=1") == [["Observation/o3"], ["Observation/o1"]])
            let system = try await pages("/_history?_count=2")
            #expect(system.dropLast().allSatisfy { $0.count == 2 } && system.last?.isEmpty == false, "\(system)")
            #expect(Set(system.flatMap { $0 }) == ["Patient/mira", "Observation/o1", "Observation/o3", "Organization/org"], "\(system)")
        }
    }

    /// The history Bundles of the gateway: system, type and instance history, for the partner and locally.
    static func historyBundles(_ client: RecordGateway.Client) async throws -> [(name: String, reply: RecordGateway.Reply)] {
        var out: [(name: String, reply: RecordGateway.Reply)] = []
        for uri in ["/_history", "/Observation/_history", "/Patient/mira/_history"] {
            for headers in [Self.partner, [:]] {
                let reply = try await client.get(uri, headers: headers)
                try #require(reply.status == 200, "\(uri)")
                out.append(("\(uri) \(headers.isEmpty ? "local" : "partner")", reply))
            }
        }
        return out
    }

    @Test func historyBundlesAreValidAndAPartnersCarryTheNotice() async throws {
        try await Self.withGateway { client, _ in
            for (name, reply) in try await Self.historyBundles(client) {
                #expect(reply.json["type"] as? String == "history")
                #expect(BundleRules.violations(reply.json).isEmpty, "\(name): \(BundleRules.violations(reply.json))")
                let resource = try FHIRDocument.read(reply.body).resource
                let errors = Validator().validate(resource).filter { $0.severity == "error" }
                #expect(errors.isEmpty, "\(name): \(errors.map(\.diagnostics))")
                // The notice: on a partner's type and system history, as the response.outcome of a GET entry, last.
                let entries = reply.json["entry"] as? [[String: Any]] ?? []
                let notices = entries.compactMap { (($0["response"] as? [String: Any])?["outcome"] as? [String: Any]) }
                let expected = name.hasSuffix("partner") && !name.hasPrefix("/Patient/")
                #expect(notices.count == (expected ? 1 : 0), "\(name)")
                guard expected else { continue }
                let last = try #require(entries.last)
                let url = String(name.split(separator: " ")[0].dropFirst())
                #expect((last["request"] as? [String: Any])?["method"] as? String == "GET", "\(name)")
                #expect((last["request"] as? [String: Any])?["url"] as? String == url, "\(name)")
                #expect(((notices.first?["issue"] as? [[String: Any]])?.first?["diagnostics"] as? String) == ConsentNotice.searchText)
                #expect(last["resource"] == nil && last["search"] == nil, "\(name)")
            }
            // The notice entry is written in XML too (an OperationOutcome as the entry's response outcome).
            let xml = try await client.get("/Observation/_history?_format=xml", headers: Self.partner)
            #expect(xml.status == 200)
            #expect(xml.text.contains("<outcome><OperationOutcome>"), "\(xml.text.suffix(600))")
        }
    }

    @Test(.enabled(if: FHIRKitOracle.isAvailable, "fhirkit-rs is not installed (pip install fhirkit-rs)"))
    func historyBundlesPassFhirkit() async throws {
        try await Self.withGateway { client, _ in
            let bundles = try await Self.historyBundles(client)
            let verdicts = try FHIRKitOracle.errors(bundles.map(\.reply.json))
            try #require(verdicts.count == bundles.count)
            for (bundle, errors) in zip(bundles, verdicts) { #expect(errors == [], "fhirkit-rs on \(bundle.name)") }
        }
    }
}
