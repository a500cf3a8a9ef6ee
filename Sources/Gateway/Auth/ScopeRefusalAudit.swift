public import Hummingbird
public import Services
import Synchronization

/// Where a route notes that a partner's request was refused for its scopes (``GatewayRequestContext/require(_:type:)``),
/// so that the authentication middleware, which runs around the route, audits the refusal before the 403 leaves
/// (issue 17, Deliver 7: every partner access, granted or refused, is audited). The context is copied into each
/// route; this reference is what the copies share.
public final class ScopeRefusalNote: Sendable {
    private let refusal = Mutex<(interaction: AccessInteraction, type: String, reason: String?)?>(nil)
    private let givenQuery = Mutex<String?>(nil)

    public init() {}

    /// The request's query when it is not only the URL's (a POST operation's body parameters in their GET form), for
    /// the AuditEvent of a refusal.
    func asked(query: String?) {
        givenQuery.withLock { $0 = query }
    }

    /// The query ``asked(query:)`` gave, if any.
    var query: String? { givenQuery.withLock { $0 } }

    /// Notes the first refusal of the request (a route may check several scopes; the first one refused ends it);
    /// `reason` when it is not the token's scopes (a local-only type).
    func note(_ interaction: AccessInteraction, type: String, reason: String? = nil) {
        refusal.withLock { if $0 == nil { $0 = (interaction, type, reason) } }
    }

    /// The refusal noted, if any.
    var noted: (interaction: AccessInteraction, type: String, reason: String?)? {
        refusal.withLock { $0 }
    }
}

/// The AuditEvent of a partner's request refused for its scopes (IHE BALP, outcome 4 minor failure): no consent was
/// decided, so it names the client, its participant and identifiers, the purpose the request carried, what was
/// asked and why it was refused.
enum ScopeRefusalAudit {
    /// - Parameter query: the query as asked, when the URL's is not all of it (``ScopeRefusalNote/asked(query:)``).
    static func access(_ principal: Principal, request: Request, interaction: AccessInteraction, type: String,
                       reason: String? = nil, query: String? = nil) -> AuditedAccess {
        let header = request.headers.first(named: "x-purpose-of-use")
        let purpose = (try? ConsentTerms.of(principal, purposeHeader: header))??.purpose
            ?? principal.purposeOfUse ?? header ?? ConsentTerms.defaultPurpose
        let what = type == "*" ? "every resource type" : type
        return AuditedAccess(interaction: auditInteraction(interaction, type: type), clientId: principal.clientId,
                             participant: principal.participant, identifiers: principal.identifiers,
                             resources: [String(request.uri.path.prefix(200))], query: (query ?? request.uri.query.map { String($0) }).map { String($0.prefix(1000)) },
                             purpose: purpose, outcome: .minorFailure,
                             outcomeDescription: reason ?? "refused by the access token's scopes: \(interaction.rawValue) on \(what) is not granted")
    }

    /// The FHIR interaction the AuditEvent names for a scope check.
    static func auditInteraction(_ interaction: AccessInteraction, type: String) -> AuditedAccess.Interaction {
        switch interaction {
        case .create: .create
        case .read: .read
        case .vread: .vread
        case .historyInstance: .historyInstance
        case .update: .update
        case .patch: .patch
        case .delete: .delete
        case .search: type == "*" ? .searchSystem : .searchType
        case .historyType: .historyType
        case .historySystem: .historySystem
        }
    }
}
