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
        var block: [String: Any] = ["header": header(r.header), "commit": commit(r.commit)]
        if let validators = r.validators { block["validators"] = validatorSet(validators) }
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
        if formatName(for: r) == lightFormat {
            o["lightPath"] = r.lightPath.map { b -> [String: Any] in
                ["header": header(b.header), "commit": commit(b.commit), "validators": validatorSet(b.validators),
                 "nextValidators": validatorSet(b.nextValidators)]
            }
        }
        return o
    }

    static func header(_ h: BlockHeader) -> [String: Any] {
        ["chainId": h.chainId, "height": h.height, "time": h.time, "previousBlockId": Base64.encode(h.previousBlockId),
         "transactionsRoot": Base64.encode(h.transactionsRoot), "stateRoot": Base64.encode(h.stateRoot),
         "validatorsHash": Base64.encode(h.validatorsHash), "nextValidatorsHash": Base64.encode(h.nextValidatorsHash),
         "proposer": Base64.encode(h.proposer.bytes), "id": Base64.encode(h.id)]
    }

    static func commit(_ c: CommitCertificate) -> [String: Any] {
        ["height": c.height, "round": c.round, "blockId": Base64.encode(c.blockId),
         "signatures": c.signatures.map { ["validator": Base64.encode($0.validator.bytes), "signature": Base64.encode($0.signature)] }]
    }

    static func validatorSet(_ set: ValidatorSet) -> [[String: Any]] {
        set.validators.map { ["key": Base64.encode($0.key.bytes), "power": $0.power] }
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
        let version = o["format"] as? String
        guard version == format || version == lightFormat else { throw NodeError("the receipt's format is not \(format) or \(lightFormat)") }
        func readHeader(_ h: [String: Any]) throws -> BlockHeader {
            BlockHeader(chainId: try str(h, "chainId"), height: try u64(h, "height"), time: try i64(h, "time"),
                        previousBlockId: try b64(h, "previousBlockId"), transactionsRoot: try b64(h, "transactionsRoot"),
                        stateRoot: try b64(h, "stateRoot"), validatorsHash: try b64(h, "validatorsHash"),
                        nextValidatorsHash: try b64(h, "nextValidatorsHash"), proposer: try key(h, "proposer"))
        }
        func readCommit(_ c: [String: Any]) throws -> CommitCertificate {
            guard let sigs = c["signatures"] as? [[String: Any]] else { throw fail("signatures") }
            let signatures = try sigs.map { CommitSignature(validator: try key($0, "validator"), signature: try b64($0, "signature")) }
            let round = try u64(c, "round")
            guard round <= UInt64(UInt32.max) else { throw fail("round") }
            return CommitCertificate(height: try u64(c, "height"), round: UInt32(round), blockId: try b64(c, "blockId"), signatures: signatures)
        }
        func readValidators(_ o: [String: Any], _ k: String) throws -> ValidatorSet {
            guard let list = o[k] as? [[String: Any]] else { throw fail(k) }
            path.append(k)
            defer { path.removeLast() }
            return ValidatorSet(try list.map { Validator(key: try key($0, "key"), power: try u64($0, "power")) })
        }
        let record = try obj(o, "record")
        let leaf = try obj(o, "leaf")
        let anchor = try obj(o, "anchor")
        let block = try obj(o, "block")
        path = ["block"]
        let h = try obj(block, "header")
        let c = try obj(block, "commit")
        var validators: ValidatorSet?
        var lightPath: [LightBlock] = []
        if version == lightFormat {
            if block["validators"] != nil { validators = try readValidators(block, "validators") }
            path = []
            guard let elements = o["lightPath"] as? [[String: Any]] else { throw fail("lightPath") }
            for (n, e) in elements.enumerated() {
                path = ["lightPath[\(n)]"]
                let eh = try obj(e, "header"), ec = try obj(e, "commit")
                let signers = try readValidators(e, "validators"), next = try readValidators(e, "nextValidators")
                path = ["lightPath[\(n)]", "header"]
                let lh = try readHeader(eh)
                path = ["lightPath[\(n)]", "commit"]
                lightPath.append(LightBlock(header: lh, commit: try readCommit(ec), validators: signers, nextValidators: next))
            }
        } else {
            guard block["validators"] == nil, o["lightPath"] == nil else {
                throw NodeError("a \(format) receipt carries no lightPath or block.validators; those are \(lightFormat)")
            }
        }
        path = ["block", "header"]
        let header = try readHeader(h)
        path = ["block", "commit"]
        let commit = try readCommit(c)
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
        receipt.lightPath = lightPath
        receipt.validators = validators
        return receipt
    }
}
