import Foundation
import Ledger

/// The JSON of block headers, commit certificates, validator sets and light blocks shared by receipts
/// (`careledger-receipt/2`, docs/receipt.md) and consent proofs (`careledger-consent-proof/2`, docs/node.md).
/// Hashes, keys and signatures are base64; integers are JSON numbers.
enum LightJSON {
    /// A block header (`id` is informative: a verifier recomputes it).
    struct Header: Encodable, Sendable {
        var chainId: String
        var height: UInt64
        var time: Int64
        var previousBlockId, transactionsRoot, stateRoot, validatorsHash, nextValidatorsHash, proposer, id: String

        init(_ h: BlockHeader) {
            chainId = h.chainId
            height = h.height
            time = h.time
            previousBlockId = Base64.encode(h.previousBlockId)
            transactionsRoot = Base64.encode(h.transactionsRoot)
            stateRoot = Base64.encode(h.stateRoot)
            validatorsHash = Base64.encode(h.validatorsHash)
            nextValidatorsHash = Base64.encode(h.nextValidatorsHash)
            proposer = Base64.encode(h.proposer.bytes)
            id = Base64.encode(h.id)
        }
    }

    /// A commit certificate.
    struct Commit: Encodable, Sendable {
        struct Signature: Encodable, Sendable {
            var validator: String
            var signature: String
        }

        var height: UInt64
        var round: UInt32
        var blockId: String
        var signatures: [Signature]

        init(_ c: CommitCertificate) {
            height = c.height
            round = c.round
            blockId = Base64.encode(c.blockId)
            signatures = c.signatures.map { Signature(validator: Base64.encode($0.validator.bytes), signature: Base64.encode($0.signature)) }
        }
    }

    /// One member of a validator set.
    struct Member: Encodable, Sendable {
        var key: String
        var power: UInt64
    }

    static func validatorSet(_ set: ValidatorSet) -> [Member] {
        set.validators.map { Member(key: Base64.encode($0.key.bytes), power: $0.power) }
    }

    /// A light block: header, commit, the set that signed it and the set of the next height.
    struct Block: Encodable, Sendable {
        var header: Header
        var commit: Commit
        var validators: [Member]
        var nextValidators: [Member]

        init(_ b: LightBlock) {
            header = Header(b.header)
            commit = Commit(b.commit)
            validators = LightJSON.validatorSet(b.validators)
            nextValidators = LightJSON.validatorSet(b.nextValidators)
        }
    }

    /// The writer of every format we define: sorted members, two-space indentation, `/` unescaped (the bytes
    /// `careledger-receipt/1` always had).
    static func encode(_ value: some Encodable) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return try encoder.encode(value)
    }

    // MARK: Reading (JSONMember: every error names the member by its JSON pointer, line and column)

    /// A proof's `header` and `commit` members: base64 of their ledger encodings, the commit with at most
    /// ``ReceiptLimits/maxValidators`` signatures (consent and allocation proofs).
    static func headerAndCommit(_ o: JSONMember) throws(ReceiptDecodingError) -> (BlockHeader, CommitCertificate) {
        let headerMember = try o.member("header"), commitMember = try o.member("commit")
        let headerBytes = try headerMember.base64(), commitBytes = try commitMember.base64()
        let header: BlockHeader, commit: CommitCertificate
        do throws(LedgerDecodingError) {
            header = try BlockHeader(encoded: headerBytes)
        } catch {
            throw headerMember.fail("is not an encoded block header (\(error))")
        }
        do throws(LedgerDecodingError) {
            commit = try CommitCertificate(encoded: commitBytes)
        } catch {
            throw commitMember.fail("is not an encoded commit certificate (\(error))")
        }
        guard commit.signatures.count <= ReceiptLimits.maxValidators else {
            throw commitMember.fail("has \(commit.signatures.count) signatures; at most \(ReceiptLimits.maxValidators) are allowed")
        }
        return (header, commit)
    }

    /// A header object (`header(_:)`'s form); `id` is informative and not read: the header recomputes it.
    static func header(_ h: JSONMember) throws(ReceiptDecodingError) -> BlockHeader {
        BlockHeader(chainId: try h.member("chainId").string(), height: try h.member("height").integer(UInt64.self),
                    time: try h.member("time").integer(Int64.self), previousBlockId: try h.member("previousBlockId").base64(),
                    transactionsRoot: try h.member("transactionsRoot").base64(), stateRoot: try h.member("stateRoot").base64(),
                    validatorsHash: try h.member("validatorsHash").base64(), nextValidatorsHash: try h.member("nextValidatorsHash").base64(),
                    proposer: try h.member("proposer").publicKey())
    }

    /// A commit object (`commit(_:)`'s form), with at most ``ReceiptLimits/maxValidators`` signatures.
    static func commit(_ c: JSONMember) throws(ReceiptDecodingError) -> CommitCertificate {
        let height = try c.member("height").integer(UInt64.self)
        let round = try c.member("round").integer(UInt32.self)
        let blockId = try c.member("blockId").base64()
        var signatures: [CommitSignature] = []
        for s in try c.member("signatures").elements(max: ReceiptLimits.maxValidators) {
            signatures.append(CommitSignature(validator: try s.member("validator").publicKey(), signature: try s.member("signature").base64()))
        }
        return CommitCertificate(height: height, round: round, blockId: blockId, signatures: signatures)
    }

    /// A validator set: a list of at most ``ReceiptLimits/maxValidators`` `{"key", "power"}`.
    static func validatorSet(_ list: JSONMember) throws(ReceiptDecodingError) -> ValidatorSet {
        var validators: [Validator] = []
        for v in try list.elements(max: ReceiptLimits.maxValidators) {
            validators.append(Validator(key: try v.member("key").publicKey(), power: try v.member("power").integer(UInt64.self)))
        }
        return ValidatorSet(validators)
    }

    /// A light path (`lightBlock(_:)`'s form, in order), at most ``ReceiptLimits/maxLightPath`` blocks.
    static func lightPath(_ list: JSONMember) throws(ReceiptDecodingError) -> [LightBlock] {
        var blocks: [LightBlock] = []
        for e in try list.elements(max: ReceiptLimits.maxLightPath) {
            blocks.append(LightBlock(header: try header(e.member("header")), commit: try commit(e.member("commit")),
                                     validators: try validatorSet(e.member("validators")), nextValidators: try validatorSet(e.member("nextValidators"))))
        }
        return blocks
    }
}
