import FHIRCore
import Testing
@testable import RecordStore

@Suite("Salts for record versions")
struct SaltGeneratorTests {
    @Test func saltsAreDistinctAcrossBlocksAndGenerators() {
        var a = SaltGenerator()
        var b = SaltGenerator()
        var seen = Set<[UInt8]>()
        // 2,000 salts from each: 64 KB, four keystream blocks each.
        for _ in 0..<2000 {
            seen.insert(RecordCommitment.freshSalt(using: &a))
            seen.insert(RecordCommitment.freshSalt(using: &b))
        }
        #expect(seen.count == 4000)
        #expect(seen.allSatisfy { $0.count == RecordCommitment.saltLength })
    }

    @Test func bytesLookUniform() {
        // 256 KB of output: each byte value should appear about 1,024 times. A chi-square statistic over 255
        // degrees of freedom above 400 has probability below 1e-8 for a uniform source; a stuck counter, a
        // zero block or a repeated block would be far above it.
        var g = SaltGenerator()
        var counts = [Int](repeating: 0, count: 256)
        for _ in 0..<(256 * 1024 / 8) {
            let w = g.next()
            for i in 0..<8 { counts[Int(truncatingIfNeeded: (w >> UInt64(8 * i)) & 0xFF)] += 1 }
        }
        let expected = Double(256 * 1024) / 256
        let chi = counts.reduce(0.0) { $0 + (Double($1) - expected) * (Double($1) - expected) / expected }
        #expect(chi < 400, "chi-square \(chi)")
    }
}
