import Foundation
import Ledger

/// The JSON of block headers, commit certificates, validator sets and light blocks shared by receipts
/// (`careledger-receipt/2`, docs/receipt.md) and consent proofs (`careledger-consent-proof/2`, docs/node.md).
/// Hashes, keys and signatures are base64; integers are JSON numbers.
enum LightJSON {
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

    static func lightBlock(_ b: LightBlock) -> [String: Any] {
        ["header": header(b.header), "commit": commit(b.commit), "validators": validatorSet(b.validators), "nextValidators": validatorSet(b.nextValidators)]
    }

    /// A strict reader of these members: every error names the member that is missing or malformed, as
    /// `<subject> member <path>.<member> is missing or malformed`, where `path` is where the reader is.
    final class Reader {
        /// What is read, for the errors ("receipt", "consent proof").
        let subject: String
        /// The members above the object being read, outermost first (`["lightPath[2]", "commit"]`).
        var path: [String] = []

        init(subject: String) { self.subject = subject }

        func fail(_ what: String) -> NodeError {
            NodeError("\(subject) member \((path + [what]).joined(separator: ".")) is missing or malformed")
        }

        func obj(_ o: [String: Any], _ k: String) throws(NodeError) -> [String: Any] {
            guard let v = o[k] as? [String: Any] else { throw fail(k) }
            return v
        }

        func str(_ o: [String: Any], _ k: String) throws(NodeError) -> String {
            guard let v = o[k] as? String else { throw fail(k) }
            return v
        }

        func b64(_ o: [String: Any], _ k: String) throws(NodeError) -> [UInt8] {
            guard let v = (o[k] as? String).flatMap(Base64.decode) else { throw fail(k) }
            return v
        }

        func u64(_ o: [String: Any], _ k: String) throws(NodeError) -> UInt64 {
            // An integer: no fraction, no sign, exactly representable.
            guard let n = o[k] as? NSNumber, n.int64Value >= 0, Double(n.uint64Value) == n.doubleValue else { throw fail(k) }
            return n.uint64Value
        }

        func i64(_ o: [String: Any], _ k: String) throws(NodeError) -> Int64 {
            guard let n = o[k] as? NSNumber else { throw fail(k) }
            return n.int64Value
        }

        func b64List(_ o: [String: Any], _ k: String) throws(NodeError) -> [[UInt8]] {
            guard let list = o[k] as? [String] else { throw fail(k) }
            return try list.map { (s) throws(NodeError) in
                guard let b = Base64.decode(s) else { throw fail(k) }
                return b
            }
        }

        func key(_ o: [String: Any], _ k: String) throws(NodeError) -> PublicKey {
            guard let bytes = (o[k] as? String).flatMap(Base64.decode), let key = try? PublicKey(bytes: bytes) else { throw fail(k) }
            return key
        }

        /// A header object (`header(_:)`'s form); `id` is informative and not read: the header recomputes it.
        func header(_ h: [String: Any]) throws(NodeError) -> BlockHeader {
            BlockHeader(chainId: try str(h, "chainId"), height: try u64(h, "height"), time: try i64(h, "time"),
                        previousBlockId: try b64(h, "previousBlockId"), transactionsRoot: try b64(h, "transactionsRoot"),
                        stateRoot: try b64(h, "stateRoot"), validatorsHash: try b64(h, "validatorsHash"),
                        nextValidatorsHash: try b64(h, "nextValidatorsHash"), proposer: try key(h, "proposer"))
        }

        /// A commit object (`commit(_:)`'s form).
        func commit(_ c: [String: Any]) throws(NodeError) -> CommitCertificate {
            guard let sigs = c["signatures"] as? [[String: Any]] else { throw fail("signatures") }
            let signatures = try sigs.map { (s) throws(NodeError) in CommitSignature(validator: try key(s, "validator"), signature: try b64(s, "signature")) }
            let round = try u64(c, "round")
            guard round <= UInt64(UInt32.max) else { throw fail("round") }
            return CommitCertificate(height: try u64(c, "height"), round: UInt32(round), blockId: try b64(c, "blockId"), signatures: signatures)
        }

        /// The validator set at member `k` of `o`: a list of `{"key", "power"}`.
        func validators(_ o: [String: Any], _ k: String) throws(NodeError) -> ValidatorSet {
            guard let list = o[k] as? [[String: Any]] else { throw fail(k) }
            path.append(k)
            defer { path.removeLast() }
            return ValidatorSet(try list.map { (v) throws(NodeError) in Validator(key: try key(v, "key"), power: try u64(v, "power")) })
        }

        /// The light path at member `k` of `o` (`lightBlock(_:)`'s form, in order); errors name the element, as
        /// `lightPath[2].commit.round`. The path is left as it was found.
        func lightPath(_ o: [String: Any], _ k: String) throws(NodeError) -> [LightBlock] {
            guard let elements = o[k] as? [[String: Any]] else { throw fail(k) }
            let base = path
            defer { path = base }
            var blocks: [LightBlock] = []
            for (n, e) in elements.enumerated() {
                path = base + ["\(k)[\(n)]"]
                let eh = try obj(e, "header"), ec = try obj(e, "commit")
                let signers = try validators(e, "validators"), next = try validators(e, "nextValidators")
                path = base + ["\(k)[\(n)]", "header"]
                let h = try header(eh)
                path = base + ["\(k)[\(n)]", "commit"]
                blocks.append(LightBlock(header: h, commit: try commit(ec), validators: signers, nextValidators: next))
            }
            return blocks
        }
    }
}
