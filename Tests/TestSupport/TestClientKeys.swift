import CryptoExtras
public import Foundation
public import JWTKit
public import Services

/// A SMART client's key pair made for a test (ServicesTests, GatewayTests): the private half signs assertions with jwt-kit, the public half goes
/// into the client's JWKS.
public struct TestClientKey: Sendable {
    public let kid: String
    public let alg: String
    public let publicJWK: JWK
    private let signer: JWTKeyCollection

    private init(kid: String, alg: String, publicJWK: JWK, signer: JWTKeyCollection) {
        self.kid = kid
        self.alg = alg
        self.publicJWK = publicJWK
        self.signer = signer
    }

    public static func base64url(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// An RSA-2048 key for RS384. `declareAlg`: whether the JWK names its algorithm.
    public static func rs384(kid: String, declareAlg: Bool = true) async throws -> TestClientKey {
        let key = try Insecure.RSA.PrivateKey(backing: _RSA.Signing.PrivateKey(keySize: .bits2048))
        let (modulus, exponent) = try key.publicKey.getKeyPrimitives()
        let jwk = JWK.rsa(declareAlg ? .rs384 : nil, identifier: JWKIdentifier(string: kid),
                          modulus: base64url(modulus), exponent: base64url(exponent))
        let signer = JWTKeyCollection()
        await signer.add(rsa: key, digestAlgorithm: .sha384, kid: JWKIdentifier(string: kid))
        return TestClientKey(kid: kid, alg: "RS384", publicJWK: jwk, signer: signer)
    }

    /// A P-384 key for ES384.
    public static func es384(kid: String) async throws -> TestClientKey {
        let key = ES384PrivateKey()
        guard let parameters = key.publicKey.parameters else { throw TestKeyError.noPublicParameters }
        let jwk = JWK.ecdsa(.es384, identifier: JWKIdentifier(string: kid), x: parameters.x, y: parameters.y, curve: .p384)
        let signer = JWTKeyCollection()
        await signer.add(ecdsa: key, kid: JWKIdentifier(string: kid))
        return TestClientKey(kid: kid, alg: "ES384", publicJWK: jwk, signer: signer)
    }

    /// An Ed25519 key for EdDSA.
    public static func ed25519(kid: String) async throws -> TestClientKey {
        let key = try EdDSA.PrivateKey(curve: .ed25519)
        let jwk = JWK.octetKeyPair(.eddsa, identifier: JWKIdentifier(string: kid), x: base64url(key.publicKey.rawRepresentation),
                                   y: nil, curve: .ed25519)
        let signer = JWTKeyCollection()
        await signer.add(eddsa: key, kid: JWKIdentifier(string: kid))
        return TestClientKey(kid: kid, alg: "EdDSA", publicJWK: jwk, signer: signer)
    }

    /// A signed assertion; `kid` overrides the header's key id.
    public func sign(_ claims: ClientAssertionClaims, kid: String? = nil) async throws -> String {
        var header = JWTHeader()
        header.kid = kid ?? self.kid
        return try await signer.sign(claims, header: header)
    }

    public enum TestKeyError: Error { case noPublicParameters }
}

/// A `clients.json` (the local client directory's file) in a temporary folder.
public enum TestClientFile {
    public static func write(_ clients: [(id: String, keys: [JWK], scopes: [String])], in folder: URL) throws -> URL {
        struct Entry: Encodable {
            var clientId: String
            var jwks: [String: [JWK]]
            var scopes: [String]
        }
        let list = ["clients": clients.map { Entry(clientId: $0.id, jwks: ["keys": $0.keys], scopes: $0.scopes) }]
        let url = folder.appendingPathComponent("clients.json")
        try JSONEncoder().encode(list).write(to: url)
        return url
    }
}
