import Ledger
import Testing
import TestSupport

@Suite("Layered map")
struct LayeredMapTests {
    /// Random writes, overwrites and removals across copies (several merges of the recent part): every copy reads,
    /// counts and lists exactly what a plain dictionary given the same operations holds.
    @Test func behavesLikeADictionaryAcrossCopies() {
        var g = SplitMix64(seed: 99)
        var map = LayeredMap<Int, Int>()
        var reference: [Int: Int] = [:]
        var snapshots: [(LayeredMap<Int, Int>, [Int: Int])] = []
        for step in 0..<30_000 {
            let key = g.below(12_000)
            switch g.below(10) {
            case 0:
                map[key] = nil
                reference[key] = nil
            default:
                map[key] = step
                reference[key] = step
            }
            if step % 3_001 == 0 { snapshots.append((map, reference)) }
            #expect(map[key] == reference[key])
        }
        snapshots.append((map, reference))
        for (copy, expected) in snapshots {
            #expect(copy.count == expected.count)
            #expect(copy.values.sorted() == expected.values.sorted())
            for key in stride(from: 0, to: 12_000, by: 7) { #expect(copy[key] == expected[key]) }
        }
    }
}

@Suite("Transaction signature cache")
struct TransactionSignatureCacheTests {
    /// Two generations: a filled generation is kept as the previous one, so the last `capacity` entries at least
    /// are always remembered, and older ones go.
    @Test func keepsTheRecentGenerations() {
        var cache = TransactionSignatureCache()
        cache.capacity = 4
        let hashes = (0..<12).map { i in [UInt8](repeating: UInt8(i), count: 32) }
        for (i, h) in hashes.enumerated() {
            #expect(!cache.contains(h))
            cache.insert(h)
            #expect(cache.contains(h))
            for earlier in hashes[max(0, i - 3)...i] { #expect(cache.contains(earlier)) }
        }
        #expect(!cache.contains(hashes[0]))
        // Hashes equal in their first eight bytes stay distinct.
        var twin = hashes[11]
        twin[31] ^= 1
        #expect(!cache.contains(twin))
    }
}
