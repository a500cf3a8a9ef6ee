import Foundation
import HL7v2
import Ledger
import Node

/// Receipts and consent proofs: what the reader accepts, the writer writes back to JSON that reads to the same value.
enum JSONDocumentProperties {
    static func checkReceipt(_ bytes: [UInt8]) throws(FuzzViolation) -> Bool {
        guard let receipt = try? ReceiptJSON.decode(Data(bytes)) else { return false }
        let written: Data
        do {
            written = try ReceiptJSON.encode(receipt)
        } catch {
            throw FuzzViolation(.receiptJSON, "an accepted receipt can be written", "\(error)")
        }
        let again: Receipt
        do {
            again = try ReceiptJSON.decode(written)
        } catch {
            throw FuzzViolation(.receiptJSON, "a written receipt reads back", "\(error) in \(preview(Array(written)))")
        }
        guard again == receipt else {
            throw FuzzViolation(.receiptJSON, "a written receipt reads back to the same receipt", preview(Array(written)))
        }
        return true
    }

    static func checkProof(_ bytes: [UInt8]) throws(FuzzViolation) -> Bool {
        guard let proof = try? ConsentJSON.decode(Data(bytes)) else { return false }
        let written: Data
        do {
            written = try ConsentJSON.encode(proof)
        } catch {
            throw FuzzViolation(.proofJSON, "an accepted proof can be written", "\(error)")
        }
        let again: ConsentProof
        do {
            again = try ConsentJSON.decode(written)
        } catch {
            throw FuzzViolation(.proofJSON, "a written proof reads back", "\(error) in \(preview(Array(written)))")
        }
        guard again == proof else {
            throw FuzzViolation(.proofJSON, "a written proof reads back to the same proof", preview(Array(written)))
        }
        return true
    }
}

/// The canonical ledger encoding: one encoding per value, so a decoded value encodes to exactly its input.
enum LedgerProperties {
    /// The types the first input byte selects among (byte modulo the count), in a fixed order so that saved
    /// findings keep meaning the same type.
    static let decoders: [(name: String, roundTrip: @Sendable ([UInt8]) -> [UInt8]?)] = [
        ("NetworkMessage", { b in (try? NetworkMessage.decode(received: b))?.encoded }),
        ("Transaction", { b in (try? Transaction(encoded: b))?.encoded }),
        ("Block", { b in (try? Block(encoded: b))?.encoded }),
        ("BlockHeader", { b in (try? BlockHeader(encoded: b))?.encoded }),
        ("CommitCertificate", { b in (try? CommitCertificate(encoded: b))?.encoded }),
        ("SignedVote", { b in (try? SignedVote(encoded: b))?.encoded }),
        ("DuplicateVoteEvidence", { b in (try? DuplicateVoteEvidence(encoded: b))?.encoded }),
        ("ConsentDirective", { b in (try? ConsentDirective(encoded: b))?.encoded }),
        ("Participant", { b in (try? Participant(encoded: b))?.encoded }),
        ("AnchorRecord", { b in (try? AnchorRecord(encoded: b))?.encoded }),
        ("ConsentRecord", { b in (try? ConsentRecord(encoded: b))?.encoded }),
        ("SparseMerkleProof", { b in (try? SparseMerkleProof(encoded: b))?.encoded() }),
        ("ClientRecord", { b in (try? ClientRecord(encoded: b))?.encoded }),
        // The JWKS check every validator runs on a RegisterClient: it reads hostile JSON and must not trap; the
        // bytes are the value, so any input round-trips.
        ("JWKSDocument", { b in
            _ = JWKSDocument.problem(b)
            return b
        }),
    ]

    /// The first byte that selects the type named `typeName` (as in ``decoders``).
    static func selector(for typeName: String) -> UInt8? {
        decoders.firstIndex { $0.name == typeName }.map(UInt8.init)
    }

    static func check(_ bytes: [UInt8]) throws(FuzzViolation) -> Bool {
        guard let selector = bytes.first else { return false }
        let decoder = decoders[Int(selector) % decoders.count]
        let payload = Array(bytes.dropFirst())
        guard let encoded = decoder.roundTrip(payload) else { return false }
        guard encoded == payload else {
            throw FuzzViolation(.ledgerDecode, "a decoded \(decoder.name) encodes to exactly its input",
                                "\(payload.count) bytes in, \(encoded.count) out; first difference at byte \(firstDifference(payload, encoded))")
        }
        return true
    }

    private static func firstDifference(_ a: [UInt8], _ b: [UInt8]) -> Int {
        zip(a, b).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset ?? min(a.count, b.count)
    }
}

/// The MLLP framer: how bytes are split across reads must not change what they frame.
enum MLLPProperties {
    /// A small frame limit, so that inputs of fuzzing size reach the oversized path too.
    static let maxFrameBytes = 64

    static func check(_ bytes: [UInt8]) throws(FuzzViolation) -> Bool {
        let whole = events(of: [bytes[...]])
        // Split points chosen by the input itself, so the fuzzer explores them: every byte, and a split after each
        // byte whose value is odd.
        let single = events(of: bytes.indices.map { bytes[$0...$0] })
        guard single == whole else {
            throw FuzzViolation(.mllpFrame, "bytes fed one at a time give the same events as fed whole", "\(single) ≠ \(whole)")
        }
        var pieces: [ArraySlice<UInt8>] = []
        var start = bytes.startIndex
        for i in bytes.indices where bytes[i] & 1 == 1 {
            pieces.append(bytes[start...i])
            start = i + 1
        }
        pieces.append(bytes[start...])
        let split = events(of: pieces)
        guard split == whole else {
            throw FuzzViolation(.mllpFrame, "bytes fed in pieces give the same events as fed whole", "\(split) ≠ \(whole)")
        }
        for case .frame(let payload) in whole where !payload.contains(MLLPFramer.startBlock) {
            let again = events(of: [MLLPFramer.frame(payload)[...]])
            guard again == [.frame(payload)] else {
                throw FuzzViolation(.mllpFrame, "a frame re-framed gives back that frame", "\(again) for \(payload.count) bytes")
            }
        }
        return whole.contains { if case .frame = $0 { true } else { false } }
    }

    private static func events(of pieces: [ArraySlice<UInt8>]) -> [MLLPFramer.Event] {
        var framer = MLLPFramer(maxFrameBytes: maxFrameBytes)
        var out: [MLLPFramer.Event] = []
        for piece in pieces {
            framer.append(piece)
            while let event = framer.next() { out.append(event) }
        }
        return out
    }
}
