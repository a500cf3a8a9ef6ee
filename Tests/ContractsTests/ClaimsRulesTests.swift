import Contracts
import Testing

@Suite struct ClaimsRulesTests {
    static let rules: [MechanismSpec.Kind] = [.proportional, .cea, .cel, .talmud]

    static func divide(_ rule: MechanismSpec.Kind, estate: Rational, claims: [Rational], divisible: Bool = true) throws -> EpochResult {
        ContractFixture.execute(try ContractFixture.contract(rule, units: estate, divisible: divisible), supply: estate, claims: ContractFixture.claims(claims))
    }

    /// Aumann & Maschler 1985, claims 100, 200, 300, by estate: every rule's awards (Talmud's as in
    /// allocation-examples.md; the others from their formulas, with λ and μ).
    static let table: [(rule: MechanismSpec.Kind, estate: Int, awards: [String])] = [
        (.talmud, 100, ["100/3", "100/3", "100/3"]), (.talmud, 200, ["50", "75", "75"]), (.talmud, 300, ["50", "100", "150"]),
        (.cea, 100, ["100/3", "100/3", "100/3"]), (.cea, 200, ["200/3", "200/3", "200/3"]), (.cea, 300, ["100", "100", "100"]),
        (.cel, 100, ["0", "0", "100"]), (.cel, 200, ["0", "50", "150"]), (.cel, 300, ["0", "100", "200"]),
        (.proportional, 100, ["50/3", "100/3", "50"]), (.proportional, 300, ["50", "100", "150"]),
    ]

    @Test(arguments: table.indices)
    func aumannMaschlerClaimsOneTwoThreeHundred(_ row: Int) throws {
        let (rule, estate, awards) = Self.table[row]
        let r = try Self.divide(rule, estate: Rational(estate), claims: [Rational(100), Rational(200), Rational(300)])
        #expect(r.failure == nil)
        #expect(r.allocations.map(\.units) == (try exact(awards)), "\(rule.rawValue) at \(estate)")
        #expect(r.free == .zero)
        #expect(r.steps.filter { $0.kind == "award" }.map(\.claimant) == ["a", "b", "c"])
    }

    @Test func talmudExplainsWhichHalfOfTheEstateItIsIn() throws {
        let claims = [Rational(100), Rational(200), Rational(300)]
        let low = try Self.divide(.talmud, estate: Rational(200), claims: claims)
        // 200 ≤ 600/2: CEA on the half-claims 50, 100, 150 with λ = 75.
        #expect(low.steps.first { $0.kind == "talmud" }?.note.contains("at most half") == true)
        #expect(low.steps.first { $0.kind == "level" }?.amounts.first == Rational(75))
        let high = try Self.divide(.talmud, estate: Rational(400), claims: claims)
        // 400 > 300: the loss 200 is shared by CEA on the half-claims (μ = 75): 50, 125, 225.
        #expect(high.allocations.map(\.units) == [Rational(50), Rational(125), Rational(225)])
        #expect(high.steps.first { $0.kind == "talmud" }?.note.contains("over half") == true)
        #expect(high.steps.first { $0.kind == "level" }?.note.contains("μ = 75") == true)
        #expect(high.steps.filter { $0.kind == "loss" }.map { $0.amounts.last } == [Rational(50), Rational(75), Rational(75)])
    }

    @Test func celExplainsItsEqualLoss() throws {
        let r = try Self.divide(.cel, estate: Rational(200), claims: [Rational(100), Rational(200), Rational(300)])
        // μ = 150: losses 100 (all of a's claim), 150, 150.
        #expect(r.steps.first { $0.kind == "level" }?.amounts.first == Rational(150))
        #expect(r.steps.filter { $0.kind == "award" }.map(\.note) == ["CEL: 100 − 100 = 0", "CEL: 200 − 150 = 50", "CEL: 300 − 150 = 150"])
    }

    @Test(arguments: rules)
    func anEstateCoveringTheClaimsPaysThemAll(_ rule: MechanismSpec.Kind) throws {
        let r = try Self.divide(rule, estate: Rational(700), claims: [Rational(100), Rational(200), Rational(300)])
        #expect(r.allocations.map(\.units) == [Rational(100), Rational(200), Rational(300)])
        #expect(r.free == Rational(100))
        #expect(r.steps.map(\.kind) == ["cap"])
    }

    @Test func wholeUnitsRoundByLargestRemainderToTheLargerLoss() throws {
        // CEA and Talmud at 100: exact 33⅓ each; floors 33 leave 1 unit, for c, whose loss is largest.
        for rule in [MechanismSpec.Kind.cea, .talmud] {
            let r = try Self.divide(rule, estate: Rational(100), claims: [Rational(100), Rational(200), Rational(300)], divisible: false)
            #expect(r.allocations.map(\.units) == [Rational(33), Rational(33), Rational(34)], "\(rule.rawValue)")
            #expect(r.steps.filter { $0.kind == "remainder" }.map(\.claimant) == ["c"])
        }
        // CEL over 3, 4, 5 with 7: μ = 5/3, awards 4/3, 7/3, 10/3 with equal losses; floors 1, 2, 3 leave 1 unit,
        // which goes to the smallest award (a), so that no larger claim loses less.
        let cel = try Self.divide(.cel, estate: Rational(7), claims: [Rational(3), Rational(4), Rational(5)], divisible: false)
        #expect(cel.allocations.map(\.units) == [Rational(2), Rational(2), Rational(3)])
        // Proportional is pro-rata: 10 over 3, 5, 7 → 2, 3, 5.
        let pro = try Self.divide(.proportional, estate: Rational(10), claims: [Rational(3), Rational(5), Rational(7)], divisible: false)
        #expect(pro.allocations.map(\.units) == [Rational(2), Rational(3), Rational(5)])
    }

    /// Over generated estates and claims, for every rule: each award between 0 and its claim, the awards summing to
    /// min(estate, claims), awards and losses in the order of the claims; exactly for a divisible pool, and for whole
    /// units except that equal claims may differ by one unit. Talmud is self-dual: T(E, d) = d − T(D − E, d); CEL
    /// is CEA's dual: CEL(E, d) = d − CEA(D − E, d).
    @Test(arguments: rules)
    func generatedEstatesKeepBoundsAndOrder(_ rule: MechanismSpec.Kind) throws {
        var rng = SplitMix64(seed: 0xC1A1_0000 + UInt64(Self.rules.firstIndex(of: rule) ?? 0))
        for case_ in 0..<300 {
            let divisible = case_ % 2 == 0
            let n = rng.int(1...10)
            var claims: [Rational] = []
            for _ in 0..<n { claims.append(divisible ? try rng.rational(0...60, over: 1...6) : Rational(rng.int(0...30))) }
            let total = try Rational.sum(claims)
            let estate = divisible ? try rng.rational(0...(70 * n), over: 1...5) : Rational(rng.int(0...(35 * n)))
            let r = try Self.divide(rule, estate: estate, claims: claims, divisible: divisible)
            try #require(r.failure == nil, "case \(case_): \(String(describing: r.failure))")
            let x = r.allocations.map(\.units)
            #expect(r.allocated == Rational.min(estate, total), "case \(case_)")
            for i in 0..<n {
                #expect(!x[i].isNegative && !(claims[i] < x[i]), "case \(case_): award \(x[i]) for a claim of \(claims[i])")
                for j in 0..<n where claims[i] < claims[j] {
                    let lossI = try claims[i].subtracting(x[i]), lossJ = try claims[j].subtracting(x[j])
                    #expect(!(x[j] < x[i]), "case \(case_): claim \(claims[i]) got \(x[i]), the larger \(claims[j]) got \(x[j])")
                    #expect(!(lossJ < lossI), "case \(case_): claim \(claims[i]) lost \(lossI), the larger \(claims[j]) lost \(lossJ)")
                }
                for j in 0..<n where claims[i] == claims[j] {
                    let gap = try x[i].subtracting(x[j])
                    #expect(divisible ? gap.isZero : !(Rational.one < gap), "case \(case_): equal claims \(claims[i]) got \(x[i]) and \(x[j])")
                }
            }
            guard divisible, estate < total else { continue }
            let dualRule: MechanismSpec.Kind? = switch rule {
            case .talmud: .talmud
            case .cel: .cea
            default: nil
            }
            guard let dualRule else { continue }
            let dual = try Self.divide(dualRule, estate: total.subtracting(estate), claims: claims)
            for i in 0..<n {
                #expect(x[i] == (try claims[i].subtracting(dual.allocations[i].units)), "case \(case_): \(rule.rawValue) is not dual to \(dualRule.rawValue)")
            }
        }
    }
}
