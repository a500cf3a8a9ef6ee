public import Foundation
import JWTKit

/// The client side of SMART Backend Services: a client's ES384 private key (P-384, PEM) that signs client assertions
/// with jwt-kit, as a partner's system does before it asks a token endpoint for an access token. The demo uses it as
/// partner hospital B; ``ClientAssertionVerifier`` is the gateway's side of the same exchange.
///
/// The key is never logged or described: errors name the file's role, not its content.
public struct ClientAssertionSigner: Sendable {
    public let clientId: String
    /// The key id the client's registered JWKS gives this key (the assertion header's `kid`).
    public let kid: String
    private let keys: JWTKeyCollection

    private init(clientId: String, kid: String, keys: JWTKeyCollection) {
        self.clientId = clientId
        self.kid = kid
        self.keys = keys
    }

    /// The signer for `clientId` from an EC P-384 private key in PEM (PKCS#8 or SEC 1); invalid input is
    /// `invalidRequest`.
    public static func es384(clientId: String, kid: String, pem: String) async throws(ServiceError) -> ClientAssertionSigner {
        let key: ES384PrivateKey
        do {
            key = try ES384PrivateKey(pem: pem)
        } catch {
            throw ServiceError(.invalidRequest, "the client key of \(clientId) is not an EC P-384 private key in PEM")
        }
        let keys = JWTKeyCollection()
        await keys.add(ecdsa: key, kid: JWKIdentifier(string: kid))
        return ClientAssertionSigner(clientId: clientId, kid: kid, keys: keys)
    }

    /// A signed assertion for the token endpoint at `tokenURL`: `iss` = `sub` = the client id, `aud` the token URL,
    /// a fresh `jti`, expiring `lifetime` seconds after `now` (SMART allows at most five minutes), and the purpose
    /// of use when given (IHE IUA's `purpose_of_use`, e.g. `TREAT`).
    public func assertion(tokenURL: String, purposeOfUse: String? = nil, now: Date, lifetime: Double = 240) async throws(ServiceError) -> String {
        let seconds = now.timeIntervalSince1970.rounded(.down)
        let claims = ClientAssertionClaims(
            iss: clientId, sub: clientId, aud: AudienceClaim(value: [tokenURL]), exp: seconds + min(lifetime, 300), iat: seconds,
            jti: UUID().uuidString.lowercased(), purposeOfUse: purposeOfUse.map { PurposeOfUseClaim(code: $0) })
        var header = JWTHeader()
        header.kid = kid
        header.typ = "JWT"
        do {
            return try await keys.sign(claims, header: header)
        } catch {
            throw ServiceError(.internal, "the client assertion of \(clientId) could not be signed: \(type(of: error))")
        }
    }

    /// The `application/x-www-form-urlencoded` body of a `client_credentials` token request carrying `assertion`.
    public static func tokenRequestBody(assertion: String, scope: String) -> String {
        func encoded(_ s: String) -> String {
            var allowed = CharacterSet.alphanumerics
            allowed.insert(charactersIn: "-._~")
            return s.addingPercentEncoding(withAllowedCharacters: allowed) ?? s
        }
        return "grant_type=client_credentials&scope=\(encoded(scope))"
            + "&client_assertion_type=\(encoded(ClientAssertionVerifier.assertionType))&client_assertion=\(encoded(assertion))"
    }
}
