public import Foundation

/// The token endpoint's use case (SMART Backend Services): a `client_credentials` grant authenticated by a
/// `private_key_jwt` client assertion becomes a short-lived access token carrying the client, its participant and
/// identifiers, the granted scopes and the purpose of use.
public struct TokenIssuer: Sendable {
    public let verifier: ClientAssertionVerifier
    public let codec: AccessTokenCodec
    private let clock: @Sendable () -> Date

    public init(verifier: ClientAssertionVerifier, codec: AccessTokenCodec, clock: @escaping @Sendable () -> Date) {
        self.verifier = verifier
        self.codec = codec
        self.clock = clock
    }

    /// The token URL the assertions' `aud` must name.
    public var tokenURL: String { verifier.tokenURL }

    /// This issuer for a token endpoint known at `tokenURL` (a gateway told to listen on port 0 learns its port only
    /// once bound): the same directory, replay cache, codec and clock.
    public func at(tokenURL: String) -> TokenIssuer {
        var verifier = self.verifier
        verifier.tokenURL = tokenURL
        return TokenIssuer(verifier: verifier, codec: codec, clock: clock)
    }

    /// Checks the request and the assertion, and issues a token. Throws ``TokenError`` for every refusal, and
    /// ``ServiceError`` when the client directory or the store cannot be reached.
    public func issue(_ request: TokenRequest) async throws -> TokenResponse {
        guard let grant = request.grantType, !grant.isEmpty else { throw TokenError(.invalidRequest, "grant_type is required") }
        guard grant == "client_credentials" else {
            throw TokenError(.unsupportedGrantType, "only grant_type=client_credentials is supported")
        }
        guard let type = request.clientAssertionType, !type.isEmpty else {
            throw TokenError(.invalidRequest, "client_assertion_type is required")
        }
        guard type == ClientAssertionVerifier.assertionType else {
            throw TokenError(.invalidClient, "client_assertion_type must be \(ClientAssertionVerifier.assertionType)")
        }
        guard let assertion = request.clientAssertion, !assertion.isEmpty else {
            throw TokenError(.invalidRequest, "client_assertion is required")
        }
        let verified = try await verifier.verify(assertion, now: clock())
        if let id = request.clientId, id != verified.client.clientId {
            throw TokenError(.invalidClient, "client_id does not name the assertion's client")
        }
        // Without a scope parameter the client gets what it is registered for.
        let requested = request.scope.map(ScopeSet.init(parameter:)) ?? verified.client.scopes
        let granted = verified.client.scopes.granting(requested)
        guard !granted.isEmpty else {
            throw TokenError(.invalidScope, "none of the requested scopes is granted to client '\(verified.client.clientId)'")
        }
        let (token, expiresIn) = try await codec.issue(for: verified, scopes: granted)
        return TokenResponse(accessToken: token, expiresIn: expiresIn, scope: granted.parameter)
    }
}
