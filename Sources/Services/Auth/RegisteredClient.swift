public import JWTKit

/// A SMART Backend Services client the gateway knows: a partner's client registered on the ledger, or one of the
/// hospital's own systems configured locally.
public struct RegisteredClient: Sendable {
    public var clientId: String
    public var kind: Principal.Kind
    /// The partner's participant (hex Ed25519 public key); nil for local clients.
    public var participant: String?
    public var participantName: String?
    /// The participant's organization identifiers (`system|value`), by which Consents name it as an actor.
    public var identifiers: [String]
    /// The public keys its assertions are signed with.
    public var keys: ClientKeySet
    /// The scopes granted to it (by the consortium for partners, by the hospital's config for local clients).
    public var scopes: ScopeSet

    public init(clientId: String, kind: Principal.Kind, participant: String? = nil, participantName: String? = nil,
                identifiers: [String] = [], keys: ClientKeySet, scopes: ScopeSet) {
        self.clientId = clientId
        self.kind = kind
        self.participant = participant
        self.participantName = participantName
        self.identifiers = identifiers
        self.keys = keys
        self.scopes = scopes
    }
}

/// A client's JWKS, keeping only the keys an assertion can be verified with: keys with a `kid`, meant for signatures
/// (no `use` other than `sig`), public only, complete, of a type jwt-kit reads. Unusable keys are left out, not an error, as
/// SMART asks (a JWKS may also hold encryption keys or types we do not support).
public struct ClientKeySet: Sendable, Codable {
    public private(set) var keys: [JWK]

    public init(keys: [JWK]) {
        self.keys = keys.filter { $0.keyIdentifier != nil && $0.privateExponent == nil && Self.hasPublicParts($0) }
    }

    /// Whether the key carries what its type needs to verify: `n` and `e` for RSA, `x`, `y` and `crv` for EC, `x` and
    /// `crv` for OKP.
    static func hasPublicParts(_ key: JWK) -> Bool {
        switch key.keyType {
        case .rsa: key.modulus != nil && key.exponent != nil
        case .ecdsa: key.x != nil && key.y != nil && key.curve != nil
        case .octetKeyPair: key.x != nil && key.curve != nil
        default: false
        }
    }

    /// The keys with this `kid`.
    public func keys(kid: String) -> [JWK] { keys.filter { $0.keyIdentifier?.string == kid } }

    private enum CodingKeys: String, CodingKey { case keys }

    /// One entry of `keys`, decoded leniently.
    private struct Entry: Decodable {
        let key: JWK?
        private enum Use: String, CodingKey { case use }
        init(from decoder: any Decoder) throws {
            let use = try? decoder.container(keyedBy: Use.self).decodeIfPresent(String.self, forKey: .use)
            key = (use == nil || use == "sig") ? try? JWK(from: decoder) : nil
        }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let entries = try container.decode([Entry].self, forKey: .keys)
        self.init(keys: entries.compactMap(\.key))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(keys, forKey: .keys)
    }
}
