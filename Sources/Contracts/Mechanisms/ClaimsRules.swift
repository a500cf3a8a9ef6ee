/// The claims rules for an estate E short of the claims d (sum D) — Aumann & Maschler 1985; Thomson, *Axiomatic
/// and game-theoretic analysis of bankruptcy and taxation problems*, 2003:
/// - proportional: x_i = E·d_i / D;
/// - constrained equal awards (CEA): x_i = min(d_i, λ), with Σx = E;
/// - constrained equal losses (CEL): x_i = max(0, d_i − μ), with Σx = E;
/// - Talmud: CEA on the half-claims d/2 while E ≤ D/2, otherwise d − CEA(D − E, d/2).
///
/// λ and μ are exact: CEA is water-filling (``WaterFilling``), which sorts the claims, finds the breakpoint and
/// solves the one linear equation left in rationals; CEL is CEA on the losses (x = d − CEA(D − E, d)). When the
/// estate covers every claim, each claimant gets its claim.
///
/// For an indivisible pool, the exact awards are rounded by largest remainder, as pro-rata rounds
/// (``wholeUnits(_:exact:claims:)``).
enum ClaimsRules {
    static func divide(_ ctx: inout ExecutionContext, supply: Rational, claims: [PreparedClaim], rule: MechanismSpec.Kind) throws(ContractFailure) -> [Rational] {
        try ctx.charge(claims.count, "a claims rule")
        let claimed = claims.map(\.demand)
        let total = try Rational.sum(claimed)
        if try ctx.coversEveryDemand(supply: supply, total: total, supplyWord: "estate", demandWord: "claim") { return claimed }
        let exact: [Rational]
        switch rule {
        case .proportional:
            var shares: [Rational] = []
            for (c, d) in zip(claims, claimed) {
                let x = try supply.multiplied(by: d).divided(by: total)
                shares.append(x)
                try ctx.record(Step("award", claimant: c.id, amounts: [d, x], note: "\(supply.displayText)·\(d.displayText)/\(total.displayText) = \(x.displayText)"))
            }
            exact = shares
        case .cea:
            exact = try equalAwards(&ctx, estate: supply, caps: claimed, claims: claims, what: "CEA")
        case .cel:
            let losses = try equalAwards(&ctx, estate: total.subtracting(supply), caps: claimed, claims: claims, what: "CEL's losses", symbol: "μ", kind: "loss")
            exact = try awards(&ctx, claimed: claimed, minus: losses, claims: claims, what: "CEL")
        case .talmud:
            var halves: [Rational] = []
            for d in claimed { halves.append(try d.divided(by: Rational(2))) }
            let half = try total.divided(by: Rational(2))
            if !(half < supply) {
                try ctx.record(Step("talmud", amounts: [supply, half],
                                    note: "the estate \(supply.displayText) is at most half the claims (\(half.displayText)): CEA on the half-claims"))
                exact = try equalAwards(&ctx, estate: supply, caps: halves, claims: claims, what: "Talmud on the half-claims")
            } else {
                let loss = try total.subtracting(supply)
                try ctx.record(Step("talmud", amounts: [supply, half],
                                    note: "the estate \(supply.displayText) is over half the claims (\(half.displayText)): each loses its share of \(loss.displayText) by CEA on the half-claims"))
                let losses = try equalAwards(&ctx, estate: loss, caps: halves, claims: claims, what: "Talmud's losses on the half-claims", symbol: "μ", kind: "loss")
                exact = try awards(&ctx, claimed: claimed, minus: losses, claims: claims, what: "Talmud")
            }
        default:
            throw ContractFailure(.invalidDefinition, "\(rule.rawValue) is not a claims rule")
        }
        guard !ctx.divisible else { return exact }
        return try wholeUnits(&ctx, exact: exact, claims: claims)
    }

    /// CEA of `estate` over `caps`: min(cap, λ) with λ solved exactly; explained as the level (named `symbol`: λ for
    /// awards, μ for losses) and each amount (a step of `kind` "award" or "loss").
    static func equalAwards(_ ctx: inout ExecutionContext, estate: Rational, caps: [Rational], claims: [PreparedClaim], what: String,
                            symbol: String = "λ", kind: String = "award") throws(ContractFailure) -> [Rational] {
        let filled = try WaterFilling.fill(&ctx, amount: estate, caps: caps, weights: caps.map { _ in .one })
        if let level = filled.level {
            try ctx.record(Step("level", amounts: [level, estate], note: "\(what): \(symbol) = \(level.displayText), so that min(c, \(symbol)) sums to \(estate.displayText)"))
        } else {
            try ctx.record(Step("level", amounts: [estate], note: "\(what): \(estate.displayText) covers every amount"))
        }
        for (i, c) in claims.enumerated() {
            try ctx.record(Step(kind, claimant: c.id, amounts: [caps[i], filled.awards[i]],
                                note: "\(what): " + (filled.isCapped[i] ? "\(caps[i].displayText), all of it" : "\(symbol) = \(filled.awards[i].displayText), below \(caps[i].displayText)")))
        }
        return filled.awards
    }

    /// Awards as claims minus losses, explained per claimant.
    static func awards(_ ctx: inout ExecutionContext, claimed: [Rational], minus losses: [Rational], claims: [PreparedClaim], what: String) throws(ContractFailure) -> [Rational] {
        var out: [Rational] = []
        for (i, c) in claims.enumerated() {
            let x = try claimed[i].subtracting(losses[i])
            out.append(x)
            try ctx.record(Step("award", claimant: c.id, amounts: [claimed[i], x], note: "\(what): \(claimed[i].displayText) − \(losses[i].displayText) = \(x.displayText)"))
        }
        return out
    }

    /// Whole units from exact awards that sum to a whole number, each ≤ a whole demand: every floor, then the units
    /// left one each by largest fractional part (Hamilton's method, as pro-rata). Equal parts go first to the larger
    /// exact loss (demand − award), then to the smaller exact award, then by id: so a larger claim never ends with
    /// less, nor a smaller claim with a larger loss, than the exact division gave them in order (claimants with
    /// equal claims and equal exact awards may differ by one unit, the first by id having it).
    static func wholeUnits(_ ctx: inout ExecutionContext, exact: [Rational], claims: [PreparedClaim]) throws(ContractFailure) -> [Rational] {
        var awards = exact.map { Rational(reduced: $0.floor, 1) }
        var losses: [Rational] = []
        for (c, x) in zip(claims, exact) { losses.append(try c.demand.subtracting(x)) }
        for (i, c) in claims.enumerated() where !exact[i].isInteger {
            try ctx.record(Step("floor", claimant: c.id, amounts: [exact[i], awards[i]], note: "\(exact[i].description), floor \(awards[i].description)"))
        }
        let left = try Rational.sum(exact).subtracting(Rational.sum(awards))
        guard let remaining = left.int64, remaining > 0 else { return awards }
        try ctx.charge(claims.count, "ranking remainders")
        let parts = exact.map(\.fractionalPart)
        let order = claims.indices.sorted { a, b in
            if parts[a] != parts[b] { return parts[a] > parts[b] }
            if losses[a] != losses[b] { return losses[a] > losses[b] }
            if exact[a] != exact[b] { return exact[a] < exact[b] }
            return a < b
        }
        for i in order.prefix(Int(remaining)) {
            precondition(!parts[i].isZero, "a whole unit left over for an award that is already whole")
            awards[i] = try awards[i].adding(.one)
            try ctx.record(Step("remainder", claimant: claims[i].id, amounts: [parts[i]],
                                note: "one of the \(remaining) units left, for the remainder \(parts[i].description)"))
        }
        return awards
    }
}
