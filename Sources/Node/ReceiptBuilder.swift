public import Ledger
public import RecordStore

/// Builds a record version's receipt (docs/receipt.md) from the store's receipt data and the chain: the anchoring
/// block, and a light path to it from the genesis validators when the validator set changed since.
public enum ReceiptBuilder {
    public enum Outcome: Sendable {
        case receipt(Receipt, record: [UInt8])
        /// The version exists but its batch is not committed yet (or it is still queued).
        case pending(String)
        case notFound(String)
    }

    /// The receipt of `key` at `version` (the current version when nil), with the block and light path from `chain`.
    /// `refresh`: `chain` is a read-only view beside a running node (``Chain/refresh()`` picks up the blocks it
    /// appended, after the store said where the version is); never for the node's own chain.
    public static func build(_ key: RecordKey, version: Int?, store: any RecordStore, chain: Chain, refresh: Bool = false) async throws -> Outcome {
        let chainId = chain.genesis.chainId
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
        if refresh { try await chain.refresh() }
        let tip = await chain.height
        guard height <= tip, let block = try await chain.block(at: height) else {
            throw NodeError("the store says batch \(batch.id) was anchored at height \(height), but this home's chain ends at \(tip): is --home the node that anchors --store?")
        }
        let transactions = block.block.transactions
        guard transactionIndex >= 0, transactionIndex < transactions.count, case .anchorBatch(let anchor) = transactions[transactionIndex].body,
              anchor.root == batch.root else {
            throw NodeError("transaction \(transactionIndex) of block \(height) is not the AnchorBatch of batch \(batch.id): the store's batch was anchored on another chain than this home's (\(chainId)); is --home the node that anchors --store? A store stays with the chain that anchored it")
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
        (receipt.lightPath, receipt.validators) = try await lightEvidence(to: height, in: chain)
        return .receipt(receipt, record: stored.canonical)
    }

    /// What a receipt or consent proof of block `height` carries to be trusted from the genesis validators: the
    /// light path (``lightPath(to:in:)``) and the set that signed the block, set only when the path is not empty or
    /// that set is not the genesis set; otherwise `([], nil)`, and the proof stays in its /1 format.
    public static func lightEvidence(to height: UInt64, in chain: Chain) async throws -> (lightPath: [LightBlock], validators: ValidatorSet?) {
        let light = try await lightPath(to: height, in: chain)
        guard !light.path.isEmpty || light.target.validators != chain.genesis.validatorSet else { return ([], nil) }
        return (light.path, light.target.validators)
    }

    /// The light blocks that take a verifier from the genesis validators to block `height`, chosen by bisection as
    /// CometBFT's light client does: jump straight from the trusted state to the target; when the trusted validators
    /// that signed it hold too little power (``LightClientError/Code/insufficientTrust``), verify the block halfway
    /// first, recursively. Every step is verified here as the receipt's verifier will. `path` is empty when the
    /// genesis validators can be trusted for the target directly; `target` is block `height` itself.
    public static func lightPath(to height: UInt64, in chain: Chain) async throws -> (path: [LightBlock], target: LightBlock) {
        let genesis = chain.genesis
        var cache = SignatureCache()
        var trusted = TrustedState.genesis(chainId: genesis.chainId, validators: genesis.validatorSet)
        var path: [LightBlock] = []
        // The blocks still to verify, the target at the bottom, the latest pivot on top.
        var pending = [try await lightBlock(at: height, in: chain)]
        while let candidate = pending.last {
            do throws(LightClientError) {
                let next = try LightClient.verify(candidate, from: trusted, cache: &cache)
                pending.removeLast()
                if pending.isEmpty { return (path, candidate) }
                path.append(candidate)
                trusted = next
            } catch {
                // Too little trust means too far: verify a pivot strictly between first (skipping spans 2 or more).
                guard error.code == .insufficientTrust, candidate.header.height >= trusted.height + 2 else {
                    throw NodeError("block \(candidate.header.height) of this chain does not verify as a light client would: \(error)")
                }
                pending.append(try await lightBlock(at: trusted.height + (candidate.header.height - trusted.height) / 2, in: chain))
            }
        }
        throw NodeError("the light path to height \(height) ended without its target")
    }

    /// Block `height` of `chain` with the validators that signed it and those of the next height.
    static func lightBlock(at height: UInt64, in chain: Chain) async throws -> LightBlock {
        guard let stored = try await chain.block(at: height), let validators = await chain.validatorSet(at: height),
              let next = await chain.validatorSet(at: height + 1) else {
            throw NodeError("the chain has no block \(height) with its validator sets (it ends at \(await chain.height))")
        }
        return LightBlock(header: stored.block.header, commit: stored.commit, validators: validators, nextValidators: next)
    }
}
