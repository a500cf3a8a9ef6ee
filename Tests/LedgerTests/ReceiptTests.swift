import Foundation
import Crypto
import FHIRCore
import Ledger
import Node
import TestSupport
import Testing

@Suite("Offline receipts")
struct ReceiptTests {
    static let chainId = "careledger-receipts"

    static func make() throws -> (receipt: Receipt, record: [UInt8], validators: ValidatorSet) {
        let f = try SampleChain.anchoredReceipt(chainId: chainId, key: try SigningKey(seed: [UInt8](repeating: 21, count: 32)))
        return (f.receipt, f.record, f.validators)
    }

    @Test func aReceiptVerifiesWithAndWithoutTheRecord() throws {
        let (r, record, validators) = try Self.make()
        try r.verify(chainId: Self.chainId, validators: validators)
        try r.verify(chainId: Self.chainId, validators: validators, record: record)
    }

    /// A cache of verified signatures never lets changed bytes through: after the good receipt filled it, a
    /// receipt with another header or checkpoint is still refused.
    @Test func theSignatureCacheKeepsEveryCheck() throws {
        let (r, record, validators) = try Self.make()
        var cache = SignatureCache()
        try r.verify(chainId: Self.chainId, validators: validators, record: record, cache: &cache)
        var header = r
        header.header.time += 1
        #expect(throws: Receipt.Failure.self) { try header.verify(chainId: Self.chainId, validators: validators, record: record, cache: &cache) }
        var note = r
        note.checkpoint = r.checkpoint.replacingOccurrences(of: "\n5\n", with: "\n6\n")
        #expect(throws: Receipt.Failure.self) { try note.verify(chainId: Self.chainId, validators: validators, record: record, cache: &cache) }
        var reference = r
        reference.reference = "Patient/p4/_history/1"
        #expect(throws: Receipt.Failure.self) { try reference.verify(chainId: Self.chainId, validators: validators, record: record, cache: &cache) }
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
        /// Every flip of a string member that is still UTF-8.
        func eachStringFlip(_ field: WritableKeyPath<Receipt, String>, _ what: String) {
            eachFlip(Array(r[keyPath: field].utf8)) { bytes in
                guard let s = String(validating: bytes, as: UTF8.self) else { return }
                var t = r
                t[keyPath: field] = s
                mustFail(t, what)
            }
        }
        eachStringFlip(\.reference, "reference")
        eachStringFlip(\.chainId, "chain id")
        eachStringFlip(\.checkpointKeyName, "checkpoint key name")
        eachStringFlip(\.checkpoint, "checkpoint")
        for (n, node) in r.manifestProof.enumerated() { eachFlip(node) { var t = r; t.manifestProof[n] = $0; mustFail(t, "manifest proof \(n)") } }
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
