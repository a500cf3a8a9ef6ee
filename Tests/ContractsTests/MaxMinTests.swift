import Contracts
import Testing

@Suite struct MaxMinTests {
    @Test func keshavCapacityTenOverTwoTwoPointSixFourFiveGivesTwoPointSevenToTheLargest() throws {
        // allocation-examples.md: capacity 10, demands 2, 2.6, 4, 5 → 2, 2.6, 2.7, 2.7 (Keshav 1997).
        let claims = ContractFixture.claims(try exact(["2", "2.6", "4", "5"]))
        let r = ContractFixture.execute(try ContractFixture.contract(.maxMin, divisible: true), supply: Rational(10), claims: claims)
        #expect(r.failure == nil)
        #expect(r.allocations.map(\.units) == (try exact(["2", "2.6", "2.7", "2.7"])))
        #expect(r.free == .zero)
        // a is capped at the level 10/4, b at 8/3; c and d share 5.4 at the level 2.7.
        let caps = r.steps.filter { $0.kind == "cap" }
        #expect(caps.map(\.claimant) == ["a", "b"])
        #expect(caps.map { $0.amounts.last } == [try exact("5/2"), try exact("8/3")])
        let level = try #require(r.steps.first { $0.kind == "level" })
        #expect(level.amounts == (try exact(["2.7", "5.4"])))
        #expect(r.steps.first { $0.kind == "order" }?.note.contains("a 2, b 2.6, c 4, d 5") == true)
    }

    @Test(arguments: [true, false])
    func hundredVentilatorsOverTwentyFiftySixtyGiveTwentyFortyForty(divisible: Bool) throws {
        // allocation-examples.md: 100 ventilators, demands 20, 50, 60 → 20, 40, 40 (pro-rata would give 15.4, 38.5, 46.2).
        let claims = ContractFixture.claims([Rational(20), Rational(50), Rational(60)])
        let r = ContractFixture.execute(try ContractFixture.contract(.maxMin, units: Rational(100), divisible: divisible),
                                        supply: Rational(100), claims: claims)
        #expect(r.failure == nil)
        #expect(r.allocations.map(\.units) == [Rational(20), Rational(40), Rational(40)])
        #expect(r.steps.filter { $0.kind == "cap" }.map(\.claimant) == ["a"])
        #expect(r.steps.filter { $0.kind == "remainder" }.isEmpty)
    }

    @Test func wholeUnitsFillToTheIntegerLevelThenOneEachToTheLargerUnmetDemands() throws {
        // 10 over 2, 3, 5, 5: a gets 2, the level of b, c, d is 8/3; floors 2, 2, 2 leave 2 units, which go to the
        // larger unmet demands c and d (b's unmet 1/3 is the smallest), not to b by id.
        let claims = ContractFixture.claims([Rational(2), Rational(3), Rational(5), Rational(5)])
        let r = ContractFixture.execute(try ContractFixture.contract(.maxMin, divisible: false), supply: Rational(10), claims: claims)
        #expect(r.allocations.map(\.units) == [Rational(2), Rational(2), Rational(3), Rational(3)])
        #expect(r.steps.filter { $0.kind == "remainder" }.map(\.claimant) == ["c", "d"])
        #expect(r.steps.filter { $0.kind == "floor" }.map(\.claimant) == ["b", "c", "d"])
        // Equal demands at the same level: the unit left goes by id.
        let even = ContractFixture.execute(try ContractFixture.contract(.maxMin, divisible: false), supply: Rational(7),
                                           claims: ContractFixture.claims([Rational(5), Rational(5), Rational(5)]))
        #expect(even.allocations.map(\.units) == [Rational(3), Rational(2), Rational(2)])
    }

    @Test func supplyCoveringEveryDemandGivesEachItsDemand() throws {
        let claims = ContractFixture.claims([Rational(1), Rational(2)])
        let r = ContractFixture.execute(try ContractFixture.contract(.maxMin, divisible: false), supply: Rational(5), claims: claims)
        #expect(r.allocations.map(\.units) == [Rational(1), Rational(2)])
        #expect(r.free == Rational(2))
        #expect(r.steps.map(\.kind) == ["cap"])
    }

    @Test func weightedSharesTheLevelInProportionToWeight() throws {
        // 12 over demands 1, 10, 10 with weights 2, 1, 3: the level 12/6 = 2 covers a (1 ≤ 2·2); the rest, 11, is
        // shared by b and c at the level 11/4: 11/4 and 33/4.
        let claims = [Claim(claimant: "a", units: Rational(1), weight: Rational(2)), Claim(claimant: "b", units: Rational(10), weight: Rational(1)),
                      Claim(claimant: "c", units: Rational(10), weight: Rational(3))]
        let r = ContractFixture.execute(try ContractFixture.contract(.weightedMaxMin, divisible: true), supply: Rational(12), claims: claims)
        #expect(r.failure == nil)
        #expect(r.allocations.map(\.units) == (try exact(["1", "11/4", "33/4"])))
        #expect(r.steps.filter { $0.kind == "cap" }.map(\.claimant) == ["a"])
        #expect(r.steps.filter { $0.kind == "share" }.map(\.claimant) == ["b", "c"])
        #expect(r.steps.first { $0.kind == "level" }?.amounts.first == (try exact("11/4")))
        #expect(r.steps.first { $0.kind == "order" }?.note == "by demand per weight, smallest first: a 1 (weight 2), c 10 (weight 3), b 10 (weight 1)")
        // Whole units: floors 1, 2, 8 leave 1 unit, for b's remainder 3/4 (c's is 1/4).
        let whole = ContractFixture.execute(try ContractFixture.contract(.weightedMaxMin, divisible: false), supply: Rational(12), claims: claims)
        #expect(whole.allocations.map(\.units) == [Rational(1), Rational(3), Rational(8)])
    }

    @Test func weightedWithEqualWeightsIsPlainMaxMin() throws {
        let demands = try exact(["2", "2.6", "4", "5"])
        let claims = demands.enumerated().map { Claim(claimant: ContractFixture.name($0.offset), units: $0.element, weight: Rational(3)) }
        let r = ContractFixture.execute(try ContractFixture.contract(.weightedMaxMin, divisible: true), supply: Rational(10), claims: claims)
        #expect(r.allocations.map(\.units) == (try exact(["2", "2.6", "2.7", "2.7"])))
    }

    @Test func zeroWeightGetsNothingWhileOthersAreShortAndTheRestAfter() throws {
        let short = [Claim(claimant: "a", units: Rational(5), weight: .zero), Claim(claimant: "b", units: Rational(5), weight: .one)]
        let r = ContractFixture.execute(try ContractFixture.contract(.weightedMaxMin, divisible: true), supply: Rational(4), claims: short)
        #expect(r.allocations.map(\.units) == [Rational(0), Rational(4)])
        // b is satisfied with 5 of 8; the 3 left go to a, the only claimant of weight 0.
        let r2 = ContractFixture.execute(try ContractFixture.contract(.weightedMaxMin, divisible: true), supply: Rational(8), claims: short)
        #expect(r2.allocations.map(\.units) == [Rational(3), Rational(5)])
        #expect(r2.steps.contains { $0.kind == "zero-weight" && $0.amounts == [Rational(3)] })
        // Every weight 0: plain max-min among them.
        let none = [Claim(claimant: "a", units: Rational(1), weight: .zero), Claim(claimant: "b", units: Rational(5), weight: .zero)]
        let r3 = ContractFixture.execute(try ContractFixture.contract(.weightedMaxMin, divisible: true), supply: Rational(4), claims: none)
        #expect(r3.allocations.map(\.units) == [Rational(1), Rational(3)])
    }

    /// Water-filling's characterisation, which makes an allocation max-min fair: everything up to the supply is
    /// given, nobody above its demand, every claimant still short is at one level (weighted: per weight), and every
    /// satisfied claimant's demand is within that level. For whole units: no claimant still short has two units
    /// fewer than anyone else (so no unit could move towards it without taking from one with no more than it).
    @Test(arguments: [false, true])
    func generatedDivisionsAreWaterFillings(weighted: Bool) throws {
        var rng = SplitMix64(seed: weighted ? 0x5EED_0002 : 0x5EED_0001)
        for case_ in 0..<300 {
            let divisible = case_ % 2 == 0
            let n = rng.int(1...12)
            var claims: [Claim] = []
            for i in 0..<n {
                let demand = divisible ? try rng.rational(0...40, over: 1...4) : Rational(rng.int(0...20))
                let weight = weighted ? try rng.rational(1...6, over: 1...3) : nil
                claims.append(Claim(claimant: ContractFixture.name(i), units: demand, weight: weight))
            }
            let total = try Rational.sum(claims.map(\.units))
            let supply = divisible ? try rng.rational(0...(40 * n), over: 1...3) : Rational(rng.int(0...(12 * n)))
            let r = ContractFixture.execute(try ContractFixture.contract(weighted ? .weightedMaxMin : .maxMin, divisible: divisible),
                                            supply: supply, claims: claims)
            try #require(r.failure == nil, "case \(case_): \(String(describing: r.failure))")
            let x = r.allocations.map(\.units)
            #expect(r.allocated == Rational.min(supply, total), "case \(case_)")
            var short: [Int] = []
            for (i, c) in claims.enumerated() where x[i] < c.units { short.append(i) }
            if divisible, let first = short.first {
                let level = try x[first].divided(by: claims[first].weight ?? .one)
                for i in short {
                    let perWeight = try x[i].divided(by: claims[i].weight ?? .one)
                    #expect(perWeight == level, "case \(case_): \(claims[i].claimant) short at \(perWeight) per weight, \(claims[first].claimant) at \(level)")
                }
                for (i, c) in claims.enumerated() where !short.contains(i) {
                    let perWeight = try c.units.divided(by: c.weight ?? .one)
                    #expect(!(level < perWeight), "case \(case_): \(c.claimant) satisfied at \(perWeight) per weight, above the level \(level)")
                }
            }
            if !divisible {
                // Whole units are the exact division rounded one way or the other.
                let exactRun = ContractFixture.execute(try ContractFixture.contract(weighted ? .weightedMaxMin : .maxMin, divisible: true),
                                                       supply: supply, claims: claims)
                for (a, e) in zip(r.allocations, exactRun.allocations) {
                    let down = try Rational(e.units.floor, 1), up = try Rational(e.units.ceiling, 1)
                    #expect(a.units == down || a.units == up, "case \(case_): \(a.claimant) got \(a.units) for an exact \(e.units)")
                }
                if !weighted {
                    for i in short {
                        let next = try x[i].adding(.one)
                        #expect(x.allSatisfy { !(next < $0) }, "case \(case_): \(claims[i].claimant) short at \(x[i]) beside \(x)")
                    }
                }
            }
        }
    }
}
