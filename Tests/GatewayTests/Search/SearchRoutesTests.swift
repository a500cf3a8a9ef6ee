import FHIRCore
import Foundation
import Gateway
import Hummingbird
import HTTPTypes
import HummingbirdTesting
import NIOCore
import RecordStore
import Services
import TestSupport
import Testing

/// `GET /{type}?…` and `POST /{type}/_search` through the gateway's router, over a SQLite store.
@Suite("Gateway search routes", .timeLimit(.minutes(3)))
struct SearchRoutesTests {
    static let resources = [
        #"{"resourceType":"Patient","id":"p1","name":[{"family":"Chalmers","given":["Peter"]}],"gender":"male","birthDate":"1974-12-25"}"#,
        #"{"resourceType":"Patient","id":"p2","name":[{"family":"Müller","given":["Ana"]}],"gender":"female","birthDate":"1980"}"#,
        #"{"resourceType":"Patient","id":"p3","name":[{"family":"Jones","given":["Peterson"]}],"gender":"male","birthDate":"1990-06"}"#,
    ]

    /// Sets `context.principal` to the given caller, as the SMART middleware would.
    struct AsCaller: RouterMiddleware {
        let principal: Principal
        func handle(_ request: Request, context: GatewayRequestContext,
                    next: (Request, GatewayRequestContext) async throws -> Response) async throws -> Response {
            var context = context
            context.principal = principal
            return try await next(request, context)
        }
    }

    static func withGateway(caller: Principal? = nil, _ body: @escaping @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let folder = try Repository.temporaryDirectory("careledger-gateway-search")
        defer { try? FileManager.default.removeItem(at: folder) }
        let store = try await StoreLocation.open("sqlite:" + folder.appendingPathComponent("store.sqlite").path)
        _ = try await store.commit(try resources.map { try PreparedRecord(resource: JSONReader().read(Array($0.utf8))) }, batch: nil)
        var concerns: [any GatewayRoutes] = []
        if let caller { concerns.append(GatewayRouteClosure { router, _ in router.add(middleware: AsCaller(principal: caller)) }) }
        concerns.append(SearchRoutes())
        let router = GatewayApplication.router(dependencies: GatewayDependencies(store: store), concerns: concerns)
        let app = Application(router: router)
        do {
            try await app.test(.router, body)
            try await store.close()
        } catch {
            try? await store.close()
            throw error
        }
    }

    static func json(_ response: TestResponse) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any])
    }

    static func ids(_ bundle: [String: Any], mode: String = "match") -> [String] {
        (bundle["entry"] as? [[String: Any]] ?? []).compactMap { e in
            guard (e["search"] as? [String: Any])?["mode"] as? String == mode else { return nil }
            return (e["resource"] as? [String: Any])?["id"] as? String
        }
    }

    @Test func getSearchAnswersASearchsetBundle() async throws {
        try await Self.withGateway { client in
            try await client.execute(uri: "/Patient?name=pet&_total=accurate", method: .get) { response in
                #expect(response.status == .ok)
                let bundle = try Self.json(response)
                #expect(bundle["type"] as? String == "searchset")
                #expect(bundle["total"] as? Int == 2)
                #expect(Self.ids(bundle) == ["p1", "p3"])
                let links = bundle["link"] as? [[String: Any]] ?? []
                #expect(links.first?["relation"] as? String == "self")
                #expect((links.first?["url"] as? String)?.hasSuffix("/Patient?name=pet&_total=accurate") == true)
            }
        }
    }

    @Test func nextLinksPageThroughEveryMatch() async throws {
        try await Self.withGateway { client in
            var uri: String? = "/Patient?_sort=birthdate&_count=1"
            var seen: [String] = []
            var pages = 0
            while let current = uri, pages < 10 {
                try await client.execute(uri: current, method: .get) { response in
                    #expect(response.status == .ok)
                    let bundle = try Self.json(response)
                    seen += Self.ids(bundle)
                    let next = (bundle["link"] as? [[String: Any]] ?? []).first { $0["relation"] as? String == "next" }?["url"] as? String
                    // The link is absolute; the test client takes the path and query.
                    uri = next.flatMap { URLComponents(string: $0) }.map { $0.percentEncodedPath + "?" + ($0.percentEncodedQuery ?? "") }
                }
                pages += 1
            }
            #expect(seen == ["p1", "p2", "p3"])
            #expect(pages == 3)
        }
    }

    @Test func postSearchTakesAForm() async throws {
        try await Self.withGateway { client in
            try await client.execute(uri: "/Patient/_search?_sort=-_id", method: .post,
                                     headers: [.contentType: "application/x-www-form-urlencoded"],
                                     body: ByteBuffer(string: "gender=male&name=pe%74")) { response in
                #expect(response.status == .ok)
                let bundle = try Self.json(response)
                #expect(Self.ids(bundle) == ["p3", "p1"])
            }
            try await client.execute(uri: "/Patient/_search", method: .post, headers: [.contentType: "application/json"],
                                     body: ByteBuffer(string: "{}")) { response in
                #expect(response.status == .unsupportedMediaType)
            }
        }
    }

    @Test func strictHandlingRefusesUnknownParameters() async throws {
        try await Self.withGateway { client in
            let prefer = try #require(HTTPField.Name("Prefer"))
            try await client.execute(uri: "/Patient?colour=red", method: .get, headers: [prefer: "handling=strict"]) { response in
                #expect(response.status == .badRequest)
                let outcome = try Self.json(response)
                #expect(outcome["resourceType"] as? String == "OperationOutcome")
            }
            try await client.execute(uri: "/Patient?colour=red", method: .get) { response in
                #expect(response.status == .ok)
                let bundle = try Self.json(response)
                #expect(Self.ids(bundle).count == 3)
                let outcome = (bundle["entry"] as? [[String: Any]] ?? []).first { ($0["search"] as? [String: Any])?["mode"] as? String == "outcome" }
                #expect(outcome != nil)
            }
            try await client.execute(uri: "/Patient?birthdate=yesterday", method: .get) { response in
                #expect(response.status == .badRequest)
            }
        }
    }

    /// A partner's search is consent-filtered; a gateway without a consent gate refuses it rather than answer
    /// unfiltered.
    @Test func partnerWithoutConsentGateIsRefused() async throws {
        let partner = Principal(clientId: "b", kind: .partner, scopes: ["system/*.rs"])
        try await Self.withGateway(caller: partner) { client in
            try await client.execute(uri: "/Patient?name=pet", method: .get) { response in
                #expect(response.status == .forbidden)
            }
        }
        let outOfScope = Principal(clientId: "ehr", kind: .local, scopes: ["system/Observation.rs"])
        try await Self.withGateway(caller: outOfScope) { client in
            try await client.execute(uri: "/Patient?name=pet", method: .get) { response in
                #expect(response.status == .forbidden)
            }
        }
    }
}
