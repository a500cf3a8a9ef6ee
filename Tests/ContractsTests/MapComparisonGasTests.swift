import Contracts
import Testing

/// Comparing maps stops at the first entry that differs, so the entries must be visited in one order on every
/// validator — key order, not the dictionary's, which depends on each process's hashing seed — or the gas charged
/// (stored in results, so part of the state root) would differ between validators.
@Suite struct MapComparisonGasTests {
    /// Gas of `a == b` with two-entry maps bound as `a` and `b`.
    static func gas(_ a: [Value: Value], _ b: [Value: Value]) throws -> (Value, UInt64) {
        let e = try Expression("a == b")
        var meter = Meter(budget: 10_000)
        let v = try e.evaluate(["a": .map(a), "b": .map(b)], meter: &meter)
        return (v, meter.used)
    }

    @Test func entriesAreComparedInKeyOrderSoTheGasIsTheSameEverywhere() throws {
        let long = Value.string(String(repeating: "x", count: 160))
        // "a" comes first in key order: its 160-byte strings are compared (10 units) before "z" differs.
        let (equal, gas) = try Self.gas([.string("a"): long, .string("z"): .int(1)], [.string("z"): .int(2), .string("a"): long])
        #expect(equal == .bool(false))
        // 3 nodes + 2 × 2 entries for the comparison + 160 / 16 units for the strings.
        #expect(gas == 3 + 4 + 10)
        // Ints before strings: the int key differs first, and no string is compared.
        let (_, intFirst) = try Self.gas([.int(1): .int(1), .string("a"): long], [.string("a"): long, .int(1): .int(2)])
        #expect(intFirst == 3 + 4)
        // The same maps built in other orders and sizes charge the same.
        for n in 2...40 {
            var a: [Value: Value] = [.string("a"): long, .string("z"): .int(1)]
            var b: [Value: Value] = [:]
            b.reserveCapacity(n)
            b[.string("z")] = .int(2)
            b[.string("a")] = long
            a.reserveCapacity(n)
            #expect(try Self.gas(a, b).1 == 17)
        }
    }
}
