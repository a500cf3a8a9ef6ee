public import JWTKit

/// What an access token says about its holder: enough to rebuild the ``Principal`` on every request without a
/// lookup. Names are short since the token travels with every request.
public struct AccessTokenClaims: JWTPayload, Equatable {
    /// The client id.
    public var cid: String
    /// `partner` or `local`.
    public var knd: String
    /// The partner's participant (hex public key).
    public var par: String?
    /// The participant's organization identifiers (`system|value`).
    public var ids: [String]
    /// The granted scopes, space-separated (v2 form).
    public var scp: String
    /// The purpose of use from the client assertion.
    public var pou: String?
    /// Expiry, Unix seconds.
    public var exp: Int64
    /// A unique id for this token (for audit).
    public var jti: String

    public init(cid: String, knd: String, par: String?, ids: [String], scp: String, pou: String?, exp: Int64, jti: String) {
        self.cid = cid
        self.knd = knd
        self.par = par
        self.ids = ids
        self.scp = scp
        self.pou = pou
        self.exp = exp
        self.jti = jti
    }

    /// ``AccessTokenCodec`` checks the expiry against its injected clock.
    public func verify(using algorithm: some JWTAlgorithm) async throws {}

    /// The principal the token stands for; nil when the kind is unknown.
    public var principal: Principal? {
        let kind: Principal.Kind
        switch knd {
        case "partner": kind = .partner
        case "local": kind = .local
        default: return nil
        }
        return Principal(clientId: cid, kind: kind, participant: par, identifiers: ids,
                         scopes: scp.split(separator: " ").map(String.init), purposeOfUse: pou)
    }
}
