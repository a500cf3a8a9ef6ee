public import Crypto
public import Foundation
import JWTKit
import Ledger
public import Node

/// Signs and checks the gateway's access tokens: compact JWTs (HS256, with jwt-kit) keyed by a secret every gateway
/// process of the node shares. An HMAC check costs microseconds, so checking the token on every request does not
/// become the bottleneck that an asymmetric signature check would be (ES384 verification alone caps near 2,000
/// checks/s per core). Tokens live ``lifetime`` seconds (300, SMART's five-minute ceiling).
public struct AccessTokenCodec: Sendable {
    /// Seconds a token is valid.
    public static let lifetime: Int64 = 300
    /// The longest bearer token read.
    public static let maximumTokenBytes = 8 << 10

    private let keys: JWTKeyCollection
    /// Adding the key to jwt-kit's collection (an actor) is asynchronous; every use waits for it (a finished task
    /// costs nothing), so the codec can be made where no `await` is possible.
    private let ready: Task<Void, Never>
    private let clock: @Sendable () -> Date
    /// Tokens verified before, until they expire.
    private let verified = VerifiedTokenCache()

    /// A codec with this HMAC key. The key is never logged.
    public init(key: SymmetricKey, clock: @escaping @Sendable () -> Date) {
        let keys = JWTKeyCollection()
        self.keys = keys
        self.ready = Task { await keys.add(hmac: HMACKey(key: key), digestAlgorithm: .sha256) }
        self.clock = clock
    }

    /// A codec with a random key nobody else has: only the tokens it issued itself pass. For a gateway that cannot
    /// make its real key (it then issues none, so it fails closed), and for tests.
    public static func withRandomKey(clock: @escaping @Sendable () -> Date) -> AccessTokenCodec {
        AccessTokenCodec(key: SymmetricKey(size: .bits256), clock: clock)
    }

    /// The token key of a node home, derived (HKDF-SHA256) from the node's Ed25519 seed: every gateway process started
    /// with the same home derives the same key without it being stored anywhere else, and a node that replaces its
    /// key invalidates every token it issued. Tokens of one node mean nothing to another node's gateway.
    public static func key(home: NodeHome) throws -> SymmetricKey {
        let seed: [UInt8]
        do {
            seed = try home.nodeKey().rawRepresentation
        } catch {
            throw ServiceError(.configuration, "the access token key needs the node key: \(error)")
        }
        return HKDF<SHA256>.deriveKey(inputKeyMaterial: SymmetricKey(data: seed),
                                      info: Array("careledger access-token hmac-sha256 v1".utf8), outputByteCount: 32)
    }

    /// Issues a token for a verified client assertion and the scopes granted, valid ``lifetime`` seconds from now.
    public func issue(for assertion: ClientAssertionVerifier.Verified, scopes: ScopeSet) async throws -> (token: String, expiresIn: Int64) {
        let now = Int64(clock().timeIntervalSince1970.rounded(.down))
        let client = assertion.client
        let claims = AccessTokenClaims(cid: client.clientId, knd: client.kind == .partner ? "partner" : "local",
                                       par: client.participant, ids: client.identifiers, scp: scopes.parameter,
                                       pou: assertion.purposeOfUse, exp: now + Self.lifetime, jti: UUID().uuidString)
        await ready.value
        return (try await keys.sign(claims), Self.lifetime)
    }

    /// The principal a bearer token stands for. Throws ``ServiceError`` `.unauthorized` when it is malformed, signed
    /// by another key, or expired.
    public func principal(bearer token: String) async throws -> Principal {
        guard token.utf8.count <= Self.maximumTokenBytes else {
            throw ServiceError(.unauthorized, "the access token is over \(Self.maximumTokenBytes) bytes")
        }
        let now = Int64(clock().timeIntervalSince1970.rounded(.down))
        if let known = verified.principal(token, now: now) { return known }
        await ready.value
        let claims: AccessTokenClaims
        do {
            claims = try await keys.verify(token, as: AccessTokenClaims.self)
        } catch {
            throw ServiceError(.unauthorized, "the access token is not valid")
        }
        guard claims.exp > now else {
            throw ServiceError(.unauthorized, "the access token has expired")
        }
        guard let principal = claims.principal else { throw ServiceError(.unauthorized, "the access token is not valid") }
        verified.insert(token, principal: principal, expiresAt: claims.exp)
        return principal
    }
}
