import Crypto
import Foundation
public import Ledger
public import Node
public import RecordStore
public import Contracts

/// Offline verification (ARCHITECTURE.md, "Verify"): a receipt with or without its record, a consent proof, and a
/// stored version against its own commitment. The answer names the first check that failed, so the CLI (`verify`),
/// the demo and the gateway say the same thing.
public enum ReceiptVerification {
    /// What a check found.
    public enum Verdict: Sendable {
        /// Every check of the receipt held (with the record's bytes, when given).
        case receipt(Receipt)
        /// Every check of the consent proof held; the answer it proves.
        case consentProof(ConsentProof, ConsentAnswer)
        /// Every check of the allocation proof held; the epoch's result it proves.
        case allocationProof(AllocationProof, EpochResult)
        /// A stored version's served bytes hash to its canonical hash, and with its salt to its commitment.
        case stored(StoredVersion)
        /// The first check that failed (`record`, `commitment`, `inclusion`, `commit`, …, or `receipt`/`proof` when
        /// the document cannot be read as one) and why.
        case failed(check: String, reason: String)

        public var holds: Bool {
            if case .failed = self { return false }
            return true
        }
    }

    /// A document as `verify` reads it: a receipt (careledger-receipt/1 or /2) or a consent proof
    /// (careledger-consent-proof/1 or /2), checked against `genesis` (and the record's served bytes for a receipt).
    /// `document` nil: it was larger than ``ReceiptLimits/maxBytes``.
    public static func verify(document: [UInt8]?, genesis: Genesis, record: [UInt8]?) -> Verdict {
        let parsed: ReceiptJSON.Document
        do throws(ReceiptDecodingError) {
            guard let document else { throw ReceiptDecodingError.tooLarge(subject: "receipt or consent proof") }
            parsed = try ReceiptJSON.decodeDocument(document)
        } catch {
            return .failed(check: error.subject == "consent proof" ? "proof" : "receipt", reason: "\(error)")
        }
        switch parsed {
        case .receipt(let receipt): return verify(receipt, genesis: genesis, record: record)
        case .consentProof(let proof): return verify(proof, document: document ?? [], genesis: genesis)
        case .allocationProof(let proof): return verify(proof, document: document ?? [], genesis: genesis)
        }
    }

    /// A receipt against the genesis validators, and the record's served bytes when given.
    public static func verify(_ receipt: Receipt, genesis: Genesis, record: [UInt8]?) -> Verdict {
        do throws(Receipt.Failure) {
            try receipt.verify(chainId: genesis.chainId, validators: genesis.validatorSet, record: record)
            return .receipt(receipt)
        } catch {
            return .failed(check: error.check, reason: error.reason)
        }
    }

    /// A consent proof against the genesis validators; `document`, its JSON, must carry the response card that
    /// renders the proven answer.
    public static func verify(_ proof: ConsentProof, document: [UInt8], genesis: Genesis) -> Verdict {
        let answer: ConsentAnswer
        do throws(Receipt.Failure) {
            answer = try proof.verify(chainId: genesis.chainId, validators: genesis.validatorSet)
        } catch {
            return .failed(check: error.check, reason: error.reason)
        }
        guard ConsentJSON.responseMatches(Data(document), proof) else {
            return .failed(check: "response", reason: "the response card is not the rendering of the proven answer")
        }
        return .consentProof(proof, answer)
    }

    /// An allocation proof against the genesis validators; `document`, its JSON, must show the proven result.
    public static func verify(_ proof: AllocationProof, document: [UInt8], genesis: Genesis) -> Verdict {
        let result: EpochResult
        do throws(Receipt.Failure) {
            result = try proof.verify(chainId: genesis.chainId, validators: genesis.validatorSet)
        } catch {
            return .failed(check: error.check, reason: error.reason)
        }
        guard AllocationJSON.resultMatches(Data(document), proof, proven: result) else {
            return .failed(check: "result", reason: "the result shown is not the rendering of the proven epoch")
        }
        return .allocationProof(proof, result)
    }

    /// A stored version as served: its bytes hash to its canonical hash, and that hash with its salt to its
    /// commitment (the first two checks of its receipt, before it is anchored).
    public static func verify(stored version: StoredVersion) -> Verdict {
        guard Array(SHA256.hash(data: version.canonical)) == version.canonicalHash else {
            return .failed(check: "record", reason: "the served bytes of \(version.key)/_history/\(version.version) do not hash to its canonical hash")
        }
        guard RecordLeaf.commitment(canonicalHash: version.canonicalHash, salt: version.salt) == version.commitment else {
            return .failed(check: "commitment", reason: "SHA-256(tag ‖ salt ‖ canonical hash) of \(version.key)/_history/\(version.version) is not its commitment")
        }
        return .stored(version)
    }
}
