/// Tâtonnement (Walras): the price moves with excess demand, p_{t+1} = p_t + λ·(D(p_t) − S(p_t)), rounded down to a
/// multiple of `tick` (default ``MechanismSpec/defaultTick``) so that numbers stay small and never below 0, until
/// |D − S| ≤ tolerance or after `maxIterations` moves: every validator stops at the same step. D = 100 − 2p,
/// S = 10 + p, λ = 0.1, p₀ = 10 → 10, 16, 20.2, 23.14, 25.198 (closed form 30 − 20·0.7^t). Each price tried is a
/// step "price" with amounts [p, D(p), S(p)].
///
/// D(p) is the sum over buy claims of what each asks at p, S(p) the sum over sell claims of what each offers. A
/// claim's schedule is the contract's `demand` (buyers) or `supply` (sellers) expression with `price` bound to p;
/// without one, the claim's attributes `intercept` and `slope` (either may be left out, as 0) give
/// max(0, intercept + slope·p); without those, the claim's units at every price. A claim's units cap its schedule
/// (they are the most it buys or offers at any price), and a schedule below 0 counts as 0.
///
/// At the final price p*, buyers get what they ask and sellers sell what they offer, except on the long side, whose
/// amounts are scaled down pro rata so that the units bought equal the units sold (for an indivisible pool every
/// schedule is rounded down to whole units first and the long side is scaled by largest remainder, ties by id).
/// Everyone trades at p*, the epoch's price. Supply: what the sellers offer at most, the sum of the sell claims'
/// units (``ContractExecutor`` passes that, not the pool's units); `free` is what they offered and did not sell.
enum Tatonnement {
    static func allocate(_ ctx: inout ExecutionContext, supply: Rational, claims: [PreparedClaim]) throws(ContractFailure) -> MechanismOutput {
        let spec = ctx.spec
        guard let initial = spec.initialPrice, let lambda = spec.step, let cap = spec.maxIterations, let tolerance = spec.tolerance else {
            throw ContractFailure(.invalidDefinition, "tatonnement needs initialPrice, step, maxIterations and tolerance")
        }
        let tick = spec.tick ?? MechanismSpec.defaultTick
        var sides: [Claim.Side] = []
        var offered = Rational.zero
        for c in claims {
            guard let side = c.claim.side else {
                throw ContractFailure(.invalidClaim, "'\(c.id)' has no side: a tatonnement claim buys or sells")
            }
            sides.append(side)
            if side == .sell { offered = try offered.adding(c.demand) }
        }
        guard offered == supply else {
            throw ContractFailure(.invalidClaim, "the supply \(supply) is not the \(offered) units the sellers offer")
        }

        var price = initial
        var moves: UInt32 = 0
        var quantities: [Rational]
        while true {
            quantities = try schedules(&ctx, claims: claims, sides: sides, price: price, supply: supply)
            let demand = try total(quantities, sides, .buy), offer = try total(quantities, sides, .sell)
            let excess = try demand.subtracting(offer)
            try ctx.record(Step("price", amounts: [price, demand, offer],
                                note: "p\(moves) = \(price.displayText): D = \(demand.displayText), S = \(offer.displayText), excess demand \(excess.displayText)"))
            if !(tolerance < (excess.isNegative ? excess.negated : excess)) {
                try ctx.record(Step("stop", amounts: [price], note: "|D − S| ≤ \(tolerance.displayText): the price settles at \(price.displayText)"))
                break
            }
            if moves == cap {
                try ctx.record(Step("stop", amounts: [price], note: "\(cap) moves, the most allowed: the price stops at \(price.displayText)"))
                break
            }
            let moved = try price.adding(lambda.multiplied(by: excess)).roundedDown(toMultipleOf: tick)
            price = Rational.max(.zero, moved)
            moves += 1
        }
        return try trade(&ctx, claims: claims, sides: sides, quantities: quantities, price: price)
    }

    /// Every claim's schedule at `price`, capped at its units and at least 0.
    static func schedules(_ ctx: inout ExecutionContext, claims: [PreparedClaim], sides: [Claim.Side], price: Rational,
                          supply: Rational) throws(ContractFailure) -> [Rational] {
        try ctx.charge(claims.count, "the schedules at a price")
        var out: [Rational] = []
        out.reserveCapacity(claims.count)
        for (c, side) in zip(claims, sides) {
            var q: Rational
            if let e = side == .buy ? ctx.contract.demand : ctx.contract.supply {
                q = try ctx.number(e, for: c.claim, supply: supply, extra: ["price": Value.exact(price)])
            } else if c.claim.attributes["intercept"] != nil || c.claim.attributes["slope"] != nil {
                let intercept = try attribute("intercept", of: c), slope = try attribute("slope", of: c)
                q = try intercept.adding(slope.multiplied(by: price))
            } else {
                q = c.demand
            }
            out.append(Rational.min(c.demand, Rational.max(.zero, q)))
        }
        return out
    }

    /// A linear schedule's coefficient: a number, 0 when absent.
    static func attribute(_ name: String, of c: PreparedClaim) throws(ContractFailure) -> Rational {
        guard let v = c.claim.attributes[name] else { return .zero }
        guard let n = v.number else { throw ContractFailure(.invalidClaim, "'\(c.id)': attribute \(name) is a \(v.typeName), not a number") }
        return n
    }

    static func total(_ quantities: [Rational], _ sides: [Claim.Side], _ side: Claim.Side) throws(ContractFailure) -> Rational {
        try Rational.sum(zip(quantities, sides).filter { $0.1 == side }.map(\.0))
    }

    /// The allocation at the final price: whole units first for an indivisible pool, the long side scaled pro rata to
    /// the short side's total.
    static func trade(_ ctx: inout ExecutionContext, claims: [PreparedClaim], sides: [Claim.Side], quantities: [Rational],
                      price: Rational) throws(ContractFailure) -> MechanismOutput {
        var units = ctx.divisible ? quantities : quantities.map { Rational(reduced: $0.floor, 1) }
        let demand = try total(units, sides, .buy), offer = try total(units, sides, .sell)
        let traded = Rational.min(demand, offer)
        if demand != offer {
            let long: Claim.Side = offer < demand ? .buy : .sell
            let indices = claims.indices.filter { sides[$0] == long }
            try ctx.record(Step("scale", amounts: [demand, offer],
                                note: "at \(price.displayText) buyers ask \(demand.displayText) and sellers offer \(offer.displayText): "
                                    + "the \(long == .buy ? "buyers'" : "sellers'") amounts are scaled pro rata to \(traded.displayText)"))
            let scaled = indices.map { i in
                var c = claims[i]
                c.claim.units = units[i]
                return c
            }
            let shares = try ProRata.divide(&ctx, supply: traded, claims: scaled)
            for (i, share) in zip(indices, shares) { units[i] = share }
        }
        let allocations = claims.indices.map { i in
            Allocation(claimant: claims[i].id, units: units[i], side: sides[i], price: units[i].isZero ? nil : price)
        }
        return MechanismOutput(allocations: allocations, price: price)
    }
}
