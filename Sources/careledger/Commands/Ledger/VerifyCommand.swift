import ArgumentParser
import Foundation
import Ledger
import Node

/// `careledger verify RECEIPT --genesis genesis.json [--record FILE]`.
struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check a record receipt offline against a chain's genesis (and the record's served bytes).",
        discussion: """
            Checks, in order: the record's SHA-256 (with --record), the commitment, the inclusion proof to the batch \
            root, the anchoring transaction and its place in the block, the light path from the genesis validators \
            across validator-set changes (careledger-receipt/2), the commit certificate, the signed checkpoint, and \
            the reference's place in the batch manifest it carries (docs/receipt.md). Receipts have no expiry: \
            a light path is trusted from the genesis without a trusting period (docs/receipt.md, long-range caveat). \
            A consent proof (careledger-consent-proof/1 or /2) is checked against the same genesis: its light path \
            and commit, then its entries against the header's state root and its answer (docs/node.md). \
            Exits 0 when everything holds; otherwise exits 1 and names the first check that failed.
            """
    )

    @Argument(help: "The receipt (JSON, careledger-receipt/1 or /2), or a consent proof (careledger-consent-proof/1 or /2).")
    var receipt: String

    @Option(help: "The chain's genesis.json: the validators the receipt's light path starts from.")
    var genesis: String

    @Option(help: "The record as served (its canonical bytes), to check against the receipt's hash.")
    var record: String?

    func run() throws {
        let receiptData: Data
        let genesis: Genesis
        var recordBytes: [UInt8]?
        do {
            receiptData = try Data(contentsOf: URL(fileURLWithPath: receipt))
            genesis = try Genesis.read(from: URL(fileURLWithPath: self.genesis))
            if let record { recordBytes = Array(try Data(contentsOf: URL(fileURLWithPath: record))) }
        } catch {
            FileHandle.standardError.write(Data("careledger verify: \(error)\n".utf8))
            throw ExitCode(66)
        }
        if let object = try? JSONSerialization.jsonObject(with: receiptData) as? [String: Any], let format = object["format"] as? String,
           ConsentJSON.proofFormats.contains(format) {
            try verifyConsentProof(receiptData, genesis: genesis)
            return
        }
        let parsed: Receipt
        do {
            parsed = try ReceiptJSON.decode(receiptData)
        } catch {
            Output.line("FAILED receipt: \(error)")
            throw ExitCode(1)
        }
        do throws(Receipt.Failure) {
            try parsed.verify(chainId: genesis.chainId, validators: genesis.validatorSet, record: recordBytes)
        } catch {
            Output.line("FAILED \(error.check): \(error.reason)")
            throw ExitCode(1)
        }
        Output.line("OK \(parsed.reference) is leaf \(parsed.leafIndex) of \(parsed.treeSize) in batch \(Base64.encode(parsed.batchRoot))")
        Output.line("   anchored at height \(parsed.header.height) of \(genesis.chainId), finalized by \(parsed.commit.signatures.count) validator signature(s)")
        if let line = Self.lightPathLine(parsed.lightPath, parsed.validators) { Output.line(line) }
        if recordBytes != nil { Output.line("   the record's bytes hash to the receipt's canonical hash") }
    }

    func verifyConsentProof(_ data: Data, genesis: Genesis) throws {
        let proof: ConsentProof
        do {
            proof = try ConsentJSON.decode(data)
        } catch {
            Output.line("FAILED proof: \(error)")
            throw ExitCode(1)
        }
        let answer: ConsentAnswer
        do throws(Receipt.Failure) {
            answer = try proof.verify(chainId: genesis.chainId, validators: genesis.validatorSet)
        } catch {
            Output.line("FAILED \(error.check): \(error.reason)")
            throw ExitCode(1)
        }
        guard ConsentJSON.responseMatches(data, proof) else {
            Output.line("FAILED response: the response card is not the rendering of the proven answer")
            throw ExitCode(1)
        }
        Output.line("OK \(answer.decision.rawValue) for the query, proven by \(proof.consents.count) directive(s)\(proof.patient.value == nil ? " (the patient has none: proven absent)" : "")")
        Output.line("   against the state root of height \(proof.header.height) of \(genesis.chainId), finalized by \(proof.commit.signatures.count) validator signature(s)")
        if let line = Self.lightPathLine(proof.lightPath, proof.validators) { Output.line(line) }
    }

    /// How a receipt's or proof's block is trusted from the genesis validators, when it carries a light path or
    /// its block's validators (the /2 formats); nil otherwise.
    static func lightPathLine(_ path: [LightBlock], _ validators: ValidatorSet?) -> String? {
        guard !path.isEmpty || validators != nil else { return nil }
        let heights = path.map { String($0.header.height) }
        let through = switch heights.count {
        case 0: "no intermediate block"
        case 1: "the light block at height \(heights[0])"
        default: "the light blocks at heights \(heights.joined(separator: ", "))"
        }
        return "   trusted from the genesis validators through \(through)"
    }
}
