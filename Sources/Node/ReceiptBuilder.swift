public import Ledger
public import RecordStore

/// Builds a record version's receipt (docs/receipt.md) from the store's receipt data and the block store.
public enum ReceiptBuilder {
    public enum Outcome: Sendable {
        case receipt(Receipt, record: [UInt8])
        /// The version exists but its batch is not committed yet (or it is still queued).
        case pending(String)
        case notFound(String)
    }

    public static func build(_ key: RecordKey, version: Int?, store: any RecordStore, blocks: BlockStore, chainId: String) async throws -> Outcome {
        let stored: StoredVersion?
        if let version {
            stored = try await store.version(key, version)
        } else {
            stored = try await store.current(key)
        }
        guard let stored else {
            return .notFound(version.map { "\(key)/_history/\($0) is not in the store" } ?? "\(key) is not in the store")
        }
        let reference = AnchoringService.reference(key, stored.version)
        guard let location = try await store.anchorLocation(key, version: stored.version) else {
            return .pending("\(reference) waits in the anchoring queue")
        }
        guard let heightValue = location.height, heightValue > 0, let batch = try await store.anchorBatch(id: location.batch),
              let transactionIndex = batch.transactionIndex else {
            return .pending("\(reference) is in anchor batch \(location.batch), whose transaction is not committed yet")
        }
        let height = UInt64(heightValue)
        try blocks.refresh()
        guard let block = try blocks.block(at: height) else {
            throw NodeError("the store says batch \(batch.id) was anchored at height \(height), but this home's block store ends at \(blocks.height): is --home the node that anchors --store?")
        }
        let transactions = block.block.transactions
        guard transactionIndex >= 0, transactionIndex < transactions.count, case .anchorBatch(let anchor) = transactions[transactionIndex].body,
              anchor.root == batch.root else {
            throw NodeError("transaction \(transactionIndex) of block \(height) is not the AnchorBatch of batch \(batch.id)")
        }
        let leaves = try await store.batchLeaves(batch.id)
        guard leaves.count == batch.leafCount, location.leaf >= 0, location.leaf < leaves.count else {
            throw NodeError("anchor batch \(batch.id) has \(leaves.count) leaves in the store; its row says \(batch.leafCount)")
        }
        let leafHashes = leaves.map { Merkle.leafHash($0.commitment) }
        let manifest = leaves.map { Merkle.leafHash(Receipt.manifestLeaf(reference: AnchoringService.reference($0.key, $0.version), commitment: $0.commitment)) }
        var receipt = Receipt(chainId: chainId, reference: reference, canonicalHash: stored.canonicalHash, salt: stored.salt,
                              commitment: stored.commitment, leafIndex: UInt64(location.leaf), treeSize: UInt64(leaves.count),
                              inclusionProof: try Merkle.inclusionProof(index: location.leaf, leafHashes: leafHashes), batchRoot: batch.root,
                              anchorTransaction: transactions[transactionIndex].encoded, transactionIndex: UInt64(transactionIndex),
                              transactionCount: UInt64(transactions.count),
                              transactionProof: try Merkle.inclusionProof(index: transactionIndex, leafHashes: transactions.map { Merkle.leafHash($0.encoded) }),
                              header: block.block.header, commit: block.commit, checkpoint: batch.checkpoint,
                              checkpointKeyName: AnchoringService.keyName(chainId: chainId, key: anchor.submitter))
        receipt.manifestProof = try Merkle.inclusionProof(index: location.leaf, leafHashes: manifest)
        return .receipt(receipt, record: stored.canonical)
    }
}
