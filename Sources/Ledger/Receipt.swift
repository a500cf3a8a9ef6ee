import Crypto

/// The record commitment as the store computes it (docs/canonical-form.md, FHIRCore's `RecordCommitment`):
/// `SHA-256("careledger/record/v1" ‖ salt ‖ SHA-256(canonical bytes))`. It is the leaf data of an anchored batch.
public enum RecordLeaf {
    public static let domainTag = Array("careledger/record/v1".utf8)

    public static func commitment(canonicalHash: [UInt8], salt: [UInt8]) -> [UInt8] {
        var h = SHA256()
        h.update(data: domainTag)
        h.update(data: salt)
        h.update(data: canonicalHash)
        return Array(h.finalize())
    }
}

/// Everything needed to check offline that a record version is exactly the one a provider anchored
/// (docs/receipt.md): the record's hash and salt, its commitment's place in an anchored batch, the transaction
/// that anchored the batch and its place in a block, the block's header and the commit certificate that
/// finalized it, the light path that makes that commit trusted from the genesis validators when the validator set
/// changed since, and the batch root as a signed checkpoint.
public struct Receipt: Sendable, Hashable {
    public var chainId: String
    /// `Type/id/_history/version`.
    public var reference: String
    public var canonicalHash: [UInt8]
    public var salt: [UInt8]
    public var commitment: [UInt8]
    public var leafIndex: UInt64
    public var treeSize: UInt64
    public var inclusionProof: [[UInt8]]
    public var batchRoot: [UInt8]
    /// The `AnchorBatch` transaction, encoded, and its place among the block's transactions.
    public var anchorTransaction: [UInt8]
    public var transactionIndex: UInt64
    public var transactionCount: UInt64
    public var transactionProof: [[UInt8]]
    public var header: BlockHeader
    public var commit: CommitCertificate
    /// The batch as a C2SP tlog checkpoint, signed by the submitter under ``checkpointKeyName``.
    public var checkpoint: String
    public var checkpointKeyName: String
    /// The inclusion proof of (reference, commitment) in the batch's manifest: the tree, in leaf order, whose
    /// root the signed checkpoint carries as its `careledger-manifest` extension line. It binds the receipt's
    /// reference without putting references on the chain (they could identify patients).
    public var manifestProof: [[UInt8]] = []
    /// The light blocks, in increasing height below ``header``'s, that lead from the genesis validators to the set
    /// that signed ``commit`` (CometBFT skipping verification, ``LightClient``). Empty when the genesis validators
    /// themselves are trusted to have signed it.
    public var lightPath: [LightBlock] = []
    /// The validators that signed ``commit`` (hashing to the header's `validatorsHash`). Nil: the set the last
    /// trusted block named next (the genesis set when ``lightPath`` is empty).
    public var validators: ValidatorSet?

    public init(chainId: String, reference: String, canonicalHash: [UInt8], salt: [UInt8], commitment: [UInt8], leafIndex: UInt64,
                treeSize: UInt64, inclusionProof: [[UInt8]], batchRoot: [UInt8], anchorTransaction: [UInt8], transactionIndex: UInt64,
                transactionCount: UInt64, transactionProof: [[UInt8]], header: BlockHeader, commit: CommitCertificate, checkpoint: String,
                checkpointKeyName: String) {
        self.chainId = chainId
        self.reference = reference
        self.canonicalHash = canonicalHash
        self.salt = salt
        self.commitment = commitment
        self.leafIndex = leafIndex
        self.treeSize = treeSize
        self.inclusionProof = inclusionProof
        self.batchRoot = batchRoot
        self.anchorTransaction = anchorTransaction
        self.transactionIndex = transactionIndex
        self.transactionCount = transactionCount
        self.transactionProof = transactionProof
        self.header = header
        self.commit = commit
        self.checkpoint = checkpoint
        self.checkpointKeyName = checkpointKeyName
    }

    /// The manifest leaf data of a record version: tag, reference, commitment.
    public static func manifestLeaf(reference: String, commitment: [UInt8]) -> [UInt8] {
        var w = LedgerWriter()
        w.string(DomainTag.manifest)
        w.string(reference)
        w.fixed(commitment)
        return w.bytes
    }

    /// The checkpoint extension line that carries a batch's manifest root.
    public static func manifestExtension(root: [UInt8]) -> String { "careledger-manifest " + Base64.encode(root) }

    /// The first check that fails, named so a person can tell what is wrong.
    public struct Failure: Error, Sendable, Hashable, CustomStringConvertible {
        public let check: String
        public let reason: String
        public var description: String { "\(check): \(reason)" }
    }

    /// Checks the whole receipt against the validator set trusted for its chain (the genesis validators, the root
    /// of the light path) and, when given, the record's served bytes. Returns normally only if every check passes.
    public func verify(chainId trusted: String, validators: ValidatorSet, record: [UInt8]? = nil) throws(Receipt.Failure) {
        var cache = SignatureCache()
        try verify(chainId: trusted, validators: validators, record: record, cache: &cache)
    }

    /// The same, skipping signatures `cache` has already verified (the commit, light path and checkpoint shared by
    /// the receipts of one batch): every other check runs in full for every receipt.
    public func verify(chainId trusted: String, validators: ValidatorSet, record: [UInt8]?, cache: inout SignatureCache) throws(Receipt.Failure) {
        func fail(_ check: String, _ reason: String) -> Failure { Failure(check: check, reason: reason) }
        guard chainId == trusted, header.chainId == trusted else {
            throw fail("chain", "the receipt is for chain \(chainId) (header \(header.chainId)), not \(trusted)")
        }
        if let record {
            guard Array(SHA256.hash(data: record)) == canonicalHash else {
                throw fail("record", "the record's SHA-256 is not the receipt's canonical hash")
            }
        }
        guard salt.count == 32, canonicalHash.count == 32 else { throw fail("commitment", "the salt and canonical hash are 32 bytes each") }
        guard RecordLeaf.commitment(canonicalHash: canonicalHash, salt: salt) == commitment else {
            throw fail("commitment", "SHA-256(tag ‖ salt ‖ canonical hash) is not the receipt's commitment")
        }
        do throws(Merkle.Error) {
            try Merkle.verifyInclusion(leafHash: Merkle.leafHash(commitment), index: leafIndex, treeSize: treeSize, proof: inclusionProof, root: batchRoot)
        } catch {
            throw fail("inclusion", error.reason)
        }
        let tx: Transaction
        do throws(LedgerDecodingError) {
            tx = try Transaction(encoded: anchorTransaction)
        } catch {
            throw fail("anchor transaction", "it does not decode: \(error)")
        }
        guard case .anchorBatch(let batch) = tx.body else { throw fail("anchor transaction", "it is not an AnchorBatch") }
        guard batch.root == batchRoot, batch.leafCount == treeSize else {
            throw fail("anchor transaction", "it anchors another root or size than the receipt's batch")
        }
        // The transaction's own signature is not checked again: the validators admitted it into a block the commit
        // certificate finalizes (as a light client trusts the chain's execution), and the submitter's signature
        // over the same root and size is checked below, on the checkpoint.
        do throws(Merkle.Error) {
            try Merkle.verifyInclusion(leafHash: Merkle.leafHash(anchorTransaction), index: transactionIndex, treeSize: transactionCount,
                                       proof: transactionProof, root: header.transactionsRoot)
        } catch {
            throw fail("block transactions", error.reason)
        }
        // The light path from the genesis validators, then the anchoring block from the last trusted state.
        let root = TrustedState.genesis(chainId: trusted, validators: validators)
        let last: TrustedState
        do throws(LightClientError) {
            last = try LightClient.verify(path: lightPath, from: root, cache: &cache)
        } catch {
            throw fail("light path", error.description)
        }
        do throws(LightClientError) {
            try LightClient.verify(header: header, commit: commit, validators: self.validators ?? last.nextValidators, from: last, cache: &cache)
        } catch {
            throw fail("commit", error.description)
        }
        let text: String
        do throws(SignedNote.Error) {
            text = try SignedNote.open(checkpoint, keyName: checkpointKeyName, publicKey: batch.submitter, cache: &cache)
        } catch {
            throw fail("checkpoint", error.reason)
        }
        let parsed: Checkpoint
        do throws(SignedNote.Error) {
            parsed = try Checkpoint(text: text)
        } catch {
            throw fail("checkpoint", error.reason)
        }
        guard parsed.root == batchRoot, parsed.size == treeSize else { throw fail("checkpoint", "it signs another root or size than the batch") }
        let prefix = "careledger-manifest "
        guard let line = parsed.extensions.first(where: { $0.hasPrefix(prefix) }), let manifestRoot = Base64.decode(String(line.dropFirst(prefix.count))) else {
            throw fail("manifest", "the checkpoint carries no careledger-manifest line")
        }
        do throws(Merkle.Error) {
            try Merkle.verifyInclusion(leafHash: Merkle.leafHash(Receipt.manifestLeaf(reference: reference, commitment: commitment)), index: leafIndex,
                                       treeSize: treeSize, proof: manifestProof, root: manifestRoot)
        } catch {
            throw fail("manifest", "the reference is not the one the submitter signed for this leaf: \(error.reason)")
        }
    }
}
