import FHIRCore
import Logging
public import Hummingbird
public import Services

/// Authenticates every request but the open ones: reads `Authorization: Bearer <token>`, checks the access token
/// (an HMAC, no lookup) and sets `context.principal`. No token, or one that is malformed, expired or not ours: 401
/// with `WWW-Authenticate: Bearer realm="careledger", error="invalid_token"` (RFC 6750 §3) and an OperationOutcome.
/// Scopes are checked by the routes (``GatewayRequestContext/require(_:type:)``), since only they know the
/// interaction and the type; a partner's request they refuse is audited here (``ScopeRefusalNote``), before the 403
/// leaves, as every partner access is.
public struct SMARTAuthMiddleware: RouterMiddleware {
    public typealias Context = GatewayRequestContext

    /// Paths served without a token: the CapabilityStatement, SMART discovery, the token endpoint, health.
    public static let defaultOpenPaths: Set<String> = ["/metadata", "/.well-known/smart-configuration", "/auth/token", "/health"]
    /// The challenge every 401 carries.
    public static let challenge = #"Bearer realm="careledger", error="invalid_token""#

    public let codec: AccessTokenCodec
    public let openPaths: Set<String>
    /// Where partner requests refused for their scopes are audited; nil: not audited.
    public let audit: AuditTrail?

    public init(codec: AccessTokenCodec, openPaths: Set<String> = SMARTAuthMiddleware.defaultOpenPaths, audit: AuditTrail? = nil) {
        self.codec = codec
        self.openPaths = openPaths
        self.audit = audit
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if openPaths.contains(request.uri.path) { return try await next(request, context) }
        guard let header = request.headers[.authorization] else {
            return Self.unauthorized("this request needs an access token (Authorization: Bearer …)")
        }
        // RFC 6750 §2.1: the scheme is case-insensitive.
        guard header.count > 7, header.prefix(7).lowercased() == "bearer " else {
            return Self.unauthorized("the Authorization header must be 'Bearer <access token>'")
        }
        let token = header.dropFirst(7).trimmingPrefix(while: { $0 == " " })
        var context = context
        do {
            context.principal = try await codec.principal(bearer: String(token))
        } catch let error as ServiceError {
            return Self.unauthorized(error.reason)
        }
        guard let audit, let principal = context.principal, principal.kind == .partner else {
            return try await next(request, context)
        }
        let note = ScopeRefusalNote()
        context.scopeRefusal = note
        do {
            return try await next(request, context)
        } catch {
            if let refused = note.noted {
                do {
                    try await audit.record(ScopeRefusalAudit.access(principal, request: request, interaction: refused.interaction, type: refused.type,
                                                                     reason: refused.reason, query: note.query))
                } catch let failure {
                    // Not audited means not answered: the refusal waits for its AuditEvent, as a served read does.
                    context.logger.error("an AuditEvent could not be stored: \(failure)")
                    throw ServiceError(.unavailable, "the access could not be audited, so it is not answered")
                }
            }
            throw error
        }
    }

    /// A 401 with the challenge and an OperationOutcome (`login`) saying why.
    public static func unauthorized(_ reason: String) -> Response {
        let outcome = ServiceError(.unauthorized, reason).operationOutcome
        let body = JSONWriter(style: .compact).write(.object(outcome.resource))
        let headers: HTTPFields = [.contentType: "application/fhir+json", .wwwAuthenticate: challenge]
        return Response(status: .unauthorized, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }
}
