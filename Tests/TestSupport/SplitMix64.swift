/// A small deterministic generator (SplitMix64): tests that draw random data see the same data on every run.
public struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    public mutating func bytes(_ count: Int) -> [UInt8] {
        var out: [UInt8] = []
        while out.count < count {
            var x = next()
            for _ in 0..<8 where out.count < count {
                out.append(UInt8(truncatingIfNeeded: x))
                x >>= 8
            }
        }
        return out
    }

    /// Uniform enough in 0..<n for shuffling test data.
    public mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }

    public mutating func shuffle<T>(_ a: inout [T]) {
        guard a.count > 1 else { return }
        for i in stride(from: a.count - 1, to: 0, by: -1) {
            a.swapAt(i, below(i + 1))
        }
    }
}
