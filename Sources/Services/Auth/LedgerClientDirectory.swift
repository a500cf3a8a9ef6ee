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

    /// The node's answer (engineer B's `/client` RPC): the registration as the ledger holds it.
    struct Record: Decodable {
        var clientId: String
        var participant: String
        var participantName: String?
        var identifiers: [String]?
        var jwks: ClientKeySet
        var scopes: [String]
        var height: Int64?
    }

    /// The longest answer read: a JWKS of a few keys and a scope list fit easily.
    static let maximumResponseBytes = 256 << 10

    public func client(id: String) async throws -> RegisteredClient? {
        let (host, port) = try endpoint()
        let response: RPCResponse
        do {
            response = try await RPCClient.send(host: host, port: port, method: "GET", path: "/client", query: ["id": id],
                                                timeout: timeout)
        } catch {
            throw ServiceError(.unavailable, "the node's client registry cannot be reached: \(error)")
        }
        if response.status == 404 { return nil }
        guard response.status == 200 else {
            throw ServiceError(.unavailable, "the node answered \(response.status) to a client lookup")
        }
        guard response.body.count <= Self.maximumResponseBytes else {
            throw ServiceError(.unavailable, "the node's client record is over \(Self.maximumResponseBytes) bytes")
        }
        let record: Record
        do {
            record = try JSONDecoder().decode(Record.self, from: Data(response.body))
        } catch {
            throw ServiceError(.internal, "the node's client record for '\(id)' cannot be read: \(error)")
        }
        guard record.clientId == id else {
            throw ServiceError(.internal, "the node answered client '\(record.clientId)' when asked for '\(id)'")
        }
        return RegisteredClient(clientId: record.clientId, kind: .partner, participant: record.participant,
                                participantName: record.participantName, identifiers: record.identifiers ?? [],
                                keys: record.jwks, scopes: ScopeSet(parsing: record.scopes))
    }
}
