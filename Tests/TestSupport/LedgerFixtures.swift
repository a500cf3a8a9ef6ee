public import Crypto
public import Ledger

/// A one-validator chain that anchors five records in its first block, and the receipt of the fourth: what the
/// receipt tests verify and tamper with.
public enum LedgerFixtures {
    public struct AnchoredReceipt: Sendable {
        public let receipt: Receipt
        public let record: [UInt8]
        public let validators: ValidatorSet
    }

    public static func anchoredReceipt(chainId: String, key a: SigningKey) throws -> AnchoredReceipt {
        let genesis = LedgerState(chainId: chainId, participants: [(a.publicKey, Participant(name: "Hospital A", nodeKey: a.publicKey, stake: 10))])
        var app = LedgerApplication(genesis: genesis)
        let records = (0..<5).map { Array(#"{"id":"p\#($0)","resourceType":"Patient"}"#.utf8) }
        let salts = (0..<5).map { [UInt8](repeating: UInt8($0 + 1), count: 32) }
        let commitments = zip(records, salts).map { RecordLeaf.commitment(canonicalHash: Array(SHA256.hash(data: $0)), salt: $1) }
        let leafHashes = commitments.map(Merkle.leafHash)
        let root = Merkle.root(leafHashes: leafHashes)
        let keyName = "careledger.example/\(chainId)/\(a.publicKey.description.prefix(16))"
        let anchor = try Transaction(signing: .anchorBatch(AnchorBatch(root: root, leafCount: 5, firstTxid: 1, lastTxid: 1, canonicalForm: "careledger-canonical/1",
                                                                      submitter: a.publicKey)), nonce: 1, chainId: chainId, with: a)
        let bond = try Transaction(signing: .bond(amount: 1), nonce: 0, chainId: chainId, with: a)
        let txs = [bond, anchor]
        let validators = app.state.validators
        let header = BlockHeader(chainId: chainId, height: 1, time: 1_000, previousBlockId: [UInt8](repeating: 0, count: 32),
                                 transactionsRoot: Block.transactionsRoot(txs), stateRoot: app.committedRoot, validatorsHash: validators.hash,
                                 nextValidatorsHash: validators.hash, proposer: a.publicKey)
        let block = Block(header: header, transactions: txs, lastCommit: nil)
        if let problem = app.processProposal(block) { throw FixtureError(problem) }
        guard app.finalizeBlock(block).results.allSatisfy({ $0.code == nil }) else { throw FixtureError("a fixture transaction was refused") }
        app.commit()
        let vote = voteSignBytes(chainId: chainId, kind: .precommit, height: 1, round: 0, blockId: header.id)
        let commit = CommitCertificate(height: 1, round: 0, blockId: header.id, signatures: [CommitSignature(validator: a.publicKey, signature: try a.sign(vote))])
        let checkpoint = try SignedNote.sign(text: Checkpoint(origin: keyName, size: 5, root: root).text, keyName: keyName, key: a)
        var receipt = Receipt(chainId: chainId, reference: "Patient/p3/_history/1", canonicalHash: Array(SHA256.hash(data: records[3])), salt: salts[3],
                              commitment: commitments[3], leafIndex: 3, treeSize: 5, inclusionProof: try Merkle.inclusionProof(index: 3, leafHashes: leafHashes),
                              batchRoot: root, anchorTransaction: anchor.encoded, transactionIndex: 1, transactionCount: 2,
                              transactionProof: try Merkle.inclusionProof(index: 1, leafHashes: txs.map { Merkle.leafHash($0.encoded) }),
                              header: header, commit: commit, checkpoint: checkpoint, checkpointKeyName: keyName)
        try receipt.attest(with: a)
        return AnchoredReceipt(receipt: receipt, record: records[3], validators: validators)
    }

    public struct FixtureError: Error, CustomStringConvertible {
        public let description: String
        init(_ d: String) { description = d }
    }
}
