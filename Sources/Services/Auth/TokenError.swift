/// A refusal at the token endpoint, as OAuth 2.0 says to answer it (RFC 6749 §5.2): an `error` code, a description
/// for the client's developer, and the HTTP status, mapped here in one place.
public struct TokenError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The OAuth 2.0 error code.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        public let rawValue: String
        private init(_ rawValue: String) { self.rawValue = rawValue }

        /// A parameter is missing, repeated or malformed.
        public static let invalidRequest = Code("invalid_request")
        /// The client is unknown, or its assertion does not authenticate it (signature, claims, replay).
        public static let invalidClient = Code("invalid_client")
        /// The grant is not valid for this client.
        public static let invalidGrant = Code("invalid_grant")
        /// None of the requested scopes is granted to the client.
        public static let invalidScope = Code("invalid_scope")
        /// Only `client_credentials` is supported.
        public static let unsupportedGrantType = Code("unsupported_grant_type")

        public var description: String { rawValue }
    }

    public var code: Code
    /// What was wrong, in one sentence. Never contains key material.
    public var reason: String

    public init(_ code: Code, _ reason: String) {
        self.code = code
        self.reason = reason
    }

    /// 401 for a client that did not authenticate, 400 for everything else (RFC 6749 §5.2).
    public var httpStatus: Int { code == .invalidClient ? 401 : 400 }

    /// The JSON body: `{"error": …, "error_description": …}`.
    public var body: Body { Body(error: code.rawValue, errorDescription: reason) }

    public var description: String { "\(code): \(reason)" }

    /// The error response's JSON.
    public struct Body: Codable, Sendable, Hashable {
        public var error: String
        public var errorDescription: String

        public init(error: String, errorDescription: String) {
            self.error = error
            self.errorDescription = errorDescription
        }

        enum CodingKeys: String, CodingKey {
            case error
            case errorDescription = "error_description"
        }
    }
}
