import Contracts
import Testing

@Suite struct PriorityTiersTests {
    static func contract(_ tiers: [Tier], within: MechanismSpec.Kind? = nil, units: Int = 3, divisible: Bool = false,
                         priority: String? = nil) throws -> CompiledContract {
        try ContractFixture.contract(MechanismSpec(type: .priorityTiers, tiers: tiers, within: within), units: Rational(units),
                                     divisible: divisible, priority: priority)
    }

    /// New York 2015 ventilator guidelines: SOFA ≤ 7 red, 8–11 yellow, > 11 blue (no ventilator).
    static let triage = [Tier(name: "red", when: "attributes.sofa <= 7"), Tier(name: "yellow", when: "attributes.sofa <= 11"),
                         Tier(name: "blue", when: "true", excluded: true)]

    static func patients(_ sofa: [Int64]) -> [Claim] {
        sofa.enumerated().map { Claim(claimant: "p\($0.offset + 1)", units: .one, attributes: ["sofa": .int($0.element)]) }
    }

    @Test func triageServesRedWholeThenDividesYellowAndExcludesBlue() throws {
        // Three ventilators; SOFA 5, 9, 13, 7, 11: red p1 and p4 get one each; yellow p2 and p5 share the one left by
        // max-min (1/2 each, the whole unit by id to p2); blue p3 gets none.
        let r = ContractFixture.execute(try Self.contract(Self.triage), supply: Rational(3), claims: Self.patients([5, 9, 13, 7, 11]))
        #expect(r.failure == nil, "\(String(describing: r.failure))")
        #expect(r.allocations.map(\.units) == [Rational(1), Rational(1), Rational(0), Rational(1), Rational(0)])
        #expect(r.allocations.map(\.category) == ["red", "yellow", "blue", "red", "yellow"])
        #expect(r.steps.filter { $0.kind == "tier" }.map(\.note) == [
            "tier red (p1, p4) asks for 2 of the 3 left: served whole",
            "tier yellow (p2, p5) asks for 2 of the 1 left: divided by max-min",
        ])
        #expect(r.steps.filter { $0.kind == "exclude" }.map(\.claimant) == ["p3"])
        #expect(r.steps.filter { $0.kind == "remainder" }.map(\.claimant) == ["p2"])
        // A divisible pool (staff hours, say) splits the yellow tier's unit exactly.
        let hours = ContractFixture.execute(try Self.contract(Self.triage, divisible: true), supply: Rational(3), claims: Self.patients([5, 9, 13, 7, 11]))
        #expect(hours.allocations.map(\.units) == [Rational(1), try exact("1/2"), Rational(0), Rational(1), try exact("1/2")])
    }

    @Test func aTierThatCannotBeServedLeavesNothingForTheTiersAfterIt() throws {
        let r = ContractFixture.execute(try Self.contract(Self.triage), supply: Rational(1), claims: Self.patients([1, 2, 9]))
        #expect(r.allocations.map(\.units) == [Rational(1), Rational(0), Rational(0)])
        #expect(r.steps.filter { $0.kind == "tier" }.last?.note == "tier yellow (p3) asks for 1: nothing is left")
        #expect(r.free == .zero)
    }

    @Test func withinTheDividedTierTheContractPriorityComesFirst() throws {
        // Yellow p2 (age 80) and p3 (age 30): the contract's priority (younger first) gives p3 the unit left.
        let claims = [Claim(claimant: "p1", units: .one, attributes: ["sofa": .int(3), "age": .int(50)]),
                      Claim(claimant: "p2", units: .one, attributes: ["sofa": .int(9), "age": .int(80)]),
                      Claim(claimant: "p3", units: .one, attributes: ["sofa": .int(10), "age": .int(30)])]
        let r = ContractFixture.execute(try Self.contract(Self.triage, priority: "100 - attributes.age"), supply: Rational(2), claims: claims)
        #expect(r.failure == nil, "\(String(describing: r.failure))")
        #expect(r.allocations.map(\.units) == [Rational(1), Rational(0), Rational(1)])
    }

    @Test func theDividedTierUsesWithin() throws {
        // One tier, 6 units over demands 1, 4, 7: max-min gives 1, 5/2, 5/2, the unit left going to c, whose unmet
        // demand is larger; pro-rata gives 1/2, 2, 7/2, the unit left going to a by id (equal remainders).
        let all = [Tier(name: "all", when: "true")]
        let claims = ContractFixture.claims([Rational(1), Rational(4), Rational(7)])
        let maxMin = ContractFixture.execute(try Self.contract(all, units: 6), supply: Rational(6), claims: claims)
        #expect(maxMin.allocations.map(\.units) == [Rational(1), Rational(2), Rational(3)])
        let proRata = ContractFixture.execute(try Self.contract(all, within: .proRata, units: 6), supply: Rational(6), claims: claims)
        #expect(proRata.allocations.map(\.units) == [Rational(1), Rational(2), Rational(3)])
        #expect(proRata.steps.contains { $0.kind == "remainder" && $0.claimant == "a" })
        let weighted = [Claim(claimant: "a", units: Rational(6), weight: Rational(2)), Claim(claimant: "b", units: Rational(6), weight: Rational(1))]
        let w = ContractFixture.execute(try Self.contract(all, within: .weightedMaxMin, units: 6), supply: Rational(6), claims: weighted)
        #expect(w.allocations.map(\.units) == [Rational(4), Rational(2)])
        #expect(w.allocations.map(\.category) == ["all", "all"])
    }

    @Test func aClaimInNoTierOrInAnExcludedTierGetsNothing() throws {
        let tiers = [Tier(name: "never", when: "false"), Tier(name: "closed", when: "false", excluded: true)]
        let r = ContractFixture.execute(try Self.contract(tiers), supply: Rational(3), claims: ContractFixture.claims([.one, .one]))
        #expect(r.allocations.map(\.units) == [.zero, .zero])
        #expect(r.allocations.map(\.category) == [nil, nil])
        #expect(r.steps.map(\.kind) == ["exclude", "exclude"])
        #expect(r.free == Rational(3))
        let closed = [Tier(name: "closed", when: "true", excluded: true), Tier(name: "open", when: "true")]
        let r2 = ContractFixture.execute(try Self.contract(closed), supply: Rational(3), claims: ContractFixture.claims([.one, .one]))
        #expect(r2.allocations.map(\.units) == [.zero, .zero])
        #expect(r2.allocations.map(\.category) == ["closed", "closed"])
    }

    @Test func aConditionThatIsNotABooleanFailsTheEpoch() throws {
        let r = ContractFixture.execute(try Self.contract([Tier(name: "t", when: "1")]), supply: Rational(3), claims: ContractFixture.claims([.one]))
        #expect(r.failure?.code == .evaluation)
        #expect(r.allocations.map(\.units) == [.zero])
    }
}
