public import Hummingbird
import Services

/// `GET /metadata`: the CapabilityStatement (FHIR R4 http.html §3.1.0.12). Open: a client reads it before it has
/// a token, to find the token endpoint.
public struct MetadataRoutes: GatewayRoutes {
    /// When what the statement describes last changed (CapabilityStatement.date).
    public static let statementDate = "2026-12-07"

    public var builder: CapabilityStatementBuilder

    public init(builder: CapabilityStatementBuilder = CapabilityStatementBuilder()) {
        self.builder = builder
    }

    public func add(to router: Router<GatewayRequestContext>, dependencies: GatewayDependencies) {
        let builder = self.builder
        router.get("/metadata") { request, _ -> Response in
            let negotiation = try FHIRNegotiation(request)
            // The token URL client assertions must name as `aud`: never taken from the request (SMARTAuthRoutes).
            let tokenURL = dependencies.tokenURL
            guard let statement = builder.statement(baseURL: dependencies.baseURL(for: request), tokenURL: tokenURL,
                                                    date: Self.statementDate) else {
                throw ServiceError(.internal, "the CapabilityStatement could not be built")
            }
            return try FHIRRepresentation.response(resource: statement, negotiation: negotiation)
        }
    }
}
