@testable import Contracts
import Testing

@Suite struct LotteryTests {
    static func r(_ text: String) throws -> Rational { try Rational(parsing: text) }

    /// Claims a, b, c, … with these weights, each demanding `demand` units.
    static func weighted(_ weights: [Rational], demand: Int = 1) -> [Claim] {
        weights.enumerated().map { Claim(claimant: ContractFixture.name($0.offset), units: Rational(demand), weight: $0.element) }
    }

    static func run(_ claims: [Claim], supply: Rational, seed: [UInt8], divisible: Bool = false, gas: UInt64? = nil) throws -> EpochResult {
        let contract = try ContractFixture.contract(.lottery, divisible: divisible, gas: gas)
        return ContractExecutor.execute(contract, epoch: 0, supply: supply, claims: claims, seed: seed)
    }

    // MARK: Exact enumeration

    /// Inclusion probabilities of `draws` draws from `urn`, by exact enumeration of the lottery's own procedure: at
    /// every state, every value in [0, W) is equally likely, `Urn.pick` says whose it is, and `Urn.take` moves on.
    static func enumerated(_ urn: Lottery.Urn, draws: Int) throws -> [Rational] {
        var inclusion = Array(repeating: Rational.zero, count: urn.weights.count)
        try walk(urn, draws: draws, probability: .one, into: &inclusion)
        return inclusion
    }

    private static func walk(_ urn: Lottery.Urn, draws: Int, probability: Rational, into inclusion: inout [Rational]) throws {
        guard draws > 0, !urn.isEmpty else {
            for i in urn.awarded.indices where urn.awarded[i] > 0 { inclusion[i] = try inclusion[i].adding(probability) }
            return
        }
        // Count the values that fall to each claimant, then follow each claimant once with its share.
        var counts: [Int: Int128] = [:]
        for value in 0..<urn.total { counts[urn.pick(value), default: 0] += 1 }
        let total = Int128(urn.total)
        for (i, count) in counts.sorted(by: { $0.key < $1.key }) {
            var next = urn
            next.take(i)
            try walk(next, draws: draws - 1, probability: probability.multiplied(by: Rational(count, total)), into: &inclusion)
        }
    }

    /// The textbook inclusion probability of sequential weighted sampling without replacement (unit demands): the sum,
    /// over the ordered sequences of `draws` distinct positive-weight claimants that contain i, of
    /// Π w_{s_j} / (W − w_{s_1} − … − w_{s_{j−1}}). Written independently of the lottery's code.
    static func formula(_ weights: [Rational], draws: Int) throws -> [Rational] {
        let positive = weights.indices.filter { !weights[$0].isZero }
        let k = min(draws, positive.count)
        var inclusion = Array(repeating: Rational.zero, count: weights.count)
        func extend(_ chosen: [Int], _ probability: Rational, _ left: Rational) throws {
            guard chosen.count < k else {
                for i in chosen { inclusion[i] = try inclusion[i].adding(probability) }
                return
            }
            for i in positive where !chosen.contains(i) {
                try extend(chosen + [i], probability.multiplied(by: weights[i].divided(by: left)), left.subtracting(weights[i]))
            }
        }
        try extend([], .one, Rational.sum(weights))
        return inclusion
    }

    @Test func pittsburghOneDoseGivesAQuarterFiveSixteenthsFiveSixteenthsAnEighth() throws {
        // allocation-examples.md, weighted lottery: one dose, weights 1, 1.25, 1.25, 0.5 → 1/4, 5/16, 5/16, 1/8.
        let weights = [Rational(1), try Self.r("5/4"), try Self.r("5/4"), try Self.r("1/2")]
        let urn = try Lottery.Urn(weights: weights, demands: [1, 1, 1, 1])
        #expect(urn.weights == [4, 5, 5, 2])
        let expected = [try Self.r("1/4"), try Self.r("5/16"), try Self.r("5/16"), try Self.r("1/8")]
        #expect(try Self.enumerated(urn, draws: 1) == expected)
        #expect(try Self.formula(weights, draws: 1) == expected)
    }

    @Test func eachClaimantGetsExactlyItsWeightInValuesOfTheUrn() throws {
        // The mapping from a uniform value in [0, W) to claimants, counted over every value: claimant i gets exactly
        // its integer weight of them, also after claimants have left the urn, and zero weights get none.
        var generator = SplitMix64(seed: 18_003)
        for _ in 0..<40 {
            let n = generator.int(1...7)
            var weights: [Rational] = []
            for _ in 0..<n { weights.append(try generator.rational(0...6, over: 1...4)) }
            guard weights.contains(where: { !$0.isZero }) else { continue }
            var urn = try Lottery.Urn(weights: weights, demands: Array(repeating: 1, count: n))
            while !urn.isEmpty {
                var counts = Array(repeating: UInt128(0), count: n)
                for value in 0..<urn.total { counts[urn.pick(value)] += 1 }
                let expected = urn.weights.indices.map { urn.awarded[$0] == 0 ? urn.weights[$0] : 0 }
                #expect(counts == expected, "weights \(weights)")
                guard let next = counts.firstIndex(where: { $0 > 0 }) else { break }
                urn.take(next)
            }
        }
    }

    @Test func enumeratedInclusionProbabilitiesMatchSequentialWeightedSampling() throws {
        var generator = SplitMix64(seed: 18_013)
        for _ in 0..<30 {
            let n = generator.int(1...5)
            var weights: [Rational] = []
            for _ in 0..<n { weights.append(try generator.rational(0...5, over: 1...3)) }
            guard weights.contains(where: { !$0.isZero }) else { continue }
            let draws = generator.int(1...n)
            let urn = try Lottery.Urn(weights: weights, demands: Array(repeating: 1, count: n))
            let exact = try Self.enumerated(urn, draws: draws)
            #expect(exact == (try Self.formula(weights, draws: draws)), "weights \(weights), \(draws) draws")
            // The inclusion probabilities add up to the number of units drawn, and a zero weight is never drawn.
            let drawn = min(draws, weights.filter { !$0.isZero }.count)
            #expect(try Rational.sum(exact) == Rational(drawn))
            for (w, p) in zip(weights, exact) where w.isZero { #expect(p == .zero) }
        }
    }

    @Test func rejectionSamplingMapsCandidatesUniformlyWithoutModuloBias() {
        // For every bound up to 40, over all candidates of b + 2 bits (b = the bits kept), each value below the bound
        // is accepted exactly 4 times and the rest are rejected: uniform, and more than half accepted.
        for bound in UInt128(1)...40 {
            let bits = UInt128.bitWidth - (bound - 1).leadingZeroBitCount
            var counts = Array(repeating: 0, count: Int(bound))
            var rejected = 0
            for candidate in UInt128(0)..<(UInt128(1) << (bits + 2)) {
                if let v = Lottery.accept(candidate, below: bound) { counts[Int(v)] += 1 } else { rejected += 1 }
            }
            #expect(counts.allSatisfy { $0 == 4 }, "bound \(bound)")
            #expect(rejected < counts.count * 4, "bound \(bound)")
        }
        #expect(Lottery.accept(.max, below: UInt128(1) << 126) == (UInt128(1) << 126) - 1)
    }

    // MARK: Golden vectors

    @Test func candidatesAreSHA256OfSeedDomainAndCounter() {
        // Computed with Python's hashlib: int.from_bytes(sha256(bytes(range(32)) + b"careledger/lottery/v1"
        // + n.to_bytes(8, "big")).digest()[:16], "big").
        let seed = (0..<32).map { UInt8($0) }
        #expect(Lottery.candidate(seed: seed, counter: 0) == UInt128("113507915638998901241017448886591324625"))
        #expect(Lottery.candidate(seed: seed, counter: 1) == UInt128("25930054531402944254074431221470146983"))
    }

    @Test func seededPittsburghDrawOfTwoDosesGoesToAThenC() throws {
        // Seed 00 01 … 1f: the first candidate's low 4 bits are 1 (< 16, a's values are 0–3) and, a gone, the
        // second's are 7 (< 12; b has 0–4, c 5–9).
        let seed = (0..<32).map { UInt8($0) }
        let claims = Self.weighted([Rational(1), try Self.r("5/4"), try Self.r("5/4"), try Self.r("1/2")])
        let result = try Self.run(claims, supply: Rational(2), seed: seed)
        #expect(result.failure == nil)
        #expect(result.allocations.map(\.units) == [Rational(1), Rational(0), Rational(1), Rational(0)])
        let draws = result.steps.filter { $0.kind == "draw" }
        #expect(draws.map(\.claimant) == ["a", "c"])
        #expect(draws.map(\.amounts) == [[Rational(1), Rational(16)], [Rational(7), Rational(12)]])
    }

    @Test func seededGoldenVectorOfTwelveClaimantsAndFiveUnits() throws {
        // Pinned from an independent Python implementation of the same rules (SHA-256 candidates, low bits,
        // rejection, cumulative weights in id order): seed "careledger-golden", weights 1…12 over 3, demands 1 or 2.
        let seed = Array("careledger-golden".utf8)
        var claims: [Claim] = []
        for i in 0..<12 {
            claims.append(Claim(claimant: ContractFixture.name(i), units: Rational(i % 3 == 0 ? 2 : 1), weight: try Rational(Int128(i + 1), 3)))
        }
        let result = try Self.run(claims, supply: Rational(5), seed: seed)
        #expect(result.failure == nil)
        let draws = result.steps.filter { $0.kind == "draw" }
        #expect(draws.compactMap(\.claimant) == GoldenVector.winners)
        #expect(draws.map { $0.amounts.compactMap(\.int64) } == GoldenVector.values)
    }

    @Test func priorityGroupsDrawFromOneSequenceOfCandidates() throws {
        // Two groups drawn in one epoch, as the executor does for a contract with a priority: the second group goes
        // on from the candidate after the first group's last, never reusing one.
        let seed = (0..<32).map { UInt8($0) }
        var ctx = ExecutionContext(contract: try ContractFixture.contract(.lottery, divisible: false), epoch: 0, seed: seed, meter: Meter(budget: 10_000))
        let group = Self.weighted([Rational(1), Rational(1), Rational(1)]).map { PreparedClaim(claim: $0, weight: $0.weight ?? .one, priority: nil) }
        _ = try Lottery.divide(&ctx, supply: Rational(1), claims: group)
        #expect(ctx.candidatesTaken == 1)
        _ = try Lottery.divide(&ctx, supply: Rational(1), claims: group)
        // Low 2 bits of candidates 0…4 (Python's hashlib): 1, 3, 3, 3, 0. The first group takes candidate 0 (b); the
        // second rejects 1–3 and takes 4 (a). Restarting at 0 would have drawn b again.
        let draws = ctx.steps.filter { $0.kind == "draw" }
        #expect(draws.map(\.claimant) == ["b", "a"])
        #expect(draws.map { $0.amounts.first } == [Rational(1), Rational(0)])
        #expect(ctx.candidatesTaken == 5)
    }

    // MARK: Rules

    @Test func zeroWeightsAreNeverDrawnEvenWhenTheSupplyCoversEveryone() throws {
        let claims = Self.weighted([Rational(1), Rational(0), Rational(2)], demand: 2)
        let result = try Self.run(claims, supply: Rational(10), seed: [1, 2, 3])
        #expect(result.allocations.map(\.units) == [Rational(2), Rational(0), Rational(2)])
        #expect(result.free == Rational(6))
        #expect(result.steps.filter { $0.kind == "exclude" }.map(\.claimant) == ["b"])
        #expect(result.steps.filter { $0.kind == "draw" }.isEmpty)
    }

    @Test func aDivisiblePoolDrawsWholeUnitsAndLeavesTheFractionFree() throws {
        let claims = Self.weighted([Rational(1), Rational(1), Rational(1)], demand: 2)
        let result = try Self.run(claims, supply: try Self.r("7/2"), seed: [9], divisible: true)
        #expect(result.failure == nil)
        #expect(result.allocated == Rational(3))
        #expect(result.free == (try Self.r("1/2")))
        #expect(result.allocations.allSatisfy { $0.units.isInteger })
    }

    @Test func multiUnitClaimantsStayInTheUrnUntilTheirDemandIsMet() throws {
        // One claimant of weight 1000 asking 3 and three of weight 1 asking 1, four units: the heavy one nearly
        // always wins its 3 first, then leaves the urn; the fourth unit goes to one of the others.
        var heavyGotThree = 0
        for s in 0..<20 {
            let claims = [Claim(claimant: "a", units: Rational(3), weight: Rational(1000))] + ["b", "c", "d"].map { Claim(claimant: $0, units: Rational(1), weight: .one) }
            let result = try Self.run(claims, supply: Rational(4), seed: [UInt8(s)])
            #expect(result.allocated == Rational(4))
            #expect(!(Rational(3) < result.allocations[0].units))
            if result.allocations[0].units == Rational(3) { heavyGotThree += 1 }
        }
        #expect(heavyGotThree >= 18)
    }

    @Test func generatedLotteriesAreFeasibleAndDeterministic() throws {
        var generator = SplitMix64(seed: 18_023)
        for _ in 0..<60 {
            let n = generator.int(1...30)
            var claims: [Claim] = []
            for i in 0..<n {
                claims.append(Claim(claimant: ContractFixture.name(i), units: Rational(generator.int(0...4)), weight: try generator.rational(0...9, over: 1...4)))
            }
            let supply = Rational(generator.int(0...40))
            let seed = (0..<32).map { _ in UInt8(generator.int(0...255)) }
            let result = try Self.run(claims, supply: supply, seed: seed)
            #expect(result.failure == nil)
            let eligible = try Rational.sum(claims.filter { !($0.weight ?? .one).isZero }.map(\.units))
            #expect(result.allocated == Rational.min(supply, eligible))
            for (a, c) in zip(result.allocations, claims) {
                #expect(a.units.isInteger && !a.units.isNegative && !(c.units < a.units))
                if (c.weight ?? .one).isZero { #expect(a.units == .zero) }
            }
            #expect(try Self.run(claims, supply: supply, seed: seed) == result)
        }
    }

    @Test func aTinyGasBudgetFailsOutOfGasAndAllocatesNothing() throws {
        let claims = Self.weighted([Rational(1), Rational(2), Rational(3), Rational(4)])
        let result = try Self.run(claims, supply: Rational(2), seed: [1], gas: 6)
        #expect(result.failure?.code == .outOfGas)
        #expect(result.allocated == .zero)
        #expect(result.free == Rational(2))
    }
}

/// The golden draws of ``LotteryTests/seededGoldenVectorOfTwelveClaimantsAndFiveUnits()``.
private enum GoldenVector {
    static let winners = ["h", "c", "g", "e", "i"]
    /// [drawn value, total weight] per draw, weights in thirds; four candidates were rejected on the way.
    static let values: [[Int64]] = [[28, 78], [5, 70], [19, 67], [9, 67], [28, 62]]
}
