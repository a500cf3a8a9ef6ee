import Foundation
import Gateway
import Hummingbird
import HummingbirdTesting
import RecordStore
import Services
import TestSupport
import Testing

/// Each record route asks the caller's SMART scopes for its own interaction and type (read `r`, history across
/// resources `s`, create `c`, update `u` and `c`, patch `u`, delete `d`, a Bundle each entry), over real loopback
/// HTTP. The principal is set by a stand-in for the authentication middleware (the token path is SMARTAuthTests');
/// what is checked here is the route's own mapping to ``AccessInteraction``.
@Suite("Gateway record routes and SMART scopes", .timeLimit(.minutes(3)))
struct RecordScopeTests {
    /// Sets a local client principal with the scopes of `X-Test-Scopes` (none: no principal).
    struct ScopesFromHeader: RouterMiddleware {
        typealias Context = GatewayRequestContext
        func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
            var context = context
            if let scopes = request.headers.first(named: "x-test-scopes") {
                context.principal = Principal(clientId: "ehr", kind: .local, scopes: scopes.split(separator: " ").map(String.init))
            }
            return try await next(request, context)
        }
    }

    @Test func eachInteractionNeedsItsOwnPermission() async throws {
        try await StoreKind.sqlite.withStore { store, _ in
            let principal = GatewayRouteClosure { router, _ in router.add(middleware: ScopesFromHeader()) }
            let concerns: [any GatewayRoutes] = [HealthRoutes(), MetadataRoutes(), principal, ReadRoutes(), HistoryRoutes(),
                                                 WriteRoutes(), BundleRoutes(), EverythingRoutes()]
            let app = try GatewayApplication.make(configuration: GatewayConfiguration(host: "127.0.0.1", port: 0),
                                                  dependencies: GatewayDependencies(store: store), concerns: concerns)
            try await app.testLive { live in
                let client = RecordGateway.Client(client: live)
                func call(_ method: String, _ uri: String, scopes: String, json: [String: Any]? = nil,
                          contentType: String = "application/fhir+json") async throws -> RecordGateway.Reply {
                    let body = try json.map { Array(try JSONSerialization.data(withJSONObject: $0)) }
                    return try await client.send(method, uri, headers: ["X-Test-Scopes": scopes, "Content-Type": contentType], body: body)
                }
                let patient: [String: Any] = ["resourceType": "Patient", "id": "gw-scope", "gender": "female"]
                let readOnly = "system/Patient.rs"
                let put = try await call("PUT", "/Patient/gw-scope", scopes: readOnly, json: patient)
                #expect(put.status == 403)
                #expect(put.issue?.code == "forbidden")
                #expect(try await call("PUT", "/Patient/gw-scope", scopes: "system/Patient.u", json: patient).status == 403)
                #expect(try await call("PUT", "/Patient/gw-scope", scopes: "system/Patient.cu", json: patient).status == 201)

                #expect(try await call("GET", "/Patient/gw-scope", scopes: readOnly).status == 200)
                #expect(try await call("GET", "/Patient/gw-scope", scopes: "system/Observation.rs").status == 403)
                #expect(try await call("GET", "/Patient/gw-scope/_history/1", scopes: "system/Patient.r").status == 200)
                #expect(try await call("GET", "/Patient/gw-scope/_history", scopes: "system/Patient.r").status == 200)
                #expect(try await call("GET", "/Patient/_history", scopes: "system/Patient.r").status == 403)
                #expect(try await call("GET", "/Patient/_history", scopes: "system/Patient.s").status == 200)
                #expect(try await call("GET", "/_history", scopes: "system/Patient.rs").status == 403)
                #expect(try await call("GET", "/_history", scopes: "system/*.s").status == 200)

                let patch = try await client.send("PATCH", "/Patient/gw-scope",
                                                  headers: ["X-Test-Scopes": "system/Patient.rs", "Content-Type": "application/json-patch+json"],
                                                  body: Array(#"[{"op":"replace","path":"/gender","value":"male"}]"#.utf8))
                #expect(patch.status == 403)
                #expect(try await call("DELETE", "/Patient/gw-scope", scopes: "system/Patient.cruds".replacingOccurrences(of: "d", with: "")).status == 403)
                #expect(try await call("DELETE", "/Patient/gw-scope", scopes: "system/Patient.d").status == 204)

                let bundle: [String: Any] = [
                    "resourceType": "Bundle", "type": "batch",
                    "entry": [["resource": ["resourceType": "Observation", "status": "final", "code": ["text": "x"]],
                               "request": ["method": "POST", "url": "Observation"]]],
                ]
                #expect(try await call("POST", "/", scopes: "system/Patient.cruds", json: bundle).status == 403)
                #expect(try await call("POST", "/", scopes: "system/Observation.c", json: bundle).status == 200)
                // v1 scopes read the same way.
                #expect(try await call("GET", "/_history", scopes: "system/*.read").status == 200)
            }
        }
    }
}
