import Foundation
import Ledger
import Node
import Testing
import TestSupport

/// A chain of validators run by hand in a temp dir: blocks proposed by `Chain`, precommitted by every validator
/// of their height, committed; transactions turn the genesis validators over completely. Shared by
/// LightReceiptTests and LightConsentProofTests.
struct TurnoverChain {
    static let chainId = "careledger-turnover"
    let dir: URL
    let chain: Chain
    /// Participant keys k0 … k6 (k0–k2 are the genesis validators).
    let keys: [SigningKey]
    private(set) var nonces: [PublicKey: UInt64] = [:]
    private(set) var time: Int64 = 1_700_000_000_000

    static func open() async throws -> TurnoverChain {
        let dir = try Repository.temporaryDirectory("careledger-light")
        let keys = try (0..<7).map { n in try SigningKey(seed: (0..<32).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ n &* 29 &+ 1) }) }
        let genesis = Genesis(chainId: chainId, genesisTime: Date(timeIntervalSince1970: 1_700_000_000),
                              validators: (0..<3).map { Genesis.Validator(name: "Hospital \($0)", publicKey: keys[$0].publicKey, power: 10) })
        let blocks = try BlockStore(path: dir.appendingPathComponent("blocks.log").path, writable: true)
        let chain = try await Chain(genesis: genesis, blocks: blocks, key: nil, solo: false)
        return TurnoverChain(dir: dir, chain: chain, keys: keys)
    }

    func remove() { try? FileManager.default.removeItem(at: dir) }

    /// Signs `body` by key `n` with its next nonce and admits it to the mempool.
    @discardableResult
    mutating func send(_ body: TransactionBody, by n: Int) async throws -> Transaction {
        let key = keys[n]
        let nonce = nonces[key.publicKey] ?? 0
        let tx = try Transaction(signing: body, nonce: nonce, chainId: Self.chainId, with: key)
        let result = await chain.broadcast(tx)
        #expect(result.code == nil, "transaction of k\(n): \(result.message)")
        nonces[key.publicKey] = nonce + 1
        return tx
    }

    /// Proposes the next block with the mempool, has every validator of its height precommit it, and commits it.
    @discardableResult
    mutating func commitBlock() async throws -> StoredBlock {
        let height = await chain.height + 1
        let signers = try #require(await chain.validatorSet(at: height))
        time += 1_000
        let block = await chain.proposal(now: time, proposer: signers.validators[0].key)
        let vote = voteSignBytes(chainId: Self.chainId, kind: .precommit, height: height, round: 0, blockId: block.header.id)
        var signatures: [CommitSignature] = []
        for v in signers.validators {
            let key = try #require(keys.first { $0.publicKey == v.key })
            signatures.append(CommitSignature(validator: v.key, signature: try key.sign(vote)))
        }
        let stored = StoredBlock(block: block, commit: CommitCertificate(height: height, round: 0, blockId: block.header.id, signatures: signatures))
        let finalized = try await chain.commit(stored)
        #expect(finalized.results.allSatisfy { $0.code == nil }, "block \(height): \(finalized.results.map(\.message))")
        return stored
    }

    /// Blocks 1–13: one validator joins and one leaves every three blocks, so the set turns over like a ring:
    /// k0 k1 k2 (genesis), k1 k2 k3 from 3, k2 k3 k4 from 6, k3 k4 k5 from 9, k4 k5 k6 from 12. Two sets apart
    /// share one validator of three (exactly 1/3), so a verifier must step through every change.
    mutating func turnOver() async throws {
        for (joining, leaving) in [(3, 0), (4, 1), (5, 2), (6, 3)] {
            try await send(.registerParticipant(RegisterParticipant(name: "Hospital \(joining)", nodeKey: keys[joining].publicKey)), by: joining)
            try await send(.bond(amount: 10), by: joining)
            try await send(.unbond(amount: 10), by: leaving)
            for _ in 0..<3 { try await commitBlock() }              // the change in the first, in effect two blocks later
        }
        try await commitBlock()                                    // 13
    }

    func set(_ members: ClosedRange<Int>) -> ValidatorSet { ValidatorSet(members.map { Validator(key: keys[$0].publicKey, power: 10) }) }
}
