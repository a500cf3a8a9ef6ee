import Foundation
import Ledger

/// The RPC's ledger queries for the gateway and `careledger client` (docs/node.md), answered from the committed state:
///
/// - `GET /client?id=ID`: the SMART client registered as ID (``ClientView``), 404 when none;
/// - `GET /participant?key=HEX` or `?identifier=SYSTEM|VALUE`: a participant (``ParticipantView``), 404 when none.
///
/// A missing or malformed parameter is 400; refusals are `{"code", "message"}`.
extension NodeRPC {
    static func handleLedgerQuery(_ request: RPCRequest, chain: Chain) async -> RPCResponse {
        switch request.path {
        case "/client":
            guard let id = request.query["id"] else { return queryRefusal(400, "bad-request", "GET /client needs ?id=CLIENT_ID") }
            if let problem = RegisterClient.clientIdProblem(id) { return queryRefusal(400, "bad-request", problem) }
            guard let view = await chain.clientView(id) else {
                return queryRefusal(404, "not-found", "no client '\(id)' is registered on the ledger (careledger client register)")
            }
            return encoded(200, view)
        case "/participant":
            let view: ParticipantView?
            if let hex = request.query["key"] {
                guard let bytes = Hex.decode(hex), let key = try? PublicKey(bytes: bytes) else {
                    return queryRefusal(400, "bad-request", "key must be a 32-byte Ed25519 public key in hex")
                }
                view = await chain.participantView(key)
            } else if let identifier = request.query["identifier"] {
                if let problem = ParticipantIdentifiers.identifierProblem(identifier) { return queryRefusal(400, "bad-request", "identifier: \(problem)") }
                view = await chain.participantView(identifier: identifier)
            } else {
                return queryRefusal(400, "bad-request", "GET /participant needs ?key=HEX or ?identifier=SYSTEM|VALUE")
            }
            guard let view else { return queryRefusal(404, "not-found", "no such participant on the ledger") }
            return encoded(200, view)
        default:
            return queryRefusal(404, "not-found", "no \(request.method) \(request.path)")
        }
    }

    /// A refusal of these queries: `{"code", "message"}`.
    struct QueryRefusal: Codable, Sendable {
        var code: String
        var message: String
    }

    static func queryRefusal(_ status: Int, _ code: String, _ message: String) -> RPCResponse {
        encoded(status, QueryRefusal(code: code, message: message))
    }

    static func encoded(_ status: Int, _ value: some Encodable) -> RPCResponse {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Our own Codable values of strings, numbers and JSON: encoding cannot fail.
        let body = (try? encoder.encode(value)).map { Array($0) } ?? Array(#"{"code":"internal","message":"the answer could not be encoded"}"#.utf8)
        return RPCResponse.json(status, body)
    }
}
