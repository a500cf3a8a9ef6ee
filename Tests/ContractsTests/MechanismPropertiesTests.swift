import Contracts
import Testing

/// Properties every division must have, over generated contracts and claims (seeded, so a failure repeats): the
/// supply never overspent (allocated + free = supply, free ≥ 0), nobody below zero or above its demand, whole units
/// for an indivisible pool; and a budget too small for an execution is an `outOfGas` result, never a crash.
@Suite struct MechanismPropertiesTests {
    static let kinds: [MechanismSpec.Kind] = [.maxMin, .weightedMaxMin, .proportional, .cea, .cel, .talmud, .reserve, .priorityTiers]

    /// A generated epoch: a contract of `kind` with random parameters (categories, tiers, a priority expression
    /// or none) and claims with the attributes they read.
    static func generate(_ kind: MechanismSpec.Kind, _ rng: inout SplitMix64, gas: UInt64? = nil) throws -> (CompiledContract, Rational, [Claim]) {
        let divisible = rng.int(0...1) == 0
        let n = rng.int(1...10)
        var claims: [Claim] = []
        for i in 0..<n {
            let units = divisible ? try rng.rational(0...30, over: 1...4) : Rational(rng.int(0...8))
            claims.append(Claim(claimant: ContractFixture.name(i), units: units, weight: try rng.rational(0...5, over: 1...2),
                                attributes: ["p": .int(Int64(rng.int(0...2))), "g": .int(Int64(rng.int(0...2))), "s": .int(Int64(rng.int(0...15)))]))
        }
        let supply = divisible ? try rng.rational(0...(20 * n), over: 1...3) : Rational(rng.int(0...(5 * n)))
        let priority: String? = rng.int(0...2) == 0 ? "attributes.p" : nil
        var spec = MechanismSpec(type: kind)
        switch kind {
        case .reserve:
            var categories: [ReserveCategory] = []
            for k in 0..<rng.int(1...4) {
                let capacity = divisible ? try rng.rational(0...20, over: 1...2) : Rational(rng.int(0...6))
                categories.append(ReserveCategory(name: "c\(k)", capacity: capacity,
                                                  eligible: rng.int(0...1) == 0 ? nil : "attributes.g != \(k % 3)",
                                                  priority: rng.int(0...1) == 0 ? nil : "attributes.s"))
            }
            spec.categories = categories
            spec.order = categories.map(\.name).shuffled(using: &rng)
        case .priorityTiers:
            var tiers: [Tier] = []
            for k in 0..<rng.int(1...3) {
                tiers.append(Tier(name: "t\(k)", when: "attributes.s <= \(rng.int(3...15))", excluded: rng.int(0...3) == 0 ? true : nil))
            }
            spec.tiers = tiers
            let withins: [MechanismSpec.Kind?] = [.maxMin, .weightedMaxMin, .proRata, nil]
            spec.within = withins[rng.int(0...3)]
        default:
            break
        }
        let contract = try ContractFixture.contract(spec, units: supply, divisible: divisible, priority: priority, gas: gas)
        return (contract, supply, claims)
    }

    @Test(arguments: kinds)
    func generatedEpochsAreFeasibleAndBalanced(_ kind: MechanismSpec.Kind) throws {
        var rng = SplitMix64(seed: 0xFEA5_0000 + UInt64(Self.kinds.firstIndex(of: kind) ?? 0))
        for case_ in 0..<300 {
            let (contract, supply, claims) = try Self.generate(kind, &rng)
            let r = ContractFixture.execute(contract, supply: supply, claims: claims)
            try #require(r.failure == nil, "case \(case_): \(String(describing: r.failure))")
            #expect(!r.free.isNegative && !(supply < r.allocated), "case \(case_): \(r.allocated) allocated of \(supply)")
            #expect((try r.allocated.adding(r.free)) == supply, "case \(case_)")
            #expect(r.allocations.map(\.claimant) == claims.map(\.claimant), "case \(case_)")
            for (a, c) in zip(r.allocations, claims) {
                #expect(!a.units.isNegative && !(c.units < a.units), "case \(case_): \(a.claimant) got \(a.units) of \(c.units)")
                #expect(contract.definition.pool.divisible || a.units.isInteger, "case \(case_): \(a.claimant) got \(a.units)")
            }
            // The dividing rules give out everything asked for, up to the supply (reserve and tiers may hold units).
            if ![.reserve, .priorityTiers].contains(kind) {
                #expect(r.allocated == Rational.min(supply, try Rational.sum(claims.map(\.units))), "case \(case_)")
            }
        }
    }

    /// Every budget below what an execution needs fails it with `outOfGas`, allocating nothing and using exactly the
    /// budget; the budget it needs succeeds, with the same result as an ample one.
    @Test(arguments: kinds)
    func everyBudgetBelowTheCostRunsOutOfGasCleanly(_ kind: MechanismSpec.Kind) throws {
        var rng = SplitMix64(seed: 0x6A50_0000 + UInt64(Self.kinds.firstIndex(of: kind) ?? 0))
        for case_ in 0..<5 {
            var probe = rng
            let (contract, supply, claims) = try Self.generate(kind, &probe)
            let full = ContractFixture.execute(contract, supply: supply, claims: claims)
            try #require(full.failure == nil, "case \(case_): \(String(describing: full.failure))")
            let cost = full.gasUsed
            let stride = max(1, cost / 60)
            for budget in Swift.stride(from: UInt64(1), to: cost, by: Int(stride)) {
                var again = rng
                let (tight, _, _) = try Self.generate(kind, &again, gas: budget)
                let r = ContractFixture.execute(tight, supply: supply, claims: claims)
                #expect(r.failure?.code == .outOfGas, "case \(case_): budget \(budget) of \(cost): \(String(describing: r.failure))")
                #expect(r.gasUsed == budget)
                #expect(r.allocations.allSatisfy { $0.units.isZero } && r.free == supply)
            }
            var exactly = rng
            let (enough, _, _) = try Self.generate(kind, &exactly, gas: cost)
            let r = ContractFixture.execute(enough, supply: supply, claims: claims)
            #expect(r.failure == nil && r.allocations == full.allocations && r.gasUsed == cost, "case \(case_)")
            rng = probe
        }
    }
}
