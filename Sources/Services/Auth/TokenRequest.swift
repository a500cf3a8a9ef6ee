/// The token endpoint's form parameters (RFC 6749 §4.4, RFC 7523 §2.2; SMART Backend Services).
public struct TokenRequest: Codable, Sendable, Hashable {
    public var grantType: String?
    public var scope: String?
    public var clientAssertionType: String?
    public var clientAssertion: String?
    /// Optional; when given it must be the assertion's client.
    public var clientId: String?

    public init(grantType: String?, scope: String?, clientAssertionType: String?, clientAssertion: String?,
                clientId: String? = nil) {
        self.grantType = grantType
        self.scope = scope
        self.clientAssertionType = clientAssertionType
        self.clientAssertion = clientAssertion
        self.clientId = clientId
    }

    enum CodingKeys: String, CodingKey {
        case grantType = "grant_type"
        case scope
        case clientAssertionType = "client_assertion_type"
        case clientAssertion = "client_assertion"
        case clientId = "client_id"
    }
}

/// A successful token response (RFC 6749 §5.1).
public struct TokenResponse: Codable, Sendable, Hashable {
    public var accessToken: String
    public var tokenType: String
    /// Seconds until the token expires.
    public var expiresIn: Int64
    /// The granted scopes, space-separated.
    public var scope: String

    public init(accessToken: String, expiresIn: Int64, scope: String) {
        self.accessToken = accessToken
        self.tokenType = "bearer"
        self.expiresIn = expiresIn
        self.scope = scope
    }

    enum CodingKeys: String, CodingKey {
        case accessToken = "access_token"
        case tokenType = "token_type"
        case expiresIn = "expires_in"
        case scope
    }
}
