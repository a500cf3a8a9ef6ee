/// A partner's SMART Backend Services client, registered on the ledger by the partner's participant: the client id
/// it authenticates as, the public keys (a JWKS, RFC 7517) its client assertions are signed with, and the scopes
/// the consortium grants it. Registering the same client id again from the same participant replaces keys and
/// scopes (key rotation); another participant may not take a client id over.
///
/// Canonical, so a registration has one encoding: the JWKS as the bytes of its JSON (checked by ``JWKSDocument``),
/// scopes as printable ASCII without spaces, each starting `system/` (SMART Backend Services grants system scopes),
/// in strictly increasing byte order.
public struct RegisterClient: LedgerEncodable, Hashable {
    public static let maxClientIdLength = 128
    public static let maxScopes = 32
    public static let maxScopeLength = 128

    public var clientId: String
    /// The JWKS document, exactly as registered (UTF-8 JSON).
    public var jwks: [UInt8]
    public var scopes: [String]

    public init(clientId: String, jwks: [UInt8], scopes: [String]) {
        self.clientId = clientId
        self.jwks = jwks
        self.scopes = scopes
    }

    public func encode(to w: inout LedgerWriter) {
        w.string(clientId)
        w.byteString(jwks)
        w.strings(scopes)
    }

    public static func decode(from r: inout LedgerReader) throws(LedgerDecodingError) -> RegisterClient {
        RegisterClient(clientId: try r.string(), jwks: try r.byteString(), scopes: try r.strings())
    }

    /// `scopes` in the canonical order (sorted byte-wise, duplicates removed); ``problem()`` still checks them.
    public static func canonical(scopes: [String]) -> [String] {
        var out: [String] = []
        for s in scopes.sorted(by: { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }) where out.last != s { out.append(s) }
        return out
    }

    /// Why a client id is not acceptable, or nil: 1 to 128 printable ASCII characters without spaces (it is a JWT
    /// `iss`/`sub` and a URL query value).
    public static func clientIdProblem(_ id: String) -> String? {
        let bytes = Array(id.utf8)
        guard (1...maxClientIdLength).contains(bytes.count), bytes.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            return "a client id is 1 to \(maxClientIdLength) printable ASCII characters without spaces, found '\(id.prefix(200))'"
        }
        return nil
    }

    /// Why the scopes are not acceptable, or nil.
    public static func scopesProblem(_ scopes: [String]) -> String? {
        guard (1...maxScopes).contains(scopes.count) else { return "a client is granted 1 to \(maxScopes) scopes, found \(scopes.count)" }
        var previous: [UInt8]?
        for s in scopes {
            let bytes = Array(s.utf8)
            guard bytes.count <= maxScopeLength, bytes.allSatisfy({ (0x21...0x7E).contains($0) }), s.hasPrefix("system/"), bytes.count > 7 else {
                return "a scope is a SMART system scope (system/Patient.rs, system/*.read), printable ASCII without spaces, at most \(maxScopeLength) bytes, found '\(s.prefix(200))'"
            }
            if let previous, !previous.lexicographicallyPrecedes(bytes) {
                return "scopes are listed once each, in increasing byte order ('\(s)' follows '\(String(decoding: previous, as: UTF8.self))')"
            }
            previous = bytes
        }
        return nil
    }

    /// The first rule the registration breaks, as the ledger refuses it, or nil.
    public func problem() -> TransactionError? {
        if let reason = Self.clientIdProblem(clientId) { return TransactionError(.invalidClient, reason) }
        if let reason = JWKSDocument.problem(jwks) { return TransactionError(.invalidJWKS, reason) }
        if let reason = Self.scopesProblem(scopes) { return TransactionError(.invalidScope, reason) }
        return nil
    }
}

/// A registered client as the state keeps it: the latest registration, the participant that owns the client id,
/// the height of the latest registration and of the first.
public struct ClientRecord: LedgerEncodable, Hashable {
    public var registration: RegisterClient
    public var participant: PublicKey
    public var height: UInt64
    public var registeredAt: UInt64

    public init(registration: RegisterClient, participant: PublicKey, height: UInt64, registeredAt: UInt64) {
        self.registration = registration
        self.participant = participant
        self.height = height
        self.registeredAt = registeredAt
    }

    public func encode(to w: inout LedgerWriter) {
        w.value(registration)
        w.value(participant)
        w.u64(height)
        w.u64(registeredAt)
    }

    public static func decode(from r: inout LedgerReader) throws(LedgerDecodingError) -> ClientRecord {
        ClientRecord(registration: try r.value(), participant: try r.value(), height: try r.u64(), registeredAt: try r.u64())
    }
}
