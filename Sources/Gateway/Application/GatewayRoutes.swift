public import Hummingbird

/// One concern of the gateway (health, metadata, SMART, search, records, …): the routes and middleware it adds to
/// the router.
///
/// Order matters, since Hummingbird applies a middleware to the routes added after it: the open endpoints come
/// first, then the concern that adds the authentication middleware, then the protected FHIR interactions
/// (``GatewayApplication/concerns``).
public protocol GatewayRoutes: Sendable {
    func add(to router: Router<GatewayRequestContext>, dependencies: GatewayDependencies)
}

/// A concern given as a closure: for a concern that needs its own values (a token issuer, a consent gate) built by
/// whoever starts the gateway.
public struct GatewayRouteClosure: GatewayRoutes {
    private let body: @Sendable (Router<GatewayRequestContext>, GatewayDependencies) -> Void

    public init(_ body: @escaping @Sendable (Router<GatewayRequestContext>, GatewayDependencies) -> Void) {
        self.body = body
    }

    public func add(to router: Router<GatewayRequestContext>, dependencies: GatewayDependencies) {
        body(router, dependencies)
    }
}
