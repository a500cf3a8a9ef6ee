import ArgumentParser
import Contracts
import FHIRCore
import Foundation
import Ledger
import Node
import Services

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
            and commit, then its entries against the header's state root and its answer (docs/node.md); an \
            allocation proof (careledger-allocation-proof/1, from contract explain --prove) likewise, then that the \
            result it shows is the proven epoch's (docs/contracts.md). \
            A receipt or proof larger than \(ReceiptLimits.maxBytes >> 20) MiB, truncated, or not in its format (a member missing, `true` where an \
            integer belongs) is refused with the member's JSON pointer, line and column, before any check. \
            Exit codes: 0 everything holds; 1 a check failed or the receipt or proof cannot be read as one (FAILED \
            names the first); 66 the receipt, --genesis or --record file cannot be read.
            """
    )

    @Argument(help: "The receipt (JSON, careledger-receipt/1 or /2), or a consent proof (careledger-consent-proof/1 or /2); '-' reads standard input.")
    var receipt: String

    @Option(help: "The chain's genesis.json: the validators the receipt's light path starts from.")
    var genesis: String

    @Option(help: "The record as served (its canonical bytes), to check against the receipt's hash.")
    var record: String?

    func run() throws {
        let document: [UInt8]?
        let genesis: Genesis
        var recordBytes: [UInt8]?
        do {
            // Bounded reads: a hostile file costs at most its limit + 1 bytes (ReceiptLimits).
            document = try InputFile.contents(of: receipt, atMost: ReceiptLimits.maxBytes)
            guard try InputFile.contents(of: self.genesis, atMost: ReceiptLimits.maxGenesisBytes) != nil else {
                throw NodeError("cannot read '\(self.genesis)': it is larger than \(ReceiptLimits.maxGenesisBytes) bytes, the most a genesis.json may have")
            }
            genesis = try Genesis.read(from: URL(fileURLWithPath: self.genesis))
            if let record {
                let limit = FHIRLimits.default.maxDocumentBytes
                guard let bytes = try InputFile.contents(of: record, atMost: limit) else {
                    throw NodeError("cannot read '\(record)': it is larger than \(limit) bytes, the most a record may have")
                }
                recordBytes = bytes
            }
        } catch {
            FileHandle.standardError.write(Data("careledger verify: \(error)\n".utf8))
            throw ExitCode(66)
        }
        switch ReceiptVerification.verify(document: document, genesis: genesis, record: recordBytes) {
        case .failed(let check, let reason):
            Output.line("FAILED \(check): \(reason)")
            throw ExitCode(1)
        case .receipt(let receipt):
            Output.line("OK \(receipt.reference) is leaf \(receipt.leafIndex) of \(receipt.treeSize) in batch \(Base64.encode(receipt.batchRoot))")
            Output.line("   anchored at height \(receipt.header.height) of \(genesis.chainId), finalized by \(receipt.commit.signatures.count) validator signature(s)")
            if let line = Self.lightPathLine(receipt.lightPath, receipt.validators) { Output.line(line) }
            if recordBytes != nil { Output.line("   the record's bytes hash to the receipt's canonical hash") }
        case .consentProof(let proof, let answer):
            Output.line("OK \(answer.decision.rawValue) for the query, proven by \(proof.consents.count) directive(s)\(proof.patient.value == nil ? " (the patient has none: proven absent)" : "")")
            Output.line("   against the state root of height \(proof.header.height) of \(genesis.chainId), finalized by \(proof.commit.signatures.count) validator signature(s)")
            if let line = Self.lightPathLine(proof.lightPath, proof.validators) { Output.line(line) }
        case .allocationProof(let proof, let result):
            let who = proof.claimant.map { c in
                "'\(c)' got " + result.allocations(of: c).map { "\($0.units.displayText)\($0.side.map { " (\($0.rawValue))" } ?? "")" }.joined(separator: " and ")
            } ?? "\(result.allocations.count) allocation(s), \(result.free.displayText) free"
            Output.line("OK epoch \(result.epoch) of \(result.contract) (version \(result.version), \(result.mechanism.rawValue)): \(who)\(result.failure.map { "; the execution failed: \($0)" } ?? "")")
            Output.line("   against the state root of height \(proof.header.height) of \(genesis.chainId), finalized by \(proof.commit.signatures.count) validator signature(s)")
            if let line = Self.lightPathLine(proof.lightPath, proof.validators) { Output.line(line) }
        case .stored:
            break
        }
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
