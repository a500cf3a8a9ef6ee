import ArgumentParser
import Foundation
import Ledger
import Node

/// `careledger bench receipts`: offline receipt verification on one core, beside raw Ed25519 verification.
struct ReceiptBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "receipts",
        abstract: "Receipts verified per second on one core, beside Ed25519 signature verifications per second in the same run.",
        discussion: """
            Anchors --records small records in one batch of an in-memory one-validator chain, then verifies every \
            receipt on one thread, --rounds times: record hash, commitment, inclusion proof, anchor transaction and \
            its place in the block, commit certificate, signed checkpoint, manifest proof. Two ways: cold, each \
            receipt alone (two Ed25519 verifications each: the commit and the checkpoint, so half the reference rate \
            is the ceiling); and as a verifier checking many receipts does, with a cache of signatures already \
            verified (every other check still runs for every receipt). Goal (issue 4): ≥ 5,000 receipts/s on one core.
            """
    )

    @Option(help: "Records in the anchored batch (one receipt each).")
    var records = 2_000

    @Option(help: "Verification passes over all receipts; the median pass is reported.")
    var rounds = 5

    func run() throws {
        let key = try SigningKey(seed: [UInt8](repeating: 42, count: 32))
        let bodies = (0..<records).map { Array(#"{"id":"bench-\#($0)","meta":{"lastUpdated":"2026-11-30T12:00:00.000Z","versionId":"1"},"resourceType":"Observation","status":"final"}"#.utf8) }
        let receipts = try SampleChain.anchoredReceipts(chainId: "careledger-bench", key: key, records: bodies)
        guard let first = receipts.first else { throw ValidationError("--records must be at least 1") }
        let clock = ContinuousClock()
        var cold: [Double] = []
        var warm: [Double] = []
        var reference: [Double] = []
        let message = Array("careledger receipt bench".utf8)
        let signature = try key.sign(message)
        func pass(shared: Bool) throws -> Double {
            var cache = SignatureCache()
            let start = clock.now
            for r in receipts {
                if !shared { cache = SignatureCache() }
                do throws(Receipt.Failure) {
                    try r.receipt.verify(chainId: "careledger-bench", validators: first.validators, record: r.record, cache: &cache)
                } catch {
                    throw ValidationError("a bench receipt failed to verify: \(error)")
                }
            }
            return Double(receipts.count) / (clock.now - start).seconds
        }
        for _ in 0..<max(rounds, 1) {
            cold.append(try pass(shared: false))
            warm.append(try pass(shared: true))
            // The reference: bare Ed25519 verifications, as many as the cold pass makes.
            let sigStart = clock.now
            var ok = 0
            for _ in 0..<(receipts.count * 2) where key.publicKey.verifies(signature, over: message) { ok += 1 }
            guard ok == receipts.count * 2 else { throw ValidationError("the reference signature failed to verify") }
            reference.append(Double(ok) / (clock.now - sigStart).seconds)
        }
        func median(_ v: [Double]) -> Double { v.sorted()[v.count / 2] }
        let signatureRate = median(reference)
        print("receipt benchmark: \(receipts.count) receipts of one batch (tree size \(receipts.count)), median of \(cold.count) passes, one core")
        print(String(format: "  Ed25519 verify alone (reference)     %9.0f signatures/s → cold ceiling %.0f receipts/s (2 signatures each)", signatureRate, signatureRate / 2))
        print(String(format: "  verify, each receipt alone (cold)    %9.0f receipts/s   (%.2f× that ceiling)", median(cold), median(cold) / (signatureRate / 2)))
        print(String(format: "  verify, shared signature cache       %9.0f receipts/s   (%.1f× the reference signature rate)", median(warm), median(warm) / signatureRate))
        print(String(format: "  goal ≥ 5,000 receipts/s: %@ with the cache; %@ cold", median(warm) >= 5_000 ? "met" : "NOT met", median(cold) >= 5_000 ? "met" : "not met"))
    }
}
