import Contracts
import Testing

@Suite struct ProRataTests {
    static func contract(divisible: Bool) throws -> CompiledContract {
        try CompiledContract(ContractDefinition(id: "doses", pool: Pool(resource: "dose", units: Rational(10), divisible: divisible, owners: ["a"]),
                                                epochs: EpochSchedule(start: 1, length: 10), mechanism: MechanismSpec(type: .proRata)))
    }

    @Test func tenUnitsOverThreeFiveSevenGiveTwoThreeFive() throws {
        // allocation-examples.md, pro-rata: 10 over 3, 5, 7 → exact 2, 3.33, 4.67 → integer 2, 3, 5.
        let claims = [Claim(claimant: "a", units: Rational(3)), Claim(claimant: "b", units: Rational(5)), Claim(claimant: "c", units: Rational(7))]
        let r = ContractExecutor.execute(try Self.contract(divisible: false), epoch: 0, supply: Rational(10), claims: claims, seed: [])
        #expect(r.failure == nil)
        #expect(r.allocations.map(\.units) == [Rational(2), Rational(3), Rational(5)])
        #expect(r.free == .zero)
        #expect(r.steps.filter { $0.kind == "remainder" }.map(\.claimant) == ["c"])
        let exact = ContractExecutor.execute(try Self.contract(divisible: true), epoch: 0, supply: Rational(10), claims: claims, seed: [])
        #expect(exact.allocations.map(\.units.description) == ["2", "10/3", "14/3"])
    }
}
