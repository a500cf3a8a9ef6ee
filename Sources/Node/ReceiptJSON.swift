public import Foundation
public import Ledger

/// The receipt as JSON (docs/receipt.md): `careledger-receipt/1`, or `careledger-receipt/2` when it carries a
/// light path across validator-set changes (the `lightPath` member and the block's `validators`). Hashes are base64
/// except the record's canonical hash (hex, as `careledger fhir hash` prints it); integers are JSON numbers; the
/// checkpoint is the signed note's text. Everything needed to check it is inside, so other tools can verify it
/// without CareLedger.
public enum ReceiptJSON {
    /// A receipt whose block the genesis validators signed.
    public static let format = "careledger-receipt/1"
    /// A receipt with a light path (possibly empty) and the validator set that signed its block.
    public static let lightFormat = "careledger-receipt/2"

    /// The format `r` is written in: /2 only when it carries a light path or its block's validators.
    public static func formatName(for r: Receipt) -> String { r.lightPath.isEmpty && r.validators == nil ? format : lightFormat }

    public static func object(_ r: Receipt) -> [String: Any] {
        var block: [String: Any] = ["header": LightJSON.header(r.header), "commit": LightJSON.commit(r.commit)]
        if let validators = r.validators { block["validators"] = LightJSON.validatorSet(validators) }
        var o: [String: Any] = [
            "format": formatName(for: r),
            "chainId": r.chainId,
            "record": ["reference": r.reference, "canonicalHash": Hex.encode(r.canonicalHash), "salt": Base64.encode(r.salt)],
            "leaf": ["commitment": Base64.encode(r.commitment), "index": r.leafIndex, "treeSize": r.treeSize],
            "inclusionProof": r.inclusionProof.map(Base64.encode),
            "batchRoot": Base64.encode(r.batchRoot),
            "anchor": ["transaction": Base64.encode(r.anchorTransaction), "index": r.transactionIndex, "count": r.transactionCount,
                       "proof": r.transactionProof.map(Base64.encode)],
            "manifestProof": r.manifestProof.map(Base64.encode),
            "block": block,
            "checkpoint": r.checkpoint,
            "checkpointKeyName": r.checkpointKeyName,
        ]
        if formatName(for: r) == lightFormat { o["lightPath"] = r.lightPath.map(LightJSON.lightBlock) }
        return o
    }

    public static func encode(_ r: Receipt) throws -> Data {
        try JSONSerialization.data(withJSONObject: object(r), options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes])
    }

    /// Reads a receipt; the error names the member that is missing or malformed.
    public static func decode(_ data: Data) throws -> Receipt {
        guard let o = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { throw NodeError("the receipt is not a JSON object") }
        let r = LightJSON.Reader(subject: "receipt")
        let version = o["format"] as? String
        guard version == format || version == lightFormat else { throw NodeError("the receipt's format is not \(format) or \(lightFormat)") }
        let record = try r.obj(o, "record")
        let leaf = try r.obj(o, "leaf")
        let anchor = try r.obj(o, "anchor")
        let block = try r.obj(o, "block")
        r.path = ["block"]
        let h = try r.obj(block, "header")
        let c = try r.obj(block, "commit")
        var validators: ValidatorSet?
        var lightPath: [LightBlock] = []
        if version == lightFormat {
            if block["validators"] != nil { validators = try r.validators(block, "validators") }
            r.path = []
            lightPath = try r.lightPath(o, "lightPath")
        } else {
            guard block["validators"] == nil, o["lightPath"] == nil else {
                throw NodeError("a \(format) receipt carries no lightPath or block.validators; those are \(lightFormat)")
            }
        }
        r.path = ["block", "header"]
        let header = try r.header(h)
        r.path = ["block", "commit"]
        let commit = try r.commit(c)
        r.path = ["record"]
        guard let canonicalHash = Hex.decode(try r.str(record, "canonicalHash")) else { throw r.fail("canonicalHash") }
        let reference = try r.str(record, "reference")
        let salt = try r.b64(record, "salt")
        r.path = ["leaf"]
        let commitment = try r.b64(leaf, "commitment"), index = try r.u64(leaf, "index"), size = try r.u64(leaf, "treeSize")
        r.path = ["anchor"]
        let tx = try r.b64(anchor, "transaction"), txIndex = try r.u64(anchor, "index"), txCount = try r.u64(anchor, "count")
        let txProof = try r.b64List(anchor, "proof")
        r.path = []
        var receipt = Receipt(chainId: try r.str(o, "chainId"), reference: reference, canonicalHash: canonicalHash, salt: salt, commitment: commitment,
                              leafIndex: index, treeSize: size, inclusionProof: try r.b64List(o, "inclusionProof"), batchRoot: try r.b64(o, "batchRoot"),
                              anchorTransaction: tx, transactionIndex: txIndex, transactionCount: txCount, transactionProof: txProof,
                              header: header, commit: commit, checkpoint: try r.str(o, "checkpoint"), checkpointKeyName: try r.str(o, "checkpointKeyName"))
        receipt.manifestProof = try r.b64List(o, "manifestProof")
        receipt.lightPath = lightPath
        receipt.validators = validators
        return receipt
    }
}
