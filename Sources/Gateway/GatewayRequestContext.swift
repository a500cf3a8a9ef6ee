public import Hummingbird
public import Services

/// What the gateway knows about one request while it is handled: Hummingbird's core context plus the caller
/// the SMART middleware authenticated.
public struct GatewayRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The authenticated caller; nil on the open endpoints (`/metadata`, `/.well-known/smart-configuration`,
    /// the token endpoint, `/health`).
    public var principal: Principal?
    /// Where a scope refusal of a partner's request is noted for the authentication middleware to audit; set by
    /// ``SMARTAuthMiddleware`` for partner requests when the gateway audits.
    public var scopeRefusal: ScopeRefusalNote?

    public init(source: Source) {
        self.coreContext = .init(source: source)
        self.principal = nil
        self.scopeRefusal = nil
    }

    /// FHIR bodies (transaction Bundles, imports) are larger than Hummingbird's 2 MiB default.
    public var maxUploadSize: Int { 64 << 20 }
}
