import FHIRCore
import Foundation
import Ledger
import Node
import RecordStore
import Testing
import TestSupport

@Suite("Receipts across validator-set changes (light client)", .timeLimit(.minutes(5)))
struct LightReceiptTests {
    /// The chain's history of sets is what the transactions say, and bisection finds the path CometBFT's would:
    /// 14 from the genesis fails (no trust), so does the pivot 7 (exactly 1/3), 3 verifies; then 7 from 3, 14 from 7
    /// fails (exactly 1/3), its pivot 10 verifies, and 14 from 10. Each step of genesis → 3 → 7 → 10 → 14 is needed.
    @Test func bisectionFindsAPathFromTheGenesisToALateBlock() async throws {
        var t = try await TurnoverChain.open()
        defer { t.remove() }
        try await t.turnOver()
        try await t.commitBlock()                                  // 14
        let changes = await t.chain.validatorChanges
        #expect(changes.map { $0.from } == [1, 3, 6, 9, 12])
        #expect(changes.map { $0.set } == [t.set(0...2), t.set(1...3), t.set(2...4), t.set(3...5), t.set(4...6)])

        let light = try await ReceiptBuilder.lightPath(to: 14, in: t.chain)
        #expect(light.path.map(\.header.height) == [3, 7, 10])
        #expect(light.target.header.height == 14 && light.target.validators == t.set(4...6))
        var cache = SignatureCache()
        let genesis = TrustedState.genesis(chainId: TurnoverChain.chainId, validators: t.set(0...2))
        // Straight from the genesis, block 14 is refused: none of its signers is a genesis validator.
        #expect(throws: LightClientError.self) { _ = try LightClient.verify(light.target, from: genesis, cache: &cache) }
        _ = try LightClient.verify(path: light.path + [light.target], from: genesis, cache: &cache)
        // Each step left out breaks the path.
        for n in light.path.indices {
            var shorter = light.path
            shorter.remove(at: n)
            #expect(throws: LightClientError.self, "without block \(light.path[n].header.height)") {
                _ = try LightClient.verify(path: shorter + [light.target], from: genesis, cache: &cache)
            }
        }
        // Before any change, no path: the genesis validators signed block 2.
        let early = try await ReceiptBuilder.lightPath(to: 2, in: t.chain)
        #expect(early.path.isEmpty && early.target.validators == t.set(0...2))
        // Block 4 is signed by k1–k3: a direct jump (2/3 of the genesis power signed), no intermediate block.
        let direct = try await ReceiptBuilder.lightPath(to: 4, in: t.chain)
        #expect(direct.path.isEmpty && direct.target.validators == t.set(1...3))
        // Block 7 (k2–k4): the genesis validators that signed hold exactly 1/3, so one step first.
        #expect(try await ReceiptBuilder.lightPath(to: 7, in: t.chain).path.map(\.header.height) == [3])
    }

    /// A record anchored at block 14 by k6, a validator that joined last: its receipt from the store carries the
    /// light path, verifies against the genesis validators alone (through JSON too), and fails without a path
    /// element or with a forged validator set.
    @Test func aReceiptAnchoredAfterTheGenesisSetLeftVerifiesFromTheGenesis() async throws {
        try await StoreKind.sqlite.withStore { store, _ in
            var t = try await TurnoverChain.open()
            defer { t.remove() }
            try await t.turnOver()
            let json = #"{"resourceType":"Patient","id":"light-1","name":[{"family":"Turnover"}]}"#
            _ = try await store.commit([try PreparedRecord(resource: try FHIRDocument.read(Array(json.utf8)).resource)], batch: nil)
            let key = RecordKey(type: "Patient", id: "light-1")

            // The anchoring service's work, by hand, with k5 as the submitter.
            let submitter = t.keys[6]
            let queued = try await store.anchorQueue(limit: 100)
            let root = Merkle.root(leafHashes: queued.map { Merkle.leafHash($0.commitment) })
            let manifest = queued.map { Merkle.leafHash(Receipt.manifestLeaf(reference: AnchoringService.reference($0.key, $0.version), commitment: $0.commitment)) }
            let keyName = AnchoringService.keyName(chainId: TurnoverChain.chainId, key: submitter.publicKey)
            let checkpoint = try SignedNote.sign(text: Checkpoint(origin: keyName, size: UInt64(queued.count), root: root,
                                                                  extensions: [Receipt.manifestExtension(root: Merkle.root(leafHashes: manifest))]).text,
                                                 keyName: keyName, key: submitter)
            let first = queued.map(\.txid).min() ?? 0, last = queued.map(\.txid).max() ?? 0
            let batch = try await store.createAnchorBatch(root: root, firstTxid: first, lastTxid: last, checkpoint: checkpoint,
                                                          leaves: queued.map { (key: $0.key, version: $0.version) })
            try await t.send(.anchorBatch(AnchorBatch(root: root, leafCount: UInt64(queued.count), firstTxid: UInt64(first), lastTxid: UInt64(last),
                                                      canonicalForm: CanonicalForm.version, submitter: submitter.publicKey)), by: 6)
            let anchored = try await t.commitBlock()               // 14
            #expect(anchored.block.header.height == 14 && anchored.block.transactions.count == 1)
            try await store.completeAnchorBatch(id: batch, height: 14, transactionIndex: 0)
            try await t.commitBlock()                              // 15

            guard case .receipt(let receipt, let record) = try await ReceiptBuilder.build(key, version: nil, store: store, chain: t.chain) else {
                Issue.record("no receipt for \(key)")
                return
            }
            let genesis = t.set(0...2)
            #expect(receipt.header.height == 14)
            #expect(receipt.lightPath.map(\.header.height) == [3, 7, 10])
            #expect(receipt.validators == t.set(4...6))
            try receipt.verify(chainId: TurnoverChain.chainId, validators: genesis, record: record)

            // Through JSON, as `careledger verify` reads it: careledger-receipt/2, the same receipt back.
            let data = try ReceiptJSON.encode(receipt)
            let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            #expect(object["format"] as? String == ReceiptJSON.lightFormat)
            let decoded = try ReceiptJSON.decode(data)
            #expect(decoded == receipt)
            try decoded.verify(chainId: TurnoverChain.chainId, validators: genesis, record: record)

            func failure(_ r: Receipt) -> Receipt.Failure? {
                do throws(Receipt.Failure) {
                    try r.verify(chainId: TurnoverChain.chainId, validators: genesis, record: record)
                    return nil
                } catch {
                    return error
                }
            }
            // Without the path, or the old check against the genesis set: refused.
            var bare = receipt
            bare.lightPath = []
            #expect(failure(bare)?.check == "commit")
            bare.validators = nil
            #expect(failure(bare)?.check == "commit")
            // Any one path element left out.
            for n in receipt.lightPath.indices {
                var shorter = receipt
                shorter.lightPath.remove(at: n)
                #expect(failure(shorter) != nil, "without path element \(n)")
            }
            // Path elements swapped.
            var swapped = receipt
            swapped.lightPath.swapAt(0, 1)
            #expect(failure(swapped)?.check == "light path")
            // A forged set for the anchoring block: k6 alone with all the power (k6 signed block 14).
            var forged = receipt
            forged.validators = ValidatorSet([Validator(key: t.keys[6].publicKey, power: 1_000)])
            #expect(failure(forged)?.check == "commit")
            // A forged set for a path block, and a forged next set (what the following step trusts).
            var forgedPath = receipt
            forgedPath.lightPath[1].validators = t.set(1...3)
            #expect(failure(forgedPath)?.check == "light path")
            var forgedNext = receipt
            forgedNext.lightPath[2].nextValidators = t.set(4...6)
            #expect(failure(forgedNext)?.check == "light path")
            // Another trust root than the genesis validators (here the set that signed the block).
            do throws(Receipt.Failure) {
                try receipt.verify(chainId: TurnoverChain.chainId, validators: t.set(4...6), record: record)
                Issue.record("a foreign trust root was accepted")
            } catch {
                #expect(error.check == "light path")
            }
        }
    }

    /// Every single-bit flip of the light path's members and of the block's validator set is refused (the other
    /// members are flipped by ReceiptTests).
    @Test func everyBitFlipOfTheLightPathFails() async throws {
        var t = try await TurnoverChain.open()
        defer { t.remove() }
        try await t.turnOver()
        try await t.commitBlock()                                  // 14
        let light = try await ReceiptBuilder.lightPath(to: 14, in: t.chain)
        let genesis = TrustedState.genesis(chainId: TurnoverChain.chainId, validators: t.set(0...2))
        // The light-client part of a receipt, checked as Receipt.verify does; one cache for all flips (it only
        // remembers signatures that verified).
        var cache = SignatureCache()
        func verifies(_ path: [LightBlock], _ validators: ValidatorSet) -> Bool {
            do throws(LightClientError) {
                let last = try LightClient.verify(path: path, from: genesis, cache: &cache)
                try LightClient.verify(header: light.target.header, commit: light.target.commit, validators: validators, from: last, cache: &cache)
                return true
            } catch {
                return false
            }
        }
        #expect(verifies(light.path, light.target.validators))
        var flips = 0
        func eachFlip(_ bytes: [UInt8], _ body: ([UInt8]) -> Void) {
            for i in 0..<bytes.count * 8 {
                var b = bytes
                b[i / 8] ^= UInt8(1 << (i % 8))
                body(b)
            }
        }
        func flipped(_ set: ValidatorSet, _ body: (ValidatorSet) -> Void) {
            for (n, v) in set.validators.enumerated() {
                eachFlip(v.encoded) { bytes in
                    guard let changed = try? Validator(encoded: bytes) else { return }
                    var members = set.validators
                    members[n] = changed
                    body(ValidatorSet(members))
                }
            }
        }
        for n in light.path.indices {
            func mustFail(_ change: (inout LightBlock) -> Void, _ what: String) {
                var path = light.path
                change(&path[n])
                flips += 1
                #expect(!verifies(path, light.target.validators), "path \(n): \(what)")
            }
            eachFlip(light.path[n].header.encoded) { bytes in
                guard let h = try? BlockHeader(encoded: bytes) else { return }
                mustFail({ $0.header = h }, "header")
            }
            eachFlip(light.path[n].commit.encoded) { bytes in
                guard let c = try? CommitCertificate(encoded: bytes) else { return }
                mustFail({ $0.commit = c }, "commit")
            }
            flipped(light.path[n].validators) { set in mustFail({ $0.validators = set }, "validators") }
            flipped(light.path[n].nextValidators) { set in mustFail({ $0.nextValidators = set }, "next validators") }
        }
        flipped(light.target.validators) { set in
            flips += 1
            #expect(!verifies(light.path, set), "the block's validators")
        }
        print("light path: \(flips) single-bit flips, every one refused")
        #expect(flips > 10_000)
    }
}
