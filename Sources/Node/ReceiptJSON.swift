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

    /// The receipt's members as written (docs/receipt.md, "Members").
    struct Written: Encodable {
        struct Record: Encodable {
            var reference, canonicalHash, salt: String
        }
        struct Leaf: Encodable {
            var commitment: String
            var index, treeSize: UInt64
        }
        struct Anchor: Encodable {
            var transaction: String
            var index, count: UInt64
            var proof: [String]
        }
        struct Block: Encodable {
            var header: LightJSON.Header
            var commit: LightJSON.Commit
            /// /2 only, when the set that signed the block is not the genesis set.
            var validators: [LightJSON.Member]?
        }

        var format, chainId: String
        var record: Record
        var leaf: Leaf
        var inclusionProof: [String]
        var batchRoot: String
        var anchor: Anchor
        var manifestProof: [String]
        var block: Block
        var checkpoint, checkpointKeyName: String
        /// /2 only.
        var lightPath: [LightJSON.Block]?

        init(_ r: Receipt) {
            format = ReceiptJSON.formatName(for: r)
            chainId = r.chainId
            record = Record(reference: r.reference, canonicalHash: Hex.encode(r.canonicalHash), salt: Base64.encode(r.salt))
            leaf = Leaf(commitment: Base64.encode(r.commitment), index: r.leafIndex, treeSize: r.treeSize)
            inclusionProof = r.inclusionProof.map(Base64.encode)
            batchRoot = Base64.encode(r.batchRoot)
            anchor = Anchor(transaction: Base64.encode(r.anchorTransaction), index: r.transactionIndex, count: r.transactionCount,
                            proof: r.transactionProof.map(Base64.encode))
            manifestProof = r.manifestProof.map(Base64.encode)
            block = Block(header: LightJSON.Header(r.header), commit: LightJSON.Commit(r.commit), validators: r.validators.map(LightJSON.validatorSet))
            checkpoint = r.checkpoint
            checkpointKeyName = r.checkpointKeyName
            lightPath = format == ReceiptJSON.lightFormat ? r.lightPath.map(LightJSON.Block.init) : nil
        }
    }

    public static func encode(_ r: Receipt) throws -> Data {
        try LightJSON.encode(Written(r))
    }

    /// Reads a receipt, /1 or /2, of at most ``ReceiptLimits/maxBytes``; the error names the member that is missing
    /// or malformed by its JSON pointer, or where the text is truncated or not JSON.
    public static func decode(_ bytes: [UInt8]) throws(ReceiptDecodingError) -> Receipt {
        try receipt(try JSONMember.document(bytes, subject: subject))
    }

    public static func decode(_ data: Data) throws(ReceiptDecodingError) -> Receipt {
        guard data.count <= ReceiptLimits.maxBytes else { throw ReceiptDecodingError.tooLarge(subject: subject) }
        return try decode([UInt8](data))
    }

    /// What `careledger verify` reads: a receipt or a consent proof, told apart by its `format`.
    public enum Document: Sendable, Hashable {
        case receipt(Receipt)
        case consentProof(ConsentProof)
        case allocationProof(AllocationProof)
    }

    /// Reads a receipt or a consent proof (by its `format`), parsing the text once.
    public static func decodeDocument(_ bytes: [UInt8]) throws(ReceiptDecodingError) -> Document {
        let document = try JSONMember.document(bytes, subject: "receipt or consent proof")
        let format = try document.member("format")
        let name = try format.string()
        if ConsentJSON.proofFormats.contains(name) {
            return .consentProof(try ConsentJSON.proof(JSONMember(value: document.value, path: [], subject: ConsentJSON.subject)))
        }
        if name == AllocationJSON.proofFormat {
            return .allocationProof(try AllocationJSON.proof(JSONMember(value: document.value, path: [], subject: AllocationJSON.subject)))
        }
        guard name == self.format || name == lightFormat else {
            throw format.fail("is \"\(name)\"; expected \(self.format), \(lightFormat), \(ConsentJSON.proofFormat), \(ConsentJSON.proofLightFormat) or \(AllocationJSON.proofFormat)")
        }
        return .receipt(try receipt(JSONMember(value: document.value, path: [], subject: subject)))
    }

    static let subject = "receipt"

    /// The receipt in `o`, the document's top-level object.
    static func receipt(_ o: JSONMember) throws(ReceiptDecodingError) -> Receipt {
        let format = try o.member("format")
        let version = try format.string()
        guard version == self.format || version == lightFormat else {
            throw format.fail("is \"\(version)\"; expected \(self.format) or \(lightFormat)")
        }
        let record = try o.member("record"), leaf = try o.member("leaf"), anchor = try o.member("anchor"), block = try o.member("block")
        var validators: ValidatorSet?
        var lightPath: [LightBlock] = []
        if version == lightFormat {
            if let v = try block.optionalMember("validators") { validators = try LightJSON.validatorSet(v) }
            lightPath = try LightJSON.lightPath(try o.member("lightPath"))
        } else {
            for extra in [try o.optionalMember("lightPath"), try block.optionalMember("validators")] {
                if let extra { throw extra.fail("is not part of \(self.format) (a receipt with it is \(lightFormat))") }
            }
        }
        let header = try LightJSON.header(try block.member("header"))
        let commit = try LightJSON.commit(try block.member("commit"))
        var receipt = Receipt(
            chainId: try o.member("chainId").string(), reference: try record.member("reference").string(),
            canonicalHash: try record.member("canonicalHash").hex(), salt: try record.member("salt").base64(),
            commitment: try leaf.member("commitment").base64(), leafIndex: try leaf.member("index").integer(UInt64.self),
            treeSize: try leaf.member("treeSize").integer(UInt64.self),
            inclusionProof: try o.member("inclusionProof").base64List(max: ReceiptLimits.maxProofHashes), batchRoot: try o.member("batchRoot").base64(),
            anchorTransaction: try anchor.member("transaction").base64(), transactionIndex: try anchor.member("index").integer(UInt64.self),
            transactionCount: try anchor.member("count").integer(UInt64.self),
            transactionProof: try anchor.member("proof").base64List(max: ReceiptLimits.maxProofHashes),
            header: header, commit: commit, checkpoint: try o.member("checkpoint").string(), checkpointKeyName: try o.member("checkpointKeyName").string())
        receipt.manifestProof = try o.member("manifestProof").base64List(max: ReceiptLimits.maxProofHashes)
        receipt.lightPath = lightPath
        receipt.validators = validators
        return receipt
    }
}
