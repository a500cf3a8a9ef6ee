/// `/.well-known/smart-configuration` for SMART Backend Services (SMART App Launch 2.x, "Conformance"): where the
/// token endpoint is and what it accepts.
public struct SMARTConfiguration: Codable, Sendable, Hashable {
    public var tokenEndpoint: String
    public var tokenEndpointAuthMethodsSupported: [String]
    public var tokenEndpointAuthSigningAlgValuesSupported: [String]
    public var grantTypesSupported: [String]
    public var scopesSupported: [String]
    public var capabilities: [String]

    /// The configuration of a gateway whose token endpoint is at `tokenEndpoint`.
    public init(tokenEndpoint: String) {
        self.tokenEndpoint = tokenEndpoint
        self.tokenEndpointAuthMethodsSupported = ["private_key_jwt"]
        self.tokenEndpointAuthSigningAlgValuesSupported = ClientAssertionVerifier.algorithms
        self.grantTypesSupported = ["client_credentials"]
        self.scopesSupported = ["system/*.cruds", "system/*.rs", "system/*.read", "system/*.write", "system/*.*"]
        self.capabilities = ["client-confidential-asymmetric", "permission-v2", "permission-v1"]
    }

    enum CodingKeys: String, CodingKey {
        case tokenEndpoint = "token_endpoint"
        case tokenEndpointAuthMethodsSupported = "token_endpoint_auth_methods_supported"
        case tokenEndpointAuthSigningAlgValuesSupported = "token_endpoint_auth_signing_alg_values_supported"
        case grantTypesSupported = "grant_types_supported"
        case scopesSupported = "scopes_supported"
        case capabilities
    }
}
