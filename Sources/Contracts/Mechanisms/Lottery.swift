import Crypto

/// A weighted lottery without replacement (the Pittsburgh remdesivir lottery, White et al., JAMA 2020): whole units
/// are drawn one at a time, each to a claimant picked with probability proportional to its weight among those still
/// in the urn; a claimant leaves the urn when its demand is met (after one draw, for unit demand). Zero weights are
/// never drawn, even when the supply would cover them.
///
/// The randomness is `ctx.seed`, which the ledger sets to H(block hash ‖ contract ‖ epoch), so every validator draws
/// the same winners and nobody can choose them before the block is final. The n-th candidate is the first 16 bytes
/// of SHA-256(seed ‖ "careledger/lottery/v1" ‖ n as 8 bytes big-endian), n counting every hash taken in the epoch
/// from 0, across priority groups (so n is the draw's index until a candidate is rejected).
///
/// Units are whole: the lottery draws floor(supply) units and leaves a divisible pool's fraction free; a claimant
/// stays in the urn while at least one whole unit of its demand is unmet. When the units left cover every demand
/// in the urn, each gets the rest of its demand without drawing (drawing them one by one would end the same way).
enum Lottery {
    /// The domain tag hashed after the seed, so lottery randomness never equals another use of the same seed.
    static let domain = Array("careledger/lottery/v1".utf8)
    /// The most candidates one draw may reject. Each is accepted with probability above 1/2, so the limit is reached
    /// with probability below 2⁻⁶⁴; reaching it fails the epoch (`outOfGas`), the same on every validator.
    static let maxAttempts = 64

    static func divide(_ ctx: inout ExecutionContext, supply: Rational, claims: [PreparedClaim]) throws(ContractFailure) -> [Rational] {
        try ctx.charge(claims.count, "the lottery's urn")
        guard !supply.isNegative else { return claims.map { _ in .zero } }
        var urn = try Urn(weights: claims.map(\.weight), demands: claims.map { $0.demand.floor })
        for c in claims where c.weight.isZero && !c.demand.isZero {
            try ctx.record(Step("exclude", claimant: c.id, amounts: [c.weight], note: "weight 0: never drawn"))
        }
        var left = supply.floor
        while left > 0, !urn.isEmpty {
            if left >= urn.unmetDemand {
                try ctx.record(Step("cap", amounts: [Rational(left, 1), Rational(urn.unmetDemand, 1)],
                                    note: "\(left) units left cover the \(urn.unmetDemand) still asked by the urn: each claimant in it gets the rest of its demand"))
                urn.fillAll()
                break
            }
            try ctx.charge(urn.pickCost, "a lottery draw")
            let total = urn.total
            let value = try uniform(below: total, ctx: &ctx)
            let i = urn.pick(value)
            urn.take(i)
            left -= 1
            try ctx.record(Step("draw", claimant: claims[i].id, amounts: [try Rational(Int128(value), 1), try Rational(Int128(total), 1)],
                                note: "draw \(urn.draws): \(value) in [0, \(total)) falls to '\(claims[i].id)' (weight \(claims[i].weight.displayText)), "
                                    + "now holding \(urn.awarded[i]) of \(claims[i].demand.displayText)"))
        }
        return urn.awarded.map { Rational(reduced: $0, 1) }
    }

    /// A uniform integer in [0, bound) from the seed's candidates, by rejection: keep the low ⌈log₂ bound⌉ bits of a
    /// candidate and take them if they are below `bound`, else the next candidate. Taking a remainder instead would
    /// favour the small values whenever `bound` is not a power of two.
    static func uniform(below bound: UInt128, ctx: inout ExecutionContext) throws(ContractFailure) -> UInt128 {
        precondition(bound > 0, "drawing from an empty urn")
        for _ in 0..<maxAttempts {
            try ctx.charge(1, "a lottery candidate")
            let c = candidate(seed: ctx.seed, counter: ctx.candidatesTaken)
            ctx.candidatesTaken += 1
            if let v = accept(c, below: bound) { return v }
        }
        throw ContractFailure(.outOfGas, "a lottery draw rejected \(maxAttempts) candidates in a row")
    }

    /// The n-th candidate: the first 16 bytes, big-endian, of SHA-256(seed ‖ domain ‖ n as 8 bytes big-endian).
    static func candidate(seed: [UInt8], counter: UInt64) -> UInt128 {
        var hash = SHA256()
        hash.update(data: seed)
        hash.update(data: domain)
        hash.update(data: (0..<8).map { UInt8(truncatingIfNeeded: counter >> (56 - 8 * $0)) })
        var value: UInt128 = 0
        for byte in hash.finalize().prefix(16) { value = value << 8 | UInt128(byte) }
        return value
    }

    /// The candidate's low bits as a value in [0, bound), or nil when they are not below `bound` (rejected). Over
    /// the 2^b values of those b bits, each accepted value occurs exactly once: the draw is exactly uniform.
    static func accept(_ candidate: UInt128, below bound: UInt128) -> UInt128? {
        precondition(bound > 0, "an empty range")
        let bits = UInt128.bitWidth - (bound - 1).leadingZeroBitCount
        let mask: UInt128 = bits == UInt128.bitWidth ? .max : (1 << bits) - 1
        let v = candidate & mask
        return v < bound ? v : nil
    }

    /// The claimants still in the draw, with weights scaled to integers over a common denominator, in claim order
    /// (claimant id). A Fenwick tree over those weights finds the claimant a value falls to in log₂ n steps: the
    /// first whose cumulative weight exceeds it, so claimant i gets exactly wᵢ of the W values.
    struct Urn {
        /// Integer weights (the weights times the least common multiple of their denominators).
        let weights: [UInt128]
        let demands: [Int128]
        private(set) var awarded: [Int128]
        private(set) var tree: [UInt128]
        private(set) var total: UInt128 = 0
        /// Units still asked by the claimants in the urn.
        private(set) var unmetDemand: Int128 = 0
        private(set) var draws = 0

        init(weights rational: [Rational], demands: [Int128]) throws(ContractFailure) {
            precondition(rational.count == demands.count, "one demand per weight")
            var lcm: Int128 = 1
            for w in rational where !w.isZero {
                let g = Int128(Rational.gcd(lcm.magnitude, w.denominator.magnitude))
                let (l, o) = (lcm / g).multipliedReportingOverflow(by: w.denominator)
                guard !o, l <= Rational.bound else { throw ContractFailure(.overflow, "the lottery weights' common denominator exceeds 2^126") }
                lcm = l
            }
            var weights: [UInt128] = []
            for w in rational {
                let scaled = try w.multiplied(by: Rational(lcm, 1))
                weights.append(UInt128(scaled.numerator))
            }
            self.weights = weights
            self.demands = demands.map { Swift.max(0, $0) }
            awarded = Array(repeating: 0, count: weights.count)
            tree = Array(repeating: 0, count: weights.count + 1)
            for i in weights.indices where weights[i] > 0 && self.demands[i] > 0 {
                let (t, o) = total.addingReportingOverflow(weights[i])
                guard !o, t <= UInt128(Rational.bound) else { throw ContractFailure(.overflow, "the lottery's total weight exceeds 2^126") }
                total = t
                let (u, o2) = unmetDemand.addingReportingOverflow(self.demands[i])
                guard !o2 else { throw ContractFailure(.overflow, "the lottery's total demand overflows") }
                unmetDemand = u
                add(weights[i], at: i)
            }
        }

        var isEmpty: Bool { total == 0 }

        /// The gas of one pick and take: the Fenwick tree's depth, twice.
        var pickCost: Int { 2 * (Int.bitWidth - weights.count.leadingZeroBitCount) }

        private mutating func add(_ w: UInt128, at index: Int) {
            var i = index + 1
            while i < tree.count {
                tree[i] += w
                i += i & -i
            }
        }

        private mutating func remove(_ w: UInt128, at index: Int) {
            var i = index + 1
            while i < tree.count {
                tree[i] -= w
                i += i & -i
            }
        }

        /// The claimant (index) that `value` in [0, total) falls to: the first whose cumulative weight exceeds it.
        func pick(_ value: UInt128) -> Int {
            precondition(value < total, "\(value) is outside the urn's [0, \(total))")
            var position = 0, rest = value
            var step = 1
            while step * 2 < tree.count { step *= 2 }
            while step > 0 {
                let next = position + step
                if next < tree.count, tree[next] <= rest {
                    position = next
                    rest -= tree[next]
                }
                step /= 2
            }
            return position
        }

        /// One unit to claimant `index`; it leaves the urn when its demand is met.
        mutating func take(_ index: Int) {
            precondition(awarded[index] < demands[index] && weights[index] > 0, "drew a claimant outside the urn")
            awarded[index] += 1
            unmetDemand -= 1
            draws += 1
            if awarded[index] == demands[index] {
                remove(weights[index], at: index)
                total -= weights[index]
            }
        }

        /// Every claimant in the urn gets the rest of its demand; the urn is then empty.
        mutating func fillAll() {
            for i in weights.indices where weights[i] > 0 && awarded[i] < demands[i] {
                unmetDemand -= demands[i] - awarded[i]
                awarded[i] = demands[i]
                remove(weights[i], at: i)
                total -= weights[i]
            }
        }
    }
}
