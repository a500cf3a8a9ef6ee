import Crypto
import FHIRCore
import Ledger
import Testing

@Suite("Offline receipts")
struct ReceiptTests {
    static let chainId = "careledger-receipts"

    /// A one-validator chain that anchors five records in its first block, and the receipt of the fourth.
    static func make() throws -> (receipt: Receipt, record: [UInt8], validators: ValidatorSet) {
        let a = try SigningKey(seed: [UInt8](repeating: 21, count: 32))
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
        #expect(app.processProposal(block) == nil)
        #expect(app.finalizeBlock(block).results.allSatisfy { $0.code == nil })
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
        return (receipt, records[3], validators)
    }

    @Test func aReceiptVerifiesWithAndWithoutTheRecord() throws {
        let (r, record, validators) = try Self.make()
        try r.verify(chainId: Self.chainId, validators: validators)
        try r.verify(chainId: Self.chainId, validators: validators, record: record)
    }

    @Test func theLeafIsTheStoresCommitment() throws {
        let hash = Array(SHA256.hash(data: [1, 2, 3]))
        let salt = [UInt8](repeating: 9, count: 32)
        #expect(RecordLeaf.commitment(canonicalHash: hash, salt: salt) == (try RecordCommitment(canonicalHash: hash, salt: salt)).value)
    }

    /// Flipping any single bit of any part of the receipt, or of the record, makes verification fail.
    @Test func everySingleBitFlipFails() throws {
        let (r, record, validators) = try Self.make()
        var flips = 0
        func mustFail(_ tampered: Receipt, record tamperedRecord: [UInt8]? = nil, _ what: String) {
            flips += 1
            #expect(throws: Receipt.Failure.self, "\(what)") {
                try tampered.verify(chainId: Self.chainId, validators: validators, record: tamperedRecord ?? record)
            }
        }
        func eachFlip(_ bytes: [UInt8], _ body: ([UInt8]) -> Void) {
            for i in 0..<bytes.count * 8 {
                var b = bytes
                b[i / 8] ^= UInt8(1 << (i % 8))
                body(b)
            }
        }
        eachFlip(record) { mustFail(r, record: $0, "record") }
        eachFlip(Array(r.reference.utf8)) { bytes in
            guard let s = String(validating: bytes, as: UTF8.self) else { return }
            var t = r
            t.reference = s
            mustFail(t, "reference")
        }
        eachFlip(Array(r.chainId.utf8)) { bytes in
            guard let s = String(validating: bytes, as: UTF8.self) else { return }
            var t = r
            t.chainId = s
            mustFail(t, "chain id")
        }
        eachFlip(Array(r.checkpointKeyName.utf8)) { bytes in
            guard let s = String(validating: bytes, as: UTF8.self) else { return }
            var t = r
            t.checkpointKeyName = s
            mustFail(t, "checkpoint key name")
        }
        eachFlip(r.attestation) { var t = r; t.attestation = $0; mustFail(t, "attestation") }
        eachFlip(r.canonicalHash) { var t = r; t.canonicalHash = $0; mustFail(t, "canonical hash") }
        eachFlip(r.salt) { var t = r; t.salt = $0; mustFail(t, "salt") }
        eachFlip(r.commitment) { var t = r; t.commitment = $0; mustFail(t, "commitment") }
        eachFlip(r.batchRoot) { var t = r; t.batchRoot = $0; mustFail(t, "batch root") }
        for (n, node) in r.inclusionProof.enumerated() { eachFlip(node) { var t = r; t.inclusionProof[n] = $0; mustFail(t, "inclusion proof \(n)") } }
        for (n, node) in r.transactionProof.enumerated() { eachFlip(node) { var t = r; t.transactionProof[n] = $0; mustFail(t, "transaction proof \(n)") } }
        eachFlip(r.anchorTransaction) { var t = r; t.anchorTransaction = $0; mustFail(t, "anchor transaction") }
        eachFlip(r.header.encoded) { bytes in
            guard let h = try? BlockHeader(encoded: bytes) else { return }
            var t = r
            t.header = h
            mustFail(t, "header")
        }
        eachFlip(r.commit.encoded) { bytes in
            guard let c = try? CommitCertificate(encoded: bytes) else { return }
            var t = r
            t.commit = c
            mustFail(t, "commit")
        }
        eachFlip(Array(r.checkpoint.utf8)) { bytes in
            guard let s = String(validating: bytes, as: UTF8.self) else { return }
            var t = r
            t.checkpoint = s
            mustFail(t, "checkpoint")
        }
        for (field, value) in [("leafIndex", r.leafIndex), ("treeSize", r.treeSize), ("transactionIndex", r.transactionIndex), ("transactionCount", r.transactionCount)] {
            for bit in 0..<64 {
                var t = r
                let flipped = value ^ (1 << UInt64(bit))
                switch field {
                case "leafIndex": t.leafIndex = flipped
                case "treeSize": t.treeSize = flipped
                case "transactionIndex": t.transactionIndex = flipped
                default: t.transactionCount = flipped
                }
                mustFail(t, "\(field) bit \(bit)")
            }
        }
        print("receipts: \(flips) single-bit flips, every one refused")
        #expect(flips > 10_000)
    }
}
