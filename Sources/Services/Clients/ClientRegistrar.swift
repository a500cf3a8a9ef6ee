import Crypto
public import Foundation
public import Ledger
public import Node

/// `careledger client register` as a use case: onboarding a partner's SMART Backend Services client is a ledger
/// event. The registration (client id, public JWKS, granted scopes) is checked as the ledger checks it, then signed
/// by the home's participant key and committed through its running node (``ParticipantSubmission``).
public struct ClientRegistrar: Sendable {
    /// What was registered, and where it landed.
    public struct Registered: Sendable, Hashable {
        public var clientId: String
        /// The transaction's hash, hex.
        public var transaction: String
        public var height: UInt64
        /// The participant that owns the client: its Ed25519 key, hex.
        public var participant: String
    }

    public let home: NodeHome
    public let host: String
    public init(home: NodeHome, host: String = "127.0.0.1") {
        self.home = home
        self.host = host
    }

    /// Checks and registers: `jwks` the JWKS bytes, `scopes` the granted scopes (any order; repeats dropped),
    /// `clientId` the id, or nil for ``derivedClientId(jwks:)``.
    public func register(jwks: [UInt8], scopes: [String], clientId: String?) async throws(ServiceError) -> Registered {
        let registration = try Self.registration(jwks: jwks, scopes: scopes, clientId: clientId)
        let committed = try await ParticipantSubmission(home: home, host: host).submit(.registerClient(registration), refusedAsConflict: [.clientTaken])
        return Registered(clientId: registration.clientId, transaction: committed.transaction, height: committed.height, participant: committed.participant)
    }

    /// The registration `register` would submit, checked as the ledger checks it (so a mistake is reported before
    /// anything is signed): invalid input is `invalidRequest`.
    public static func registration(jwks: [UInt8], scopes: [String], clientId: String?) throws(ServiceError) -> RegisterClient {
        if let problem = JWKSDocument.problem(jwks) { throw ServiceError(.invalidRequest, "the JWKS: \(problem)") }
        let canonical = RegisterClient.canonical(scopes: scopes)
        if let problem = RegisterClient.scopesProblem(canonical) { throw ServiceError(.invalidRequest, "--scope: \(problem)") }
        let id: String
        if let clientId { id = clientId } else { id = try derivedClientId(jwks: jwks) }
        if let problem = RegisterClient.clientIdProblem(id) { throw ServiceError(.invalidRequest, "--client-id: \(problem)") }
        return RegisterClient(clientId: id, jwks: jwks, scopes: canonical)
    }

    /// The default client id: the RFC 7638 JWK thumbprint (SHA-256, base64url without padding) of the JWKS's first
    /// key — the JSON of its required members (RSA: e, kty, n; EC: crv, kty, x, y; OKP: crv, kty, x) in that order,
    /// without white space. The same key always gives the same id; a rotation that replaces the first key must name
    /// the client id.
    public static func derivedClientId(jwks: [UInt8]) throws(ServiceError) -> String {
        guard case .object(let set)? = try? JSONDecoder().decode(OpaqueJSON.self, from: Data(jwks)), case .array(let keys)? = set["keys"],
              case .object(let first)? = keys.first, case .string(let kty)? = first["kty"] else {
            throw ServiceError(.invalidRequest, "the JWKS has no first key with a kty to derive a client id from; give --client-id")
        }
        let required: [String]
        switch kty {
        case "RSA": required = ["e", "kty", "n"]
        case "EC": required = ["crv", "kty", "x", "y"]
        case "OKP": required = ["crv", "kty", "x"]
        default: throw ServiceError(.invalidRequest, "no RFC 7638 thumbprint for a key of kty '\(kty)'; give --client-id")
        }
        var members: [String] = []
        for name in required {
            guard case .string(let value)? = first[name] else {
                throw ServiceError(.invalidRequest, "the first key (kty \(kty)) has no string '\(name)' for its thumbprint; give --client-id")
            }
            members.append("\"\(name)\":\(jsonString(value))")
        }
        let digest = SHA256.hash(data: Array("{\(members.joined(separator: ","))}".utf8))
        return Data(digest).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// A JSON string as RFC 8259 writes it with the fewest escapes (RFC 7638 §3.3 uses that form).
    static func jsonString(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
