public import Foundation
public import Ledger
public import Node

/// A transaction of a home's participant, submitted to its running node from the command line: signed with the
/// home's key (`config/node_key.json`) and sent to `POST /broadcast_tx?wait=commit`, which answers once it is in a
/// block. Client registrations and identifier changes go this way.
///
/// The node signs its own transactions (anchors, consents) with the same key and nonce sequence, so the nonce comes
/// from the node (`GET /participant`), counting its mempool; when another transaction of the node's takes that
/// nonce first the ledger answers `badNonce`, and the transaction is signed again with the next one.
public struct ParticipantSubmission: Sendable {
    /// Where a transaction landed.
    public struct Committed: Sendable, Hashable {
        /// The transaction's hash, hex.
        public var transaction: String
        public var height: UInt64
        /// The signing participant: its Ed25519 key, hex.
        public var participant: String
    }

    public let home: NodeHome
    public let host: String
    /// How many times a transaction is signed again after losing its nonce to another transaction of the node's.
    public static let nonceAttempts = 5

    public init(home: NodeHome, host: String = "127.0.0.1") {
        self.home = home
        self.host = host
    }

    /// Signs and submits `body`. A refusal by the ledger is `unprocessable` (or `conflict` for `refusedAsConflict`
    /// codes), a signer that is not a participant `forbidden`, an unreadable home `notFound`, an unreachable node
    /// `unavailable`.
    public func submit(_ body: TransactionBody, refusedAsConflict: Set<TransactionError.Code> = []) async throws(ServiceError) -> Committed {
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
                throw ServiceError(.forbidden, "\(key.publicKey) (this home's key) is not a participant of chain \(chainId)")
            }
            let tx: Transaction
            do {
                tx = try Transaction(signing: body, nonce: participant.nextNonce, chainId: chainId, with: key)
            } catch {
                throw ServiceError(.internal, "the transaction could not be signed: \(error)")
            }
            if let height = try await broadcast(tx, port: port, refusedAsConflict: refusedAsConflict) {
                return Committed(transaction: Hex.encode(tx.hash), height: height, participant: participant.participant)
            }
        }
        throw ServiceError(.conflict, "the node's own transactions took this key's nonce \(Self.nonceAttempts) times in a row; try again")
    }

    /// This home's participant as its running node has it (name, identifiers, stake, next nonce): `notFound` when
    /// the home has no key or no running node, `unavailable` when the node cannot be asked, `forbidden` when the
    /// key is not a participant.
    public func participant() async throws(ServiceError) -> ParticipantView {
        let key: SigningKey, port: Int
        do {
            key = try home.nodeKey()
            port = try home.rpcPort()
        } catch {
            throw ServiceError(.notFound, "\(home.root.path) has no node key or no running node's RPC port: \(error)")
        }
        let view: ParticipantView?
        do {
            view = try await RPCClient.participant(key: key.publicKey, host: host, port: port)
        } catch {
            throw ServiceError(.unavailable, "the node at \(host):\(port) cannot be asked: \(error)")
        }
        guard let view else { throw ServiceError(.forbidden, "\(key.publicKey) (this home's key) is not a participant") }
        return view
    }

    /// The node's answer to `POST /broadcast_tx?wait=commit`: an inclusion, or a refusal with its code.
    struct BroadcastAnswer: Decodable {
        var height: UInt64?
        var code: String?
        var message: String?
    }

    /// The height `tx` was committed at, or nil when it lost its nonce.
    func broadcast(_ tx: Transaction, port: Int, refusedAsConflict: Set<TransactionError.Code>) async throws(ServiceError) -> UInt64? {
        let response: RPCResponse
        do {
            response = try await RPCClient.send(host: host, port: port, method: "POST", path: "/broadcast_tx", query: ["wait": "commit"], body: tx.encoded, timeout: 120)
        } catch {
            throw ServiceError(.unavailable, "the node at \(host):\(port) cannot be reached: \(error)")
        }
        let text = String(decoding: response.body.prefix(300), as: UTF8.self)
        guard let answer = try? JSONDecoder().decode(BroadcastAnswer.self, from: Data(response.body)) else {
            throw ServiceError(.internal, "the node answered \(response.status) with \(text)")
        }
        if answer.code == TransactionError.Code.badNonce.rawValue { return nil }
        if let code = answer.code {
            let refused = response.status == 200 ? "the ledger refused the transaction in block \(answer.height ?? 0)" : "the ledger refused the transaction"
            if response.status == 503 { throw ServiceError(.unavailable, "\(refused): \(code): \(answer.message ?? "")") }
            let conflict = TransactionError.Code(rawValue: code).map(refusedAsConflict.contains) ?? false
            throw ServiceError(conflict ? .conflict : .unprocessable, "\(refused): \(code): \(answer.message ?? "")")
        }
        guard response.status == 200, let height = answer.height else { throw ServiceError(.internal, "the node answered \(response.status) with \(text)") }
        return height
    }
}
