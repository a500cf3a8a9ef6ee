import Contracts
import Testing

@Suite struct TatonnementTests {
    static func r(_ text: String) throws -> Rational { try Rational(parsing: text) }

    static func spec(initial: Rational = Rational(10), step: Rational? = nil, iterations: UInt32, tolerance: Rational = .zero, tick: Rational? = nil,
                     demand: String? = nil, supply: String? = nil) throws -> MechanismSpec {
        MechanismSpec(type: .tatonnement, initialPrice: initial, step: try step ?? r("1/10"), maxIterations: iterations, tolerance: tolerance, tick: tick,
                      demand: demand, supply: supply)
    }

    /// A claim with the linear schedule max(0, intercept + slope·p), capped at `units`.
    static func linear(_ id: String, _ side: Claim.Side, intercept: Int, slope: Int, units: Int = 1_000) -> Claim {
        Claim(claimant: id, units: Rational(units), side: side, attributes: ["intercept": .int(Int64(intercept)), "slope": .int(Int64(slope))])
    }

    static func run(_ spec: MechanismSpec, _ claims: [Claim], divisible: Bool = true, gas: UInt64? = nil) throws -> EpochResult {
        let contract = try ContractFixture.contract(spec, divisible: divisible, gas: gas)
        return ContractExecutor.execute(contract, epoch: 0, supply: Rational(999), claims: claims, seed: [])
    }

    /// D = 100 − 2p from one buyer, S = 10 + p from one seller.
    static let market = [linear("buyer", .buy, intercept: 100, slope: -2), linear("seller", .sell, intercept: 10, slope: 1)]

    @Test func fromTenWithLambdaATenthThePriceGoesSixteenTwentyPointTwoAndOn() throws {
        // allocation-examples.md, tâtonnement: D = 100 − 2p, S = 10 + p, λ = 0.1, p₀ = 10 → 10, 16, 20.2, 23.14, 25.198.
        let result = try Self.run(try Self.spec(iterations: 4), Self.market)
        #expect(result.failure == nil)
        let prices = result.steps.filter { $0.kind == "price" }
        #expect(prices.map { $0.amounts[0] } == [Rational(10), Rational(16), try Self.r("101/5"), try Self.r("2314/100"), try Self.r("25198/1000")])
        #expect(prices.first?.amounts == [Rational(10), Rational(80), Rational(20)])
        // At p* = 25.198 buyers ask 49.604 and sellers offer 35.198: the buyer's amount is scaled down to 35.198.
        let pStar = try Self.r("25.198")
        #expect(result.price == pStar)
        #expect(result.allocations.map(\.units) == [try Self.r("35.198"), try Self.r("35.198")])
        #expect(result.allocations.allSatisfy { $0.price == pStar })
        #expect(result.supply == Rational(1_000))
        #expect(result.free == (try Rational(1_000).subtracting(Self.r("35.198"))))
    }

    @Test func thePricesFollowTheClosedFormUntilTheTickRoundsThemDown() throws {
        // p_t = 30 − 20·0.7^t exactly while 20·0.7^t has at most six decimals (t ≤ 7); p₈'s 28.8470398 is rounded
        // down to a multiple of the default tick, 10⁻⁶.
        let result = try Self.run(try Self.spec(iterations: 8), Self.market)
        let prices = result.steps.filter { $0.kind == "price" }.map { $0.amounts[0] }
        var closedForm: [Rational] = []
        var power = Rational.one
        for _ in 0...7 {
            closedForm.append(try Rational(30).subtracting(Rational(20).multiplied(by: power)))
            power = try power.multiplied(by: Self.r("7/10"))
        }
        #expect(Array(prices.prefix(8)) == closedForm)
        #expect(prices.last == (try Self.r("28.847039")))
        #expect(prices.count == 9)
    }

    @Test func theIterationsStopWithinTheTolerance() throws {
        let tolerance = try Self.r("1/1000")
        let result = try Self.run(try Self.spec(iterations: 1_000, tolerance: tolerance), Self.market)
        let prices = result.steps.filter { $0.kind == "price" }
        guard let last = prices.last else {
            Issue.record("no price steps")
            return
        }
        let gap = try last.amounts[1].subtracting(last.amounts[2])
        #expect(!(tolerance < Rational.max(gap, gap.negated)))
        // |D − S| = 3·20·0.7^t ≤ 1/1000 first at t = 31; the steps before it were all above the tolerance.
        #expect(prices.count == 32)
        #expect(result.steps.last?.kind != "price")
    }

    @Test func anIndivisiblePoolTradesWholeUnitsWithTheLongSideByLargestRemainder() throws {
        // At p = 10 (tolerance high enough to stop at once): buyers 30, 25 ask 55, sellers 10, 10, 10 offer 30; whole
        // units, buyers scaled to 30 by largest remainder: 30·30/55 = 16.36 and 30·25/55 = 13.64 floor to 16 and 13,
        // and the unit left goes to the larger remainder (b's .64): 16, 14.
        let spec = try Self.spec(iterations: 10, tolerance: Rational(100))
        let claims = [Self.linear("a", .buy, intercept: 50, slope: -2), Self.linear("b", .buy, intercept: 35, slope: -1),
                      Self.linear("s", .sell, intercept: 10, slope: 0), Self.linear("t", .sell, intercept: 5, slope: 1, units: 10),
                      Self.linear("u", .sell, intercept: 10, slope: 0)]
        let result = try Self.run(spec, claims, divisible: false)
        #expect(result.failure == nil)
        #expect(result.price == Rational(10))
        #expect(result.allocations.map(\.units) == [Rational(16), Rational(14), Rational(10), Rational(10), Rational(10)])
        #expect(result.steps.filter { $0.kind == "remainder" }.map(\.claimant) == ["b"])
    }

    @Test func claimsWithoutAScheduleTradeTheirUnitsAndAnExpressionGivesOne() throws {
        // Buyers ask their units whatever the price; the seller's `supply` expression is a constant 4 (capped at 10).
        let spec = try Self.spec(initial: Rational(1), iterations: 3, supply: "4")
        let claims = [Claim(claimant: "a", units: Rational(3), side: .buy), Claim(claimant: "b", units: Rational(3), side: .buy),
                      Claim(claimant: "s", units: Rational(10), side: .sell)]
        let result = try Self.run(spec, claims)
        #expect(result.failure == nil)
        #expect(result.steps.first { $0.kind == "price" }?.amounts == [Rational(1), Rational(6), Rational(4)])
        #expect(result.allocations.map(\.units) == [Rational(2), Rational(2), Rational(4)])
    }

    @Test func aClaimWithoutASideIsRefused() throws {
        let result = try Self.run(try Self.spec(iterations: 3), [Claim(claimant: "a", units: Rational(3))])
        #expect(result.failure?.code == .invalidClaim)
    }

    @Test func generatedMarketsTradeEqualUnitsAtANonNegativeTickPrice() throws {
        var generator = SplitMix64(seed: 18_041)
        for round in 0..<80 {
            let divisible = round % 2 == 0
            var claims: [Claim] = []
            for i in 0..<generator.int(1...10) {
                let side: Claim.Side = generator.int(0...1) == 0 ? .buy : .sell
                let slope = side == .buy ? -generator.int(0...3) : generator.int(0...3)
                claims.append(Self.linear(ContractFixture.name(i), side, intercept: generator.int(0...60), slope: slope, units: generator.int(0...50)))
            }
            let tick = try Self.r("1/100")
            let spec = try Self.spec(initial: Rational(generator.int(0...40)), step: try generator.rational(1...5, over: 10...20),
                                     iterations: UInt32(generator.int(1...40)), tolerance: try generator.rational(0...3, over: 1...2), tick: tick)
            let result = try Self.run(spec, claims, divisible: divisible)
            #expect(result.failure == nil)
            guard let price = result.price else {
                Issue.record("no price")
                continue
            }
            #expect(!price.isNegative)
            #expect(try price == spec.initialPrice || price.divided(by: tick).isInteger)
            let bought = try Rational.sum(result.allocations.filter { $0.side == .buy }.map(\.units))
            let sold = try Rational.sum(result.allocations.filter { $0.side == .sell }.map(\.units))
            #expect(bought == sold)
            for (a, c) in zip(result.allocations, claims.sorted { $0.claimant.utf8.lexicographicallyPrecedes($1.claimant.utf8) }) {
                // Nobody trades more than its schedule at the final price.
                let intercept = c.attributes["intercept"]?.number ?? .zero, slope = c.attributes["slope"]?.number ?? .zero
                let schedule = Rational.min(c.units, Rational.max(.zero, try intercept.adding(slope.multiplied(by: price))))
                #expect(!(schedule < a.units), "\(c.claimant) got \(a.units) of \(schedule) at \(price)")
                #expect(divisible || a.units.isInteger)
            }
            #expect(result.steps.filter { $0.kind == "price" }.count <= Int(spec.maxIterations ?? 0) + 1)
        }
    }

    @Test func aTinyGasBudgetFailsOutOfGas() throws {
        let result = try Self.run(try Self.spec(iterations: 1_000), Self.market, gas: 20)
        #expect(result.failure?.code == .outOfGas)
        #expect(result.allocated == .zero)
    }
}
