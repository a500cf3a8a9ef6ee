import Crypto
public import Ledger

/// A one-validator chain, built in memory, that anchors a batch of records in its first block: receipts for tests,
/// the receipt benchmark and examples, made by the same ledger code a node runs.
public enum SampleChain {
    public struct AnchoredReceipt: Sendable {
        public let receipt: Receipt
        public let record: [UInt8]
        public let validators: ValidatorSet
    }

    /// The receipt of the fourth of five small Patient records.
    public static func anchoredReceipt(chainId: String, key a: SigningKey) throws -> AnchoredReceipt {
        let all = try anchoredReceipts(chainId: chainId, key: a, records: (0..<5).map { Array(#"{"id":"p\#($0)","resourceType":"Patient"}"#.utf8) })
        return all[3]
    }

    /// One receipt per record (served bytes), all anchored in one batch.
    public static func anchoredReceipts(chainId: String, key a: SigningKey, records: [[UInt8]]) throws -> [AnchoredReceipt] {
        let genesis = LedgerState(chainId: chainId, participants: [(a.publicKey, Participant(name: "Hospital A", nodeKey: a.publicKey, stake: 10))])
        var app = LedgerApplication(genesis: genesis)
        let salts = records.indices.map { n in (0..<32).map { UInt8(truncatingIfNeeded: n &* 31 &+ $0 &+ 1) } }
        let commitments = zip(records, salts).map { RecordLeaf.commitment(canonicalHash: Array(SHA256.hash(data: $0)), salt: $1) }
        let leafHashes = commitments.map(Merkle.leafHash)
        let root = Merkle.root(leafHashes: leafHashes)
        let keyName = "careledger.example/\(chainId)/\(a.publicKey.description.prefix(16))"
        let anchor = try Transaction(signing: .anchorBatch(AnchorBatch(root: root, leafCount: UInt64(records.count), firstTxid: 1, lastTxid: 1, canonicalForm: "careledger-canonical/1",
                                                                      submitter: a.publicKey)), nonce: 1, chainId: chainId, with: a)
        let bond = try Transaction(signing: .bond(amount: 1), nonce: 0, chainId: chainId, with: a)
        let txs = [bond, anchor]
        let validators = app.state.validators
        let header = BlockHeader(chainId: chainId, height: 1, time: 1_000, previousBlockId: [UInt8](repeating: 0, count: 32),
                                 transactionsRoot: Block.transactionsRoot(txs), stateRoot: app.committedRoot, validatorsHash: validators.hash,
                                 nextValidatorsHash: validators.hash, proposer: a.publicKey)
        let block = Block(header: header, transactions: txs, lastCommit: nil)
        if let problem = app.processProposal(block) { throw SampleChainError(problem) }
        guard app.finalizeBlock(block).results.allSatisfy({ $0.code == nil }) else { throw SampleChainError("a fixture transaction was refused") }
        app.commit()
        let vote = voteSignBytes(chainId: chainId, kind: .precommit, height: 1, round: 0, blockId: header.id)
        let commit = CommitCertificate(height: 1, round: 0, blockId: header.id, signatures: [CommitSignature(validator: a.publicKey, signature: try a.sign(vote))])
        let references = records.indices.map { "Patient/p\($0)/_history/1" }
        let manifest = zip(references, commitments).map { Merkle.leafHash(Receipt.manifestLeaf(reference: $0, commitment: $1)) }
        let checkpoint = try SignedNote.sign(text: Checkpoint(origin: keyName, size: UInt64(records.count), root: root,
                                                              extensions: [Receipt.manifestExtension(root: Merkle.root(leafHashes: manifest))]).text,
                                             keyName: keyName, key: a)
        let transactionProof = try Merkle.inclusionProof(index: 1, leafHashes: txs.map { Merkle.leafHash($0.encoded) })
        var out: [AnchoredReceipt] = []
        for n in records.indices {
            var receipt = Receipt(chainId: chainId, reference: references[n], canonicalHash: Array(SHA256.hash(data: records[n])), salt: salts[n],
                                  commitment: commitments[n], leafIndex: UInt64(n), treeSize: UInt64(records.count),
                                  inclusionProof: try Merkle.inclusionProof(index: n, leafHashes: leafHashes),
                                  batchRoot: root, anchorTransaction: anchor.encoded, transactionIndex: 1, transactionCount: 2,
                                  transactionProof: transactionProof, header: header, commit: commit, checkpoint: checkpoint, checkpointKeyName: keyName)
            receipt.manifestProof = try Merkle.inclusionProof(index: n, leafHashes: manifest)
            out.append(AnchoredReceipt(receipt: receipt, record: records[n], validators: validators))
        }
        return out
    }

    public struct SampleChainError: Error, CustomStringConvertible {
        public let description: String
        init(_ d: String) { description = d }
    }
}
