import Foundation
import Node

/// Partner clients as registered on the ledger, read through the node's loopback RPC (`GET /client?id=`): a client
/// registration transaction signed by the partner's participant carries the client id, its JWKS and the scopes the
/// consortium grants; key rotation is another such transaction, so the node answers with the latest.
public struct LedgerClientDirectory: ClientDirectory {
    /// Where the node's RPC is, asked at each lookup (a node may restart on another port).
    private let endpoint: @Sendable () throws -> (host: String, port: Int)
    /// Seconds to wait for the node.
    public var timeout: Double

    public init(timeout: Double = 10, endpoint: @escaping @Sendable () throws -> (host: String, port: Int)) {
        self.endpoint = endpoint
        self.timeout = timeout
    }

    public init(host: String = "127.0.0.1", port: Int, timeout: Double = 10) {
        self.init(timeout: timeout) { (host, port) }
    }

    public func client(id: String) async throws -> RegisteredClient? {
        let (host, port) = try endpoint()
        let view: ClientView?
        do {
            view = try await RPCClient.client(id: id, host: host, port: port, timeout: timeout)
        } catch {
            throw ServiceError(.unavailable, "the node's client registry cannot be reached: \(error)")
        }
        guard let view else { return nil }
        guard view.clientId == id else {
            throw ServiceError(.internal, "the node answered client '\(view.clientId)' when asked for '\(id)'")
        }
        let keys: ClientKeySet
        do {
            keys = try JSONDecoder().decode(ClientKeySet.self, from: JSONEncoder().encode(view.jwks))
        } catch {
            throw ServiceError(.internal, "the ledger's JWKS of client '\(id)' has no keys list: \(error)")
        }
        return RegisteredClient(clientId: view.clientId, kind: .partner, participant: view.participant,
                                participantName: view.participantName, identifiers: view.identifiers,
                                keys: keys, scopes: ScopeSet(parsing: view.scopes))
    }
}
