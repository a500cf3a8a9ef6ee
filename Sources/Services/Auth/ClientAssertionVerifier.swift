public import Foundation
public import JWTKit
public import RecordStore

/// Checks a SMART Backend Services client assertion (SMART App Launch 2.x, client-confidential-asymmetric; RFC 7523)
/// with jwt-kit: the signature by the client's registered key (`kid`), RS384, ES384 or EdDSA (Ed25519) only;
/// `iss` = `sub` = the client id; `aud` = the token URL; `exp` present, not past and at most five minutes ahead;
/// `nbf` not ahead; `jti` present and never used before its `exp` (the store's replay cache, shared by every gateway
/// process). Times allow ``clockSkew`` either way and come from the caller, not from `Date()`.
/// Every refusal is a ``TokenError`` `invalid_client`; a directory that cannot be read throws ``ServiceError``.
public struct ClientAssertionVerifier: Sendable {
    /// The only `client_assertion_type` (RFC 7523 §2.2).
    public static let assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    /// The signature algorithms accepted: RS384 and ES384 as SMART requires, and EdDSA.
    public static let algorithms = ["RS384", "ES384", "EdDSA"]
    /// The longest assertion read.
    public static let maximumAssertionBytes = 16 << 10
    /// The furthest ahead an assertion may expire (SMART: no more than five minutes in the future).
    public static let maximumLifetime: Int64 = 300

    /// The token endpoint's URL, which `aud` must name.
    public var tokenURL: String
    /// Seconds of clock difference tolerated between the client and us.
    public var clockSkew: Int64
    public let directory: any ClientDirectory
    public let replayCache: any TokenReplayCache

    public init(tokenURL: String, directory: any ClientDirectory, replayCache: any TokenReplayCache, clockSkew: Int64 = 60) {
        self.tokenURL = tokenURL
        self.directory = directory
        self.replayCache = replayCache
        self.clockSkew = clockSkew
    }

    /// What a verified assertion establishes.
    public struct Verified: Sendable {
        public var client: RegisteredClient
        public var jti: String
        /// The assertion's purpose of use, as the token carries it (``PurposeOfUseClaim/tokenValue``).
        public var purposeOfUse: String?
    }

    public func verify(_ assertion: String, now: Date) async throws -> Verified {
        guard assertion.utf8.count <= Self.maximumAssertionBytes else {
            throw TokenError(.invalidRequest, "the client assertion is over \(Self.maximumAssertionBytes) bytes")
        }
        // Unverified, only to learn which client and key to verify with.
        let header: JWTHeader, unverified: ClientAssertionClaims
        do {
            (header, unverified, _) = try DefaultJWTParser().parse(Array(assertion.utf8), as: ClientAssertionClaims.self)
        } catch {
            throw TokenError(.invalidClient, "the client assertion is not a readable JWT")
        }
        guard let alg = header.alg, Self.algorithms.contains(alg) else {
            throw TokenError(.invalidClient, "the assertion's alg '\(header.alg ?? "")' is not accepted; use RS384, ES384 or EdDSA")
        }
        guard let kid = header.kid, !kid.isEmpty else { throw TokenError(.invalidClient, "the assertion header has no kid") }
        guard let clientId = unverified.iss, !clientId.isEmpty else { throw TokenError(.invalidClient, "the assertion has no iss") }
        guard let client = try await directory.client(id: clientId) else {
            throw TokenError(.invalidClient, "no client '\(clientId)' is registered")
        }
        let claims = try await verifySignature(assertion, client: client, kid: kid, alg: alg)
        return try await check(claims, client: client, now: Int64(now.timeIntervalSince1970.rounded(.down)))
    }

    /// The claims, once the signature verifies with one of the client's keys named `kid` that fits `alg`.
    private func verifySignature(_ assertion: String, client: RegisteredClient, kid: String, alg: String) async throws
        -> ClientAssertionClaims
    {
        let candidates = client.keys.keys(kid: kid).filter { Self.fits($0, alg: alg) }
        guard !candidates.isEmpty else {
            throw TokenError(.invalidClient, "client '\(client.clientId)' has no usable \(alg) key with kid '\(kid)'")
        }
        for var key in candidates {
            key.algorithm = JWK.Algorithm(rawValue: alg)
            let keys = JWTKeyCollection()
            do {
                try await keys.add(jwk: key)
                return try await keys.verify(assertion, as: ClientAssertionClaims.self)
            } catch {
                continue
            }
        }
        throw TokenError(.invalidClient, "the assertion's signature does not verify with key '\(kid)'")
    }

    /// True when the JWK is of the type and curve `alg` needs, and names no other algorithm.
    static func fits(_ key: JWK, alg: String) -> Bool {
        if let declared = key.algorithm, declared.rawValue != alg { return false }
        switch alg {
        case "RS384": return key.keyType == .rsa
        case "ES384": return key.keyType == .ecdsa && key.curve?.rawValue == "P-384"
        case "EdDSA": return key.keyType == .octetKeyPair && key.curve?.rawValue == "Ed25519"
        default: return false
        }
    }

    /// The claim checks after the signature, the replay check last so a refused assertion does not burn its jti.
    private func check(_ claims: ClientAssertionClaims, client: RegisteredClient, now: Int64) async throws -> Verified {
        let id = client.clientId
        guard claims.iss == id, claims.sub == id else {
            throw TokenError(.invalidClient, "the assertion's iss and sub must both be the client id '\(id)'")
        }
        guard let audience = claims.aud?.value, audience.contains(tokenURL) else {
            throw TokenError(.invalidClient, "the assertion's aud must be the token URL \(tokenURL)")
        }
        guard let expValue = claims.exp, expValue.isFinite, abs(expValue) < 1e12 else {
            throw TokenError(.invalidClient, "the assertion has no exp")
        }
        let exp = Int64(expValue.rounded(.up))
        guard exp + clockSkew >= now else { throw TokenError(.invalidClient, "the assertion expired at \(exp)") }
        guard exp <= now + Self.maximumLifetime + clockSkew else {
            throw TokenError(.invalidClient, "the assertion's exp is more than \(Self.maximumLifetime) s ahead")
        }
        if let nbf = claims.nbf, nbf.isFinite, Int64(nbf.rounded(.down)) > now + clockSkew {
            throw TokenError(.invalidClient, "the assertion is not valid before \(Int64(nbf))")
        }
        guard let jti = claims.jti, !jti.isEmpty, jti.utf8.count <= 255 else {
            throw TokenError(.invalidClient, "the assertion needs a jti of 1–255 characters")
        }
        let purpose = try claims.purposeOfUse.map(Self.checkedPurpose)
        // Kept until the assertion could no longer be accepted, skew included.
        guard try await replayCache.recordAssertion(jti: jti, clientId: id, expiresAt: exp + clockSkew, now: now) else {
            throw TokenError(.invalidClient, "the assertion's jti has been used before")
        }
        return Verified(client: client, jti: jti, purposeOfUse: purpose)
    }

    /// The purpose of use as the token carries it; a code or system that is empty, long or has control characters
    /// is refused.
    static func checkedPurpose(_ claim: PurposeOfUseClaim) throws -> String {
        func plain(_ s: String, _ limit: Int) -> Bool {
            !s.isEmpty && s.utf8.count <= limit && s.unicodeScalars.allSatisfy { $0.value > 0x20 && $0.value != 0x7F }
        }
        guard plain(claim.code, 64), claim.system.map({ plain($0, 256) }) ?? true else {
            throw TokenError(.invalidRequest, "purpose_of_use must be a code (such as TREAT) or system|code without spaces")
        }
        return claim.tokenValue
    }
}
