import Foundation
public import Ledger

/// The node's ledger queries from the client side (`GET /client`, `GET /participant`, docs/node.md): what the
/// gateway's client directory and `careledger client` ask.
extension RPCClient {
    /// The client registered as `id`, or nil when the ledger has none. Throws ``RPCError`` when the node cannot be
    /// reached or answers something else.
    public static func client(id: String, host: String = "127.0.0.1", port: Int, timeout: Double = 30) async throws -> ClientView? {
        try await query(path: "/client", ["id": id], host: host, port: port, timeout: timeout)
    }

    /// The participant with this key, or nil.
    public static func participant(key: PublicKey, host: String = "127.0.0.1", port: Int, timeout: Double = 30) async throws -> ParticipantView? {
        try await query(path: "/participant", ["key": Hex.encode(key.bytes)], host: host, port: port, timeout: timeout)
    }

    /// The participant holding the organization identifier `system|value`, or nil.
    public static func participant(identifier: String, host: String = "127.0.0.1", port: Int, timeout: Double = 30) async throws -> ParticipantView? {
        try await query(path: "/participant", ["identifier": identifier], host: host, port: port, timeout: timeout)
    }

    private static func query<T: Decodable>(path: String, _ parameters: [String: String], host: String, port: Int, timeout: Double) async throws -> T? {
        let response = try await send(host: host, port: port, method: "GET", path: path, query: parameters, timeout: timeout)
        let text = { String(decoding: response.body.prefix(500), as: UTF8.self) }
        switch response.status {
        case 200:
            do {
                return try JSONDecoder().decode(T.self, from: Data(response.body))
            } catch {
                throw RPCError(.badResponse, "GET \(path) answered 200 with a body that is not a \(T.self): \(text())")
            }
        case 404:
            return nil
        default:
            throw RPCError(.badResponse, "GET \(path) answered \(response.status): \(text())")
        }
    }
}
