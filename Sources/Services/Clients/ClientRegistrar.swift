import Crypto
public import Foundation
public import Ledger
public import Node

/// `careledger client register` as a use case: onboarding a partner's SMART Backend Services client is a ledger
/// event. The registration (client id, public JWKS, granted scopes) is signed by the home's participant key and
/// submitted to the running node (`POST /broadcast_tx?wait=commit`), which answers once it is in a block.
///
/// The node signs its own transactions (anchors, consents) with the same key and nonce sequence, so the nonce comes
/// from the node (`GET /participant`), counting its mempool; when another transaction of the node's takes that
/// nonce first the ledger answers `badNonce`, and the registration is signed again with the next one.
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
    /// How many times a registration is signed again after losing its nonce to another transaction of the node's.
    public static let nonceAttempts = 5

    public init(home: NodeHome, host: String = "127.0.0.1") {
        self.home = home
        self.host = host
    }

    /// Checks and registers: `jwks` the JWKS bytes, `scopes` the granted scopes (any order; repeats dropped),
    /// `clientId` the id, or nil for ``derivedClientId(jwks:)``.
    public func register(jwks: [UInt8], scopes: [String], clientId: String?) async throws(ServiceError) -> Registered {
        let registration = try Self.registration(jwks: jwks, scopes: scopes, clientId: clientId)
        let key: SigningKey, chainId: String, port: Int
        do {
            key = try home.nodeKey()
            chainId = try home.genesis().chainId
        } catch {
            throw ServiceError(.notFound, "\(home.root.path) is not a node home with a key and a genesis: \(error)")
        }
        do {
            port = try home.rpcPort()
        } catch {
            throw ServiceError(.notFound, "no running node's RPC port in \(home.root.path) (start it with careledger node start --home \(home.root.path)): \(error)")
        }
        for _ in 0..<Self.nonceAttempts {
            let participant: ParticipantView?
            do {
                participant = try await RPCClient.participant(key: key.publicKey, host: host, port: port)
            } catch {
                throw ServiceError(.unavailable, "the node at \(host):\(port) cannot be asked: \(error)")
            }
            guard let participant else {
                throw ServiceError(.forbidden, "\(key.publicKey) (this home's key) is not a participant of chain \(chainId): only a participant registers clients")
            }
            let tx: Transaction
            do {
                tx = try Transaction(signing: .registerClient(registration), nonce: participant.nextNonce, chainId: chainId, with: key)
            } catch {
                throw ServiceError(.internal, "the registration could not be signed: \(error)")
            }
            switch try await submit(tx, port: port) {
            case .committed(let height):
                return Registered(clientId: registration.clientId, transaction: Hex.encode(tx.hash), height: height, participant: participant.participant)
            case .lostNonce:
                continue
            }
        }
        throw ServiceError(.conflict, "the node's own transactions took this key's nonce \(Self.nonceAttempts) times in a row; try again")
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

    enum Outcome {
        case committed(height: UInt64)
        case lostNonce
    }

    /// The node's answer to `POST /broadcast_tx?wait=commit`: an inclusion, or a refusal with its code.
    struct BroadcastAnswer: Decodable {
        var height: UInt64?
        var code: String?
        var message: String?
    }

    func submit(_ tx: Transaction, port: Int) async throws(ServiceError) -> Outcome {
        let response: RPCResponse
        do {
            response = try await RPCClient.send(host: host, port: port, method: "POST", path: "/broadcast_tx", query: ["wait": "commit"], body: tx.encoded, timeout: 120)
        } catch {
            throw ServiceError(.unavailable, "the node at \(host):\(port) cannot be reached: \(error)")
        }
        guard let answer = try? JSONDecoder().decode(BroadcastAnswer.self, from: Data(response.body)) else {
            throw ServiceError(.internal, "the node answered \(response.status) with \(String(decoding: response.body.prefix(300), as: UTF8.self))")
        }
        if answer.code == TransactionError.Code.badNonce.rawValue { return .lostNonce }
        if let code = answer.code {
            let refused = response.status == 200 ? "the ledger refused the registration in block \(answer.height ?? 0)" : "the ledger refused the registration"
            if response.status == 503 { throw ServiceError(.unavailable, "\(refused): \(code): \(answer.message ?? "")") }
            throw ServiceError(code == TransactionError.Code.clientTaken.rawValue ? .conflict : .unprocessable, "\(refused): \(code): \(answer.message ?? "")")
        }
        guard response.status == 200, let height = answer.height else {
            throw ServiceError(.internal, "the node answered \(response.status) with \(String(decoding: response.body.prefix(300), as: UTF8.self))")
        }
        return .committed(height: height)
    }
}
