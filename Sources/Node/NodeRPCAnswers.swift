public import Foundation
public import Ledger

/// The JSON bodies of the node's loopback RPC (docs/node.md), one `Codable` type per answer: the server encodes them
/// with ``RPCJSON/encode(_:)`` and the readers (`node status`, the load generator, the consent ledger) decode the
/// same types. Keys only ever get added, so older readers keep working.

/// `GET /status` and `careledger node status --json`.
public struct NodeStatusAnswer: Codable, Sendable, Hashable {
    /// One validator: its Ed25519 key (base64) and voting power.
    public struct Validator: Codable, Sendable, Hashable {
        public var publicKey: String
        public var power: UInt64

        public init(publicKey: String, power: UInt64) {
            self.publicKey = publicKey
            self.power = power
        }
    }

    public var chainId: String
    public var height: UInt64
    /// The last block's id, hex.
    public var blockId: String
    /// The last block's time, milliseconds since the epoch.
    public var time: Int64
    /// The state root the next header carries, hex.
    public var appHash: String
    /// The same value as `appHash`, under its older key.
    public var stateRoot: String?
    public var validators: [Validator]
    public var nextValidators: [Validator]
    public var mempool: Int
    /// Only in `node status`: whether the answer came from a running node.
    public var running: Bool?

    public init(_ s: ChainStatus) {
        let root = Ledger.Hex.encode(s.stateRoot)
        chainId = s.chainId
        height = s.height
        blockId = Ledger.Hex.encode(s.blockId)
        time = s.time
        appHash = root
        stateRoot = root
        validators = Self.validators(s.validators)
        nextValidators = Self.validators(s.nextValidators)
        mempool = s.mempool
    }

    /// The set in key order, as the ledger keeps it.
    static func validators(_ set: ValidatorSet) -> [Validator] {
        set.validators.map { Validator(publicKey: Base64.encode($0.key.bytes), power: $0.power) }
    }
}

/// A refusal: `code` (a ledger `TransactionError` code, or the RPC's own: `malformed`, `unavailable`, `refused`,
/// `not-found`, `too-large`, `bad-request`) and `message`; `hash` when a transaction was decoded.
public struct RPCRefusal: Codable, Sendable, Hashable, Error {
    public var code: String
    public var message: String
    public var hash: String?
    /// The message again, under the key the listener's own refusals (413, 400) used before they had `code`.
    public var error: String?

    public init(code: String, message: String, hash: String? = nil, error: String? = nil) {
        self.code = code
        self.message = message
        self.hash = hash
        self.error = error
    }
}

/// Where a transaction landed: `POST /broadcast_tx?wait=commit` and `POST /submit_consent`. `code` and `message`
/// are there when the transaction was included but failed (as CometBFT's DeliverTx result).
public struct InclusionAnswer: Codable, Sendable, Hashable {
    public var hash: String
    public var height: UInt64
    public var index: Int
    public var code: String?
    public var message: String?

    public init(_ tx: Transaction, _ inclusion: Inclusion) {
        hash = Ledger.Hex.encode(tx.hash)
        height = inclusion.height
        index = inclusion.index
        if let code = inclusion.result.code {
            self.code = code.rawValue
            message = inclusion.result.message
        }
    }
}

/// `POST /broadcast_tx` without waiting: the transaction is in the mempool (202).
public struct AdmittedAnswer: Codable, Sendable, Hashable {
    public var hash: String

    public init(hash: String) { self.hash = hash }
}

/// `POST /check_consent` when the node would admit the directive now.
public struct ConsentCheckAnswer: Codable, Sendable, Hashable {
    public var ok: Bool

    public init(ok: Bool) { self.ok = ok }
}

/// `POST /broadcast_txs`: how many were admitted, and each refusal by its index in the batch.
public struct BatchAnswer: Codable, Sendable, Hashable {
    public struct Refusal: Codable, Sendable, Hashable {
        public var index: Int
        public var code: String
        public var message: String
        /// For `badNonce`: the nonce the node expects from that signer next.
        public var expectedNonce: UInt64?

        public init(index: Int, code: String, message: String, expectedNonce: UInt64? = nil) {
            self.index = index
            self.code = code
            self.message = message
            self.expectedNonce = expectedNonce
        }
    }

    public var accepted: Int
    public var refused: [Refusal]
    public var refusedCount: Int

    public init(accepted: Int, refused: [Refusal], refusedCount: Int) {
        self.accepted = accepted
        self.refused = refused
        self.refusedCount = refusedCount
    }
}

/// `POST /unsafe/disconnect` and `/unsafe/reconnect`.
public struct ConnectionAnswer: Codable, Sendable, Hashable {
    public var connected: Bool

    public init(connected: Bool) { self.connected = connected }
}

/// `GET /unsafe/consensus`: the engine's position and the peers with a session (base64 keys).
public struct ConsensusPositionAnswer: Codable, Sendable, Hashable {
    public var height: UInt64
    public var round: Int
    public var step: String
    public var peers: [String]

    public init(height: UInt64, round: Int, step: String, peers: [String]) {
        self.height = height
        self.round = round
        self.step = step
        self.peers = peers
    }
}

/// `GET /health` on the RPC listener: a static answer that does no work (benchmarks measure against it).
public struct HealthAnswer: Codable, Sendable, Hashable {
    public var status: String

    public init(status: String = "ok") { self.status = status }
}

/// `data/rpc.json`: where a running node's RPC listens, and which process it is.
public struct RPCEndpoint: Codable, Sendable, Hashable {
    public var host: String
    public var port: Int
    public var pid: Int

    public init(host: String, port: Int, pid: Int) {
        self.host = host
        self.port = port
        self.pid = pid
    }
}

/// The one encoder and decoder of the RPC's JSON: keys sorted, so equal answers are equal bytes.
public enum RPCJSON {
    public static func encode(_ value: some Encodable) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // The answer types hold only strings, integers, booleans and arrays of them: encoding cannot fail.
        return (try? encoder.encode(value)).map(Array.init) ?? Array("{}".utf8)
    }

    /// `value` as a JSON response with `status`.
    public static func response(_ status: Int, _ value: some Encodable) -> RPCResponse {
        RPCResponse.json(status, encode(value))
    }

    public static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
        try JSONDecoder().decode(type, from: Data(bytes))
    }
}
