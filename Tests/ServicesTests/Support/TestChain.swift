import Foundation
import Ledger
import Node
import TestSupport

/// A one-validator genesis with a fresh key, in a fresh directory: the real chain a node runs, in this process.
struct TestChain {
    let dir: URL
    let key: SigningKey
    let genesis: Genesis

    init(chainId: String = "careledger-services-test") throws {
        dir = try Repository.temporaryDirectory("careledger-chain")
        key = try SigningKey(seed: (0..<32).map { UInt8($0 &* 7 &+ 3) })
        genesis = Genesis(chainId: chainId, genesisTime: Date(timeIntervalSince1970: 1_700_000_000),
                          validators: [Genesis.Validator(name: "Hospital A", publicKey: key.publicKey, power: 10)])
    }

    func open() async throws -> Chain {
        try await Chain(genesis: genesis, blocks: try BlockStore(path: dir.appendingPathComponent("blocks.log").path, writable: true), key: key)
    }

    func remove() { try? FileManager.default.removeItem(at: dir) }

    /// Produces a block every few milliseconds, empty or not, until cancelled (the node's block loop with a test
    /// clock): recording a directive waits for the block after its own.
    static func producing(_ chain: Chain) -> Task<Void, Never> {
        Task {
            var t: Int64 = 1_700_000_010_000
            while !Task.isCancelled {
                t += 10
                _ = try? await chain.produceBlock(now: t)
                try? await Task.sleep(for: .milliseconds(3))
            }
        }
    }
}
