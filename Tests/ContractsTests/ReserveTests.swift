import Contracts
import Testing

@Suite struct ReserveTests {
    static func contract(_ categories: [ReserveCategory], order: [String]? = nil, units: Int = 2, divisible: Bool = false,
                         priority: String? = nil) throws -> CompiledContract {
        try ContractFixture.contract(MechanismSpec(type: .reserve, categories: categories, order: order), units: Rational(units),
                                     divisible: divisible, priority: priority)
    }

    /// allocation-examples.md (Pathak et al. 2024): 2 units; u, unreserved, by clinical priority; e, for essential
    /// workers first, then by clinical priority; patients in clinical order A (essential), B, C (essential).
    static let categories = [
        ReserveCategory(name: "u", capacity: Rational(1)),
        ReserveCategory(name: "e", capacity: Rational(1), priority: "(attributes.essential ? 100 : 0) + attributes.clinical"),
    ]
    static let patients = [
        Claim(claimant: "A", units: .one, attributes: ["essential": .bool(true), "clinical": .int(3)]),
        Claim(claimant: "B", units: .one, attributes: ["essential": .bool(false), "clinical": .int(2)]),
        Claim(claimant: "C", units: .one, attributes: ["essential": .bool(true), "clinical": .int(1)]),
    ]

    @Test func unreservedFirstGivesAToUAndCToE() throws {
        let r = ContractFixture.execute(try Self.contract(Self.categories, priority: "attributes.clinical"), supply: Rational(2), claims: Self.patients)
        #expect(r.failure == nil, "\(String(describing: r.failure))")
        #expect(r.allocations.map(\.units) == [Rational(1), Rational(0), Rational(1)])
        #expect(r.allocations.map(\.category) == ["u", nil, "e"])
        #expect(r.steps.filter { $0.kind == "assign" }.map(\.note) == ["A takes 1 through u", "C takes 1 through e"])
        #expect(r.steps.first { $0.kind == "category" }?.note.hasSuffix("A, B, C") == true)
    }

    @Test func essentialFirstGivesAToEAndBToU() throws {
        let r = ContractFixture.execute(try Self.contract(Self.categories, order: ["e", "u"], priority: "attributes.clinical"),
                                        supply: Rational(2), claims: Self.patients)
        #expect(r.failure == nil, "\(String(describing: r.failure))")
        #expect(r.allocations.map(\.units) == [Rational(1), Rational(1), Rational(0)])
        #expect(r.allocations.map(\.category) == ["e", "u", nil])
        #expect(r.steps.first { $0.kind == "order" }?.note == "categories in the order e, u")
        #expect(r.steps.first { $0.kind == "category" }?.note.hasSuffix("A, C, B") == true)
    }

    @Test func eligibilityKeepsACategoryForItsOwn() throws {
        // e admits essential workers only: with e first and one unit each, B cannot take e's unit.
        let categories = [ReserveCategory(name: "e", capacity: Rational(2), eligible: "attributes.essential"),
                          ReserveCategory(name: "u", capacity: Rational(1))]
        let claims = [Claim(claimant: "B", units: Rational(2), attributes: ["essential": .bool(false)]),
                      Claim(claimant: "C", units: .one, attributes: ["essential": .bool(true)])]
        let r = ContractFixture.execute(try Self.contract(categories, units: 3), supply: Rational(3), claims: claims)
        #expect(r.failure == nil, "\(String(describing: r.failure))")
        // e gives C its one unit and holds a second nobody eligible wants, which stays free; u gives B one.
        #expect(r.allocations.map(\.units) == [Rational(1), Rational(1)])
        #expect(r.allocations.map(\.category) == ["u", "e"])
        #expect(r.free == .one)
        #expect(r.steps.last?.kind == "free")
    }

    @Test func defaultsServeInDefinitionOrderAndIdOrder() throws {
        // No priorities at all: each category takes claimants by id.
        let categories = [ReserveCategory(name: "first", capacity: Rational(1)), ReserveCategory(name: "second", capacity: Rational(1))]
        let r = ContractFixture.execute(try Self.contract(categories), supply: Rational(2), claims: ContractFixture.claims([.one, .one, .one]))
        #expect(r.allocations.map(\.category) == ["first", "second", nil])
        let reversed = ContractFixture.execute(try Self.contract(categories, order: ["second", "first"]), supply: Rational(2),
                                               claims: ContractFixture.claims([.one, .one, .one]))
        #expect(reversed.allocations.map(\.category) == ["second", "first", nil])
    }

    @Test func aClaimantOfSeveralUnitsTakesThemAcrossCategories() throws {
        let categories = [ReserveCategory(name: "x", capacity: Rational(1)), ReserveCategory(name: "y", capacity: Rational(2))]
        let claims = [Claim(claimant: "a", units: Rational(2)), Claim(claimant: "b", units: Rational(2))]
        let r = ContractFixture.execute(try Self.contract(categories, units: 3), supply: Rational(3), claims: claims)
        #expect(r.allocations.map(\.units) == [Rational(2), Rational(1)])
        #expect(r.allocations.map(\.category) == ["x,y", "y"])
    }

    @Test func capacitiesAboveTheSupplyAreServedInOrderUntilItRunsOut() throws {
        let categories = [ReserveCategory(name: "x", capacity: Rational(2)), ReserveCategory(name: "y", capacity: Rational(2)),
                          ReserveCategory(name: "z", capacity: Rational(2))]
        let r = ContractFixture.execute(try Self.contract(categories, units: 3), supply: Rational(3), claims: ContractFixture.claims([.one, .one, .one, .one, .one]))
        #expect(r.allocations.map(\.category) == ["x", "x", "y", nil, nil])
        #expect(r.free == .zero)
        let y = try #require(r.steps.first { $0.kind == "category" && $0.note.hasPrefix("y") })
        #expect(y.amounts == [Rational(2), Rational(1)])
        #expect(r.steps.contains { $0.kind == "category" && $0.note == "z: no units left for it" })
    }

    @Test func divisiblePoolsReserveFractions() throws {
        let categories = [ReserveCategory(name: "x", capacity: try exact("3/2")), ReserveCategory(name: "y", capacity: try exact("5/2"))]
        let claims = ContractFixture.claims([try exact("1/2"), Rational(3), Rational(1)])
        let r = ContractFixture.execute(try Self.contract(categories, units: 4, divisible: true), supply: Rational(4), claims: claims)
        #expect(r.allocations.map(\.units) == [try exact("1/2"), Rational(3), try exact("1/2")])
        #expect(r.allocations.map(\.category) == ["x", "x,y", "y"])
    }
}
