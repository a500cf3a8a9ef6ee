import Contracts
import Testing

@Suite struct DoubleAuctionTests {
    static func r(_ text: String) throws -> Rational { try Rational(parsing: text) }

    static func buy(_ id: String, _ units: Int, at price: Rational) -> Claim {
        Claim(claimant: id, units: Rational(units), price: price, side: .buy)
    }

    static func sell(_ id: String, _ units: Int, at price: Rational) -> Claim {
        Claim(claimant: id, units: Rational(units), price: price, side: .sell)
    }

    /// One epoch; the supply passed is the pool's, which the auction does not use (it trades what sellers offer).
    static func run(_ claims: [Claim], divisible: Bool = false, gas: UInt64? = nil) throws -> EpochResult {
        let contract = try ContractFixture.contract(.doubleAuction, divisible: divisible, gas: gas)
        return ContractExecutor.execute(contract, epoch: 0, supply: Rational(999), claims: claims, seed: [])
    }

    static func units(_ r: EpochResult, _ id: String, _ side: Claim.Side) -> Rational? {
        r.allocations.first { $0.claimant == id && $0.side == side }?.units
    }

    static func price(_ r: EpochResult, _ id: String, _ side: Claim.Side) -> Rational? {
        r.allocations.first { $0.claimant == id && $0.side == side }?.price
    }

    @Test func bidsTenEightSixFourAndAsksOneThreeFiveSevenTradeThreeAtFiveAndAHalf() throws {
        // allocation-examples.md, double auction: k = 3 (6 ≥ 5, 4 < 7), p₀ = (4 + 7)/2 = 5.5 ∈ [5, 6].
        let claims = [Self.buy("b10", 1, at: Rational(10)), Self.buy("b8", 1, at: Rational(8)), Self.buy("b6", 1, at: Rational(6)),
                      Self.buy("b4", 1, at: Rational(4)), Self.sell("s1", 1, at: Rational(1)), Self.sell("s3", 1, at: Rational(3)),
                      Self.sell("s5", 1, at: Rational(5)), Self.sell("s7", 1, at: Rational(7))]
        let result = try Self.run(claims)
        let half = try Self.r("11/2")
        #expect(result.failure == nil)
        #expect(result.price == half)
        #expect(result.supply == Rational(4))
        #expect(result.allocated == Rational(3))
        #expect(result.free == Rational(1))
        for id in ["b10", "b8", "b6"] {
            #expect(Self.units(result, id, .buy) == Rational(1))
            #expect(Self.price(result, id, .buy) == half)
        }
        for id in ["s1", "s3", "s5"] {
            #expect(Self.units(result, id, .sell) == Rational(1))
            #expect(Self.price(result, id, .sell) == half)
        }
        #expect(Self.units(result, "b4", .buy) == .zero && Self.units(result, "s7", .sell) == .zero)
        #expect(result.steps.first { $0.kind == "price" }?.amounts == [Rational(3), Rational(6), Rational(5), half])
    }

    @Test func withoutAK1thBidTheKthPairIsLeftOutAndPricesAreBkAndSk() throws {
        // Bids 10, 8, 6 and asks 1, 3, 5, 7: k = 3 but there is no 4th bid, so 2 units trade; buyers pay b₃ = 6,
        // sellers get s₃ = 5.
        let claims = [Self.buy("a", 1, at: Rational(10)), Self.buy("b", 1, at: Rational(8)), Self.buy("c", 1, at: Rational(6)),
                      Self.sell("s", 1, at: Rational(1)), Self.sell("t", 1, at: Rational(3)), Self.sell("u", 1, at: Rational(5)),
                      Self.sell("v", 1, at: Rational(7))]
        let result = try Self.run(claims)
        #expect(result.failure == nil)
        #expect(result.price == nil)
        #expect(result.allocated == Rational(2))
        #expect([Self.units(result, "a", .buy), Self.units(result, "b", .buy), Self.units(result, "c", .buy)] == [Rational(1), Rational(1), Rational(0)])
        #expect(Self.price(result, "a", .buy) == Rational(6))
        #expect([Self.units(result, "s", .sell), Self.units(result, "t", .sell), Self.units(result, "u", .sell)] == [Rational(1), Rational(1), Rational(0)])
        #expect(Self.price(result, "s", .sell) == Rational(5))
        #expect(result.steps.contains { $0.kind == "reduce" })
    }

    @Test func aMidpointOutsideTheKthPairReducesTheTrade() throws {
        // Bids 10, 9, 2 and asks 1, 8, 9: k = 2 (9 ≥ 8), p₀ = (2 + 9)/2 = 5.5 < s₂ = 8: one unit trades, the buyer
        // paying 9 and the seller getting 8.
        let claims = [Self.buy("a", 1, at: Rational(10)), Self.buy("b", 1, at: Rational(9)), Self.buy("c", 1, at: Rational(2)),
                      Self.sell("s", 1, at: Rational(1)), Self.sell("t", 1, at: Rational(8)), Self.sell("u", 1, at: Rational(9))]
        let result = try Self.run(claims)
        #expect(result.allocated == Rational(1))
        #expect(Self.units(result, "a", .buy) == Rational(1) && Self.price(result, "a", .buy) == Rational(9))
        #expect(Self.units(result, "s", .sell) == Rational(1) && Self.price(result, "s", .sell) == Rational(8))
        #expect(Self.units(result, "b", .buy) == .zero && Self.units(result, "t", .sell) == .zero)
    }

    @Test func multiUnitClaimsTradeAsTheirUnitBids() throws {
        // x: 3 at 10, y: 2 at 6; u: 2 at 1, v: 3 at 5 → bids 10, 10, 10, 6, 6 and asks 1, 1, 5, 5, 5: k = 5 with no
        // 6th unit on either side, so 4 trade at b₅ = 6 and s₅ = 5: x buys 3, y 1; u sells 2, v 2.
        let claims = [Self.buy("x", 3, at: Rational(10)), Self.buy("y", 2, at: Rational(6)), Self.sell("u", 2, at: Rational(1)), Self.sell("v", 3, at: Rational(5))]
        let result = try Self.run(claims)
        #expect(result.failure == nil)
        #expect(Self.units(result, "x", .buy) == Rational(3) && Self.units(result, "y", .buy) == Rational(1))
        #expect(Self.units(result, "u", .sell) == Rational(2) && Self.units(result, "v", .sell) == Rational(2))
        #expect(Self.price(result, "y", .buy) == Rational(6) && Self.price(result, "v", .sell) == Rational(5))
        #expect(result.free == Rational(1))
    }

    @Test func equalBidsAreServedInClaimantIdOrder() throws {
        // Two bids of 5 for one unit traded (k = 2, trade reduction to 1): "a" precedes "b".
        let claims = [Self.buy("b", 1, at: Rational(5)), Self.buy("a", 1, at: Rational(5)), Self.sell("s", 1, at: Rational(1)), Self.sell("t", 1, at: Rational(2))]
        let result = try Self.run(claims)
        #expect(Self.units(result, "a", .buy) == Rational(1))
        #expect(Self.units(result, "b", .buy) == .zero)
    }

    @Test func aClaimantMayBuyAndSell() throws {
        let claims = [Self.buy("m", 1, at: Rational(9)), Self.sell("m", 1, at: Rational(2)), Self.buy("n", 1, at: Rational(3)), Self.sell("o", 1, at: Rational(8))]
        let result = try Self.run(claims)
        #expect(result.failure == nil)
        // Bids 9, 3 and asks 2, 8: k = 1, p₀ = (3 + 8)/2 = 5.5 ∈ [2, 9]: m's bid meets m's own ask.
        #expect(result.allocations(of: "m").map(\.units) == [Rational(1), Rational(1)])
        #expect(result.price == (try Self.r("11/2")))
    }

    @Test func claimsWithoutASideOrAPriceOrWithFractionalUnitsAreRefused() throws {
        let noSide = try Self.run([Claim(claimant: "a", units: Rational(1), price: Rational(3)), Self.sell("s", 1, at: Rational(1))])
        #expect(noSide.failure?.code == .invalidClaim)
        let noPrice = try Self.run([Claim(claimant: "a", units: Rational(1), side: .buy), Self.sell("s", 1, at: Rational(1))])
        #expect(noPrice.failure?.code == .invalidClaim)
        let fractional = try Self.run([Claim(claimant: "a", units: try Self.r("1/2"), price: Rational(3), side: .buy), Self.sell("s", 1, at: Rational(1))], divisible: true)
        #expect(fractional.failure?.code == .invalidClaim)
    }

    // MARK: Generated inputs

    /// McAfee's rule written plainly over unit bids, for comparison: (units bought or sold per claim index, price).
    static func reference(_ claims: [Claim]) -> (units: [Int], buyerPrice: Rational?, sellerPrice: Rational?) {
        func idBefore(_ a: Int, _ b: Int) -> Bool { claims[a].claimant.utf8.lexicographicallyPrecedes(claims[b].claimant.utf8) }
        let buyers = claims.indices.filter { claims[$0].side == .buy }.sorted { i, j in
            let (p, q) = (claims[i].price ?? .zero, claims[j].price ?? .zero)
            return q < p || (p == q && idBefore(i, j))
        }
        let sellers = claims.indices.filter { claims[$0].side == .sell }.sorted { i, j in
            let (p, q) = (claims[i].price ?? .zero, claims[j].price ?? .zero)
            return p < q || (p == q && idBefore(i, j))
        }
        let bids = buyers.flatMap { Array(repeating: $0, count: Int(claims[$0].units.int64 ?? 0)) }
        let asks = sellers.flatMap { Array(repeating: $0, count: Int(claims[$0].units.int64 ?? 0)) }
        func bid(_ i: Int) -> Rational { claims[bids[i]].price ?? .zero }
        func ask(_ i: Int) -> Rational { claims[asks[i]].price ?? .zero }
        var k = 0
        while k < min(bids.count, asks.count), !(bid(k) < ask(k)) { k += 1 }
        var units = Array(repeating: 0, count: claims.count)
        guard k > 0 else { return (units, nil, nil) }
        var traded = k - 1
        var prices = (bid(k - 1), ask(k - 1))
        if k < bids.count, k < asks.count, let p0 = try? bid(k).adding(ask(k)).divided(by: Rational(2)), !(p0 < ask(k - 1)), !(bid(k - 1) < p0) {
            traded = k
            prices = (p0, p0)
        }
        for i in 0..<traded {
            units[bids[i]] += 1
            units[asks[i]] += 1
        }
        return (units, traded > 0 ? prices.0 : nil, traded > 0 ? prices.1 : nil)
    }

    @Test func generatedAuctionsMatchTheUnitRuleAndAreRationalAndBudgetBalanced() throws {
        var generator = SplitMix64(seed: 18_031)
        var trades = 0
        for _ in 0..<200 {
            var claims: [Claim] = []
            for i in 0..<generator.int(0...12) {
                let price = try generator.rational(0...20, over: 1...2)
                let side: Claim.Side = generator.int(0...1) == 0 ? .buy : .sell
                claims.append(Claim(claimant: ContractFixture.name(i), units: Rational(generator.int(0...4)), price: price, side: side))
            }
            let result = try Self.run(claims)
            #expect(result.failure == nil)
            let expected = Self.reference(claims)
            var paid = Rational.zero, received = Rational.zero, bought = Rational.zero, sold = Rational.zero
            for (i, c) in claims.enumerated() {
                guard let a = result.allocations.first(where: { $0.claimant == c.claimant && $0.side == c.side }) else {
                    Issue.record("no allocation for \(c.claimant)")
                    continue
                }
                #expect(a.units == Rational(expected.units[i]), "\(claims)")
                guard !a.units.isZero, let price = a.price, let limit = c.price else { continue }
                if c.side == .buy {
                    #expect(!(limit < price), "a buyer pays above its bid")
                    #expect(price == expected.buyerPrice)
                    paid = try paid.adding(a.units.multiplied(by: price))
                    bought = try bought.adding(a.units)
                } else {
                    #expect(!(price < limit), "a seller gets below its ask")
                    #expect(price == expected.sellerPrice)
                    received = try received.adding(a.units.multiplied(by: price))
                    sold = try sold.adding(a.units)
                }
            }
            #expect(bought == sold)
            #expect(!(paid < received))
            #expect(try result.allocated.adding(result.free) == Rational.sum(claims.filter { $0.side == .sell }.map(\.units)))
            if !bought.isZero { trades += 1 }
        }
        #expect(trades > 50)
    }

    @Test func aTinyGasBudgetFailsOutOfGas() throws {
        let claims = [Self.buy("a", 1, at: Rational(10)), Self.buy("b", 1, at: Rational(8)), Self.sell("s", 1, at: Rational(1)), Self.sell("t", 1, at: Rational(3))]
        let result = try Self.run(claims, gas: 6)
        #expect(result.failure?.code == .outOfGas)
        #expect(result.allocated == .zero)
    }
}
