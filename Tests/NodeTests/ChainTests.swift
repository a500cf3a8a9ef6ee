import Foundation
import Ledger
import Node
import Testing
import TestSupport

/// A one-validator genesis with a fresh key, in a fresh directory.
struct TestChain {
    let dir: URL
    let key: SigningKey
    let genesis: Genesis

    init(chainId: String = "careledger-test") throws {
        dir = try Repository.temporaryDirectory("careledger-chain")
        key = try SigningKey(seed: (0..<32).map { UInt8($0 &* 7 &+ 3) })
        genesis = Genesis(chainId: chainId, genesisTime: Date(timeIntervalSince1970: 1_700_000_000),
                          validators: [Genesis.Validator(name: "Hospital A", publicKey: key.publicKey, power: 10)])
    }

    var blocksPath: String { dir.appendingPathComponent("blocks.log").path }

    func open(writable: Bool = true) async throws -> Chain {
        try await Chain(genesis: genesis, blocks: try BlockStore(path: blocksPath, writable: writable), key: writable ? key : nil)
    }

    func remove() { try? FileManager.default.removeItem(at: dir) }
}

@Suite("Block store and the chain on one validator")
struct ChainTests {
    /// Anchors `n` random roots, one block each, starting at block time `t0`.
    func grow(_ chain: Chain, blocks n: Int, t0: Int64, seed: UInt64) async throws {
        var rng = SplitMix64(seed: seed)
        for i in 0..<n {
            let root = (0..<32).map { _ in UInt8.random(in: 0...255, using: &rng) }
            _ = try await chain.submit(.anchorBatch(AnchorBatch(root: root, leafCount: 3, firstTxid: 1, lastTxid: 3, canonicalForm: "careledger-canonical/1",
                                                                submitter: chain.genesis.validators[0].publicKey)))
            try await chain.produceBlock(now: t0 + Int64(i) * 10)
        }
    }

    @Test func aReopenedChainReplaysToTheSameStateAndTip() async throws {
        let t = try TestChain()
        defer { t.remove() }
        let chain = try await t.open()
        try await grow(chain, blocks: 12, t0: 1_700_000_001_000, seed: 1)
        let before = await chain.status
        #expect(before.height == 12)
        #expect(await chain.state.anchors.count == 12)
        let reopened = try await t.open(writable: false)
        let after = await reopened.status
        #expect(after == ChainStatus(chainId: before.chainId, height: 12, blockId: before.blockId, time: before.time, stateRoot: before.stateRoot,
                                     validators: before.validators, nextValidators: before.nextValidators, mempool: 0))
        // Each block's header carries the state root before it, and its commit certifies it.
        let b5 = try #require(try await reopened.block(at: 5))
        #expect(b5.commit.blockId == b5.block.header.id)
        #expect(b5.commit.problem(chainId: t.genesis.chainId, validators: t.genesis.validatorSet) == nil)
        let b6 = try #require(try await reopened.block(at: 6))
        #expect(b6.block.lastCommit == b5.commit)
        #expect(b6.block.header.previousBlockId == b5.block.header.id)
    }

    @Test func aTornLastRecordIsCutOffAndNothingCommittedIsLost() async throws {
        let t = try TestChain()
        defer { t.remove() }
        let chain = try await t.open()
        try await grow(chain, blocks: 5, t0: 1_700_000_001_000, seed: 2)
        let tip = await chain.status
        let size = try FileManager.default.attributesOfItem(atPath: t.blocksPath)[.size] as? Int ?? 0
        // A crash in the middle of writing block 6: its length and part of its checksum reached the disk.
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: t.blocksPath))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data([0, 0, 1, 0x20, 0xAB, 0xCD, 0xEF]))
        try handle.close()
        // A reader stops before it; the writer cuts it off and goes on from height 5.
        #expect(try BlockStore(path: t.blocksPath, writable: false).height == 5)
        let reopened = try await t.open()
        #expect(await reopened.status.stateRoot == tip.stateRoot)
        #expect(await reopened.height == 5)
        #expect(try FileManager.default.attributesOfItem(atPath: t.blocksPath)[.size] as? Int == size)
        try await grow(reopened, blocks: 2, t0: 1_700_000_002_000, seed: 3)
        #expect(await reopened.height == 7)
        #expect(try await t.open(writable: false).status.height == 7)
    }

    @Test func aDamagedRecordBeforeGoodOnesIsRefused() async throws {
        let t = try TestChain()
        defer { t.remove() }
        try await grow(try await t.open(), blocks: 4, t0: 1_700_000_001_000, seed: 4)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: t.blocksPath))
        bytes[60] ^= 0x01  // inside block 1's payload
        try bytes.write(to: URL(fileURLWithPath: t.blocksPath))
        await #expect {
            _ = try await t.open()
        } throws: { error in
            "\(error)".contains("damaged at byte 0")
        }
        #expect(throws: NodeError.self) { _ = try BlockStore(path: t.blocksPath, writable: false) }
    }

    @Test func aBlockSignedByAnotherKeyDoesNotReplay() async throws {
        let t = try TestChain()
        defer { t.remove() }
        try await grow(try await t.open(), blocks: 2, t0: 1_700_000_001_000, seed: 5)
        // The same file under a genesis whose validator is another key: the commits do not verify.
        let other = try SigningKey(seed: [UInt8](repeating: 9, count: 32))
        let foreign = Genesis(chainId: t.genesis.chainId, genesisTime: t.genesis.genesisTime,
                              validators: [Genesis.Validator(name: "Hospital A", publicKey: other.publicKey, power: 10)])
        await #expect {
            _ = try await Chain(genesis: foreign, blocks: try BlockStore(path: t.blocksPath, writable: false), key: nil)
        } throws: { error in
            "\(error)".contains("does not follow the chain")
        }
    }

    @Test func theMempoolOrdersNoncesAndRefusesReplays() async throws {
        let t = try TestChain()
        defer { t.remove() }
        let chain = try await t.open()
        let a = try await chain.submit(.bond(amount: 1))
        let b = try await chain.submit(.bond(amount: 2))
        #expect(a.nonce == 0 && b.nonce == 1)
        #expect(await chain.broadcast(a).code == .badNonce)
        let block = try await chain.produceBlock(now: 1_700_000_001_000)
        #expect(block.block.transactions == [a, b])
        #expect(await chain.inclusion(of: b.hash) == Inclusion(height: 1, index: 1, result: .ok))
        // A replay after commit: refused by the state.
        #expect(await chain.broadcast(a).code == .badNonce)
        #expect(await chain.state.participants[t.key.publicKey]?.stake == 13)
        // A stake change takes effect two heights later.
        #expect(try await chain.produceBlock(now: 1_700_000_001_010).block.header.validatorsHash == t.genesis.validatorSet.hash)
        let h3 = try await chain.produceBlock(now: 1_700_000_001_020).block.header
        #expect(h3.validatorsHash == ValidatorSet([Validator(key: t.key.publicKey, power: 13)]).hash)
        #expect(try await t.open(writable: false).status.height == 3)
    }

    /// An acknowledged client transaction survives a crash before its block: the journal admits it again, drops
    /// what was committed meanwhile, and ignores a torn last record.
    @Test func acknowledgedTransactionsSurviveARestartThroughTheJournal() async throws {
        let t = try TestChain()
        defer { t.remove() }
        let journal = t.dir.appendingPathComponent("mempool.log").path
        let txs = try (0..<5).map { i in
            try Transaction(signing: .bond(amount: UInt64(i + 1)), nonce: UInt64(i), chainId: t.genesis.chainId, with: t.key)
        }
        do {
            let chain = try await t.open()
            #expect(try await chain.openJournal(at: journal) == (0, 0))
            #expect(try await chain.broadcastDurably(Array(txs[0..<3])).allSatisfy { $0.code == nil })
            #expect(try await chain.produceBlock(now: 1_700_000_001_000).block.transactions == Array(txs[0..<3]))
            let results = try await chain.broadcastDurably([txs[3], txs[4], txs[4]])
            #expect(results.map(\.code) == [nil, nil, .badNonce])
        }
        // The process dies mid-write: half a record at the end.
        let handle = try #require(FileHandle(forWritingAtPath: journal))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data([0, 0, 1, 0, 9, 9, 9]))
        try handle.close()

        let chain = try await t.open()
        let reopened = try await chain.openJournal(at: journal)
        #expect(reopened == (2, 3))
        #expect(await chain.mempoolCount == 2)
        #expect(try await chain.produceBlock(now: 1_700_000_002_000).block.transactions == [txs[3], txs[4]])
        // Everything is committed: the next start drops both and leaves an empty journal.
        let again = try await t.open()
        #expect(try await again.openJournal(at: journal) == (0, 2))
        #expect(try FileManager.default.attributesOfItem(atPath: journal)[.size] as? Int == 0)
    }

    /// The chain's verifier caches transactions by hash: a forged signature is refused before and after the genuine
    /// transaction was verified, and in a block.
    @Test func aForgedSignatureIsRefusedWhateverTheCacheHolds() async throws {
        let t = try TestChain()
        defer { t.remove() }
        let chain = try await t.open()
        let genuine = try Transaction(signing: .bond(amount: 1), nonce: 0, chainId: t.genesis.chainId, with: t.key)
        var forged = genuine
        forged.signature[0] ^= 1
        #expect(await chain.broadcast(forged).code == .badSignature)
        #expect(await chain.broadcast(genuine).code == nil)
        #expect(await chain.broadcast(forged).code == .badSignature)
        #expect(try await chain.produceBlock(now: 1_700_000_001_000).block.transactions == [genuine])
        // A proposal for height 2 carrying the next transaction, genuine (verified and cached at admission) or
        // forged: only the genuine one is acceptable.
        let next = try Transaction(signing: .bond(amount: 2), nonce: 1, chainId: t.genesis.chainId, with: t.key)
        var forgedNext = next
        forgedNext.signature[5] ^= 0x10
        #expect(await chain.broadcast(next).code == nil)
        var block = await chain.proposal(now: 1_700_000_002_000, proposer: t.key.publicKey)
        #expect(block.transactions == [next])
        #expect(await chain.proposalProblem(block) == nil)
        block.transactions = [forgedNext]
        block.header.transactionsRoot = Block.transactionsRoot([forgedNext])
        #expect(await chain.proposalProblem(block)?.contains("does not apply") == true)
    }

    /// A block that is the mempool's first transactions leaves the rest admitted as they were (no re-check): the
    /// next nonce, a new admission and the next block all follow on.
    @Test func aBlockTakenFromTheMempoolsHeadKeepsTheRest() async throws {
        let t = try TestChain()
        defer { t.remove() }
        let chain = try await Chain(genesis: t.genesis, blocks: try BlockStore(path: t.blocksPath, writable: true), key: t.key,
                                    maxTransactionsPerBlock: 2)
        let txs = try (0..<4).map { i in
            try Transaction(signing: .bond(amount: UInt64(i + 1)), nonce: UInt64(i), chainId: t.genesis.chainId, with: t.key)
        }
        for tx in txs.prefix(3) { #expect(await chain.broadcast(tx).code == nil) }
        #expect(try await chain.produceBlock(now: 1_700_000_001_000).block.transactions == Array(txs[0..<2]))
        #expect(await chain.mempoolCount == 1)
        #expect(await chain.nextNonce(of: t.key.publicKey) == 3)
        #expect(await chain.broadcast(txs[1]).code == .badNonce)
        #expect(await chain.broadcast(txs[3]).code == nil)
        #expect(try await chain.produceBlock(now: 1_700_000_002_000).block.transactions == Array(txs[2..<4]))
        #expect(await chain.state.participants[t.key.publicKey]?.stake == 10 + 1 + 2 + 3 + 4)
        #expect(await chain.mempoolCount == 0)
    }

    @Test func aKeyWithoutTwoThirdsDoesNotProduce() async throws {
        let t = try TestChain()
        defer { t.remove() }
        let other = try SigningKey(seed: [UInt8](repeating: 5, count: 32))
        let shared = Genesis(chainId: "c", genesisTime: t.genesis.genesisTime,
                             validators: [Genesis.Validator(name: "A", publicKey: t.key.publicKey, power: 2),
                                          Genesis.Validator(name: "B", publicKey: other.publicKey, power: 1)])
        await #expect(throws: NodeError.self) {
            _ = try await Chain(genesis: shared, blocks: try BlockStore(path: t.blocksPath, writable: true), key: t.key)
        }
    }
}
