public import Foundation
public import Ledger

/// The receipt as JSON (docs/receipt.md): `careledger-receipt/1`. Hashes are base64 except the record's canonical
/// hash (hex, as `careledger fhir hash` prints it); integers are JSON numbers; the checkpoint is the signed note's
/// text. Everything needed to check it is inside, so other tools can verify it without CareLedger.
public enum ReceiptJSON {
    public static let format = "careledger-receipt/1"

    public static func object(_ r: Receipt) -> [String: Any] {
        let h = r.header
        return [
            "format": format,
            "chainId": r.chainId,
            "record": ["reference": r.reference, "canonicalHash": Hex.encode(r.canonicalHash), "salt": Base64.encode(r.salt)],
            "leaf": ["commitment": Base64.encode(r.commitment), "index": r.leafIndex, "treeSize": r.treeSize],
            "inclusionProof": r.inclusionProof.map(Base64.encode),
            "batchRoot": Base64.encode(r.batchRoot),
            "anchor": ["transaction": Base64.encode(r.anchorTransaction), "index": r.transactionIndex, "count": r.transactionCount,
                       "proof": r.transactionProof.map(Base64.encode)],
            "manifestProof": r.manifestProof.map(Base64.encode),
            "block": [
                "header": ["chainId": h.chainId, "height": h.height, "time": h.time, "previousBlockId": Base64.encode(h.previousBlockId),
                           "transactionsRoot": Base64.encode(h.transactionsRoot), "stateRoot": Base64.encode(h.stateRoot),
                           "validatorsHash": Base64.encode(h.validatorsHash), "nextValidatorsHash": Base64.encode(h.nextValidatorsHash),
                           "proposer": Base64.encode(h.proposer.bytes), "id": Base64.encode(h.id)] as [String: Any],
                "commit": ["height": r.commit.height, "round": r.commit.round, "blockId": Base64.encode(r.commit.blockId),
                           "signatures": r.commit.signatures.map { ["validator": Base64.encode($0.validator.bytes), "signature": Base64.encode($0.signature)] }] as [String: Any],
            ] as [String: Any],
            "checkpoint": r.checkpoint,
            "checkpointKeyName": r.checkpointKeyName,
        ]
    }

    public static func encode(_ r: Receipt) throws -> Data {
        try JSONSerialization.data(withJSONObject: object(r), options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes])
    }

    /// Reads a receipt; the error names the member that is missing or malformed.
    public static func decode(_ data: Data) throws -> Receipt {
        guard let o = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { throw NodeError("the receipt is not a JSON object") }
        var path: [String] = []
        func fail(_ what: String) -> NodeError { NodeError("receipt member \((path + [what]).joined(separator: ".")) is missing or malformed") }
        func obj(_ o: [String: Any], _ k: String) throws -> [String: Any] {
            guard let v = o[k] as? [String: Any] else { throw fail(k) }
            return v
        }
        func str(_ o: [String: Any], _ k: String) throws -> String {
            guard let v = o[k] as? String else { throw fail(k) }
            return v
        }
        func b64(_ o: [String: Any], _ k: String) throws -> [UInt8] {
            guard let v = (o[k] as? String).flatMap(Base64.decode) else { throw fail(k) }
            return v
        }
        func u64(_ o: [String: Any], _ k: String) throws -> UInt64 {
            // An integer: no fraction, no sign, exactly representable.
            guard let n = o[k] as? NSNumber, n.int64Value >= 0, Double(n.uint64Value) == n.doubleValue else { throw fail(k) }
            return n.uint64Value
        }
        func i64(_ o: [String: Any], _ k: String) throws -> Int64 {
            guard let n = o[k] as? NSNumber else { throw fail(k) }
            return n.int64Value
        }
        func b64List(_ o: [String: Any], _ k: String) throws -> [[UInt8]] {
            guard let list = o[k] as? [String] else { throw fail(k) }
            return try list.map { guard let b = Base64.decode($0) else { throw fail(k) }; return b }
        }
        func key(_ o: [String: Any], _ k: String) throws -> PublicKey {
            guard let k2 = try? PublicKey(bytes: b64(o, k)) else { throw fail(k) }
            return k2
        }
        guard o["format"] as? String == format else { throw NodeError("the receipt's format is not \(format)") }
        let record = try obj(o, "record")
        let leaf = try obj(o, "leaf")
        let anchor = try obj(o, "anchor")
        let block = try obj(o, "block")
        path = ["block"]
        let h = try obj(block, "header")
        let c = try obj(block, "commit")
        path = ["block", "header"]
        let header = BlockHeader(chainId: try str(h, "chainId"), height: try u64(h, "height"), time: try i64(h, "time"),
                                 previousBlockId: try b64(h, "previousBlockId"), transactionsRoot: try b64(h, "transactionsRoot"),
                                 stateRoot: try b64(h, "stateRoot"), validatorsHash: try b64(h, "validatorsHash"),
                                 nextValidatorsHash: try b64(h, "nextValidatorsHash"), proposer: try key(h, "proposer"))
        path = ["block", "commit"]
        guard let sigs = c["signatures"] as? [[String: Any]] else { throw fail("signatures") }
        let signatures = try sigs.map { CommitSignature(validator: try key($0, "validator"), signature: try b64($0, "signature")) }
        let round = try u64(c, "round")
        guard round <= UInt64(UInt32.max) else { throw fail("round") }
        let commit = CommitCertificate(height: try u64(c, "height"), round: UInt32(round), blockId: try b64(c, "blockId"), signatures: signatures)
        path = ["record"]
        guard let canonicalHash = Hex.decode(try str(record, "canonicalHash")) else { throw fail("canonicalHash") }
        let reference = try str(record, "reference")
        let salt = try b64(record, "salt")
        path = ["leaf"]
        let commitment = try b64(leaf, "commitment"), index = try u64(leaf, "index"), size = try u64(leaf, "treeSize")
        path = ["anchor"]
        let tx = try b64(anchor, "transaction"), txIndex = try u64(anchor, "index"), txCount = try u64(anchor, "count")
        let txProof = try b64List(anchor, "proof")
        path = []
        var receipt = Receipt(chainId: try str(o, "chainId"), reference: reference, canonicalHash: canonicalHash, salt: salt, commitment: commitment,
                              leafIndex: index, treeSize: size, inclusionProof: try b64List(o, "inclusionProof"), batchRoot: try b64(o, "batchRoot"),
                              anchorTransaction: tx, transactionIndex: txIndex, transactionCount: txCount, transactionProof: txProof,
                              header: header, commit: commit, checkpoint: try str(o, "checkpoint"), checkpointKeyName: try str(o, "checkpointKeyName"))
        receipt.manifestProof = try b64List(o, "manifestProof")
        return receipt
    }
}
