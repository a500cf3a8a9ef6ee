/// A record version in the anchoring queue: what the anchoring service hashes into a batch's Merkle tree.
public struct QueuedCommitment: Sendable, Hashable {
    /// The store transaction that wrote the version; the queue is read oldest txid first.
    public var txid: Int64
    public var key: RecordKey
    public var version: Int
    /// The version's commitment (docs/store.md): the batch's leaf.
    public var commitment: [UInt8]

    public init(txid: Int64, key: RecordKey, version: Int, commitment: [UInt8]) {
        self.txid = txid
        self.key = key
        self.version = version
        self.commitment = commitment
    }
}

/// A batch of commitments the anchoring service made; `height` and `transactionIndex` are nil until its
/// AnchorBatch transaction is committed.
public struct AnchorBatchRow: Sendable, Hashable {
    /// The store's id of the batch, increasing in the order batches were made.
    public var id: Int64
    /// The Merkle root of the batch's commitments, in leaf order (unique among batches).
    public var root: [UInt8]
    public var leafCount: Int
    /// The lowest and highest txid of the batch's versions.
    public var firstTxid: Int64
    public var lastTxid: Int64
    /// The signed checkpoint (a signed note) of the batch's tree.
    public var checkpoint: String
    /// The height of the block whose transactions include the batch's AnchorBatch.
    public var height: Int64?
    /// The position of the AnchorBatch transaction in that block.
    public var transactionIndex: Int?

    public init(id: Int64, root: [UInt8], leafCount: Int, firstTxid: Int64, lastTxid: Int64, checkpoint: String,
                height: Int64? = nil, transactionIndex: Int? = nil) {
        self.id = id
        self.root = root
        self.leafCount = leafCount
        self.firstTxid = firstTxid
        self.lastTxid = lastTxid
        self.checkpoint = checkpoint
        self.height = height
        self.transactionIndex = transactionIndex
    }
}

/// Where a record version was anchored.
public struct AnchorLocation: Sendable, Hashable {
    /// The batch the version is a leaf of.
    public var batch: Int64
    /// The version's leaf index in the batch (0-based).
    public var leaf: Int
    /// The height the batch's transaction was committed at; nil while it is not committed yet.
    public var height: Int64?

    public init(batch: Int64, leaf: Int, height: Int64?) {
        self.batch = batch
        self.leaf = leaf
        self.height = height
    }
}

/// One leaf of a batch, in leaf order.
public struct BatchLeaf: Sendable, Hashable {
    public var key: RecordKey
    public var version: Int
    public var commitment: [UInt8]

    public init(key: RecordKey, version: Int, commitment: [UInt8]) {
        self.key = key
        self.version = version
        self.commitment = commitment
    }
}

/// Why a batch was refused, worded the same by both stores.
enum AnchorBatchFailure {
    static let operation = "creating an anchor batch"

    static var empty: StoreError { StoreError(operation, "a batch needs at least one leaf") }

    static func sameRoot(as batch: Int64) -> StoreError {
        StoreError(operation, "anchor batch \(batch) has the same root")
    }

    static func missing(_ key: RecordKey, _ version: Int) -> StoreError {
        StoreError(operation, "\(key) version \(version) is not in the store")
    }

    static func listedTwice(_ key: RecordKey, _ version: Int) -> StoreError {
        StoreError(operation, "\(key) version \(version) is listed twice")
    }

    static func alreadyBatched(_ key: RecordKey, _ version: Int, batch: Int64) -> StoreError {
        StoreError(operation, "\(key) version \(version) is already in anchor batch \(batch)")
    }
}
