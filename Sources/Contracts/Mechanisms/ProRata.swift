/// Pro-rata to demand: x_i = S·d_i / Σd, capped at demand (when S ≥ Σd everyone gets its demand). For an
/// indivisible pool, the floors first, then the units left one each by largest fractional part, ties by id
/// (Hamilton's method; US COVID-19 doses were allocated to jurisdictions pro rata to adult population).
enum ProRata {
    static func divide(_ ctx: inout ExecutionContext, supply: Rational, claims: [PreparedClaim]) throws(ContractFailure) -> [Rational] {
        try ctx.charge(claims.count, "pro-rata")
        let total = try Rational.sum(claims.map(\.demand))
        if try ctx.coversEveryDemand(supply: supply, total: total) { return claims.map(\.demand) }
        var exact: [Rational] = []
        for c in claims { exact.append(try supply.multiplied(by: c.demand).divided(by: total)) }
        guard !ctx.divisible else {
            for (c, x) in zip(claims, exact) {
                try ctx.record(Step("share", claimant: c.id, amounts: [x], note: "\(supply.displayText)·\(c.demand.displayText)/\(total.displayText) = \(x.displayText)"))
            }
            return exact
        }
        var awards = exact.map { Rational(reduced: $0.floor, 1) }
        for (c, (x, a)) in zip(claims, zip(exact, awards)) {
            try ctx.record(Step("floor", claimant: c.id, amounts: [x, a], note: "\(supply.displayText)·\(c.demand.displayText)/\(total.displayText) = \(x.description), floor \(a.description)"))
        }
        let left = try supply.subtracting(Rational.sum(awards))
        guard let remaining = left.int64, remaining > 0 else { return awards }
        // Largest fractional part first; equal parts by id (claims arrive in id order, and the sort is stable).
        let order = claims.indices.sorted { exact[$0].fractionalPart > exact[$1].fractionalPart }
        try ctx.charge(claims.count, "ranking remainders")
        for i in order.prefix(Int(remaining)) {
            awards[i] = try awards[i].adding(.one)
            try ctx.record(Step("remainder", claimant: claims[i].id, amounts: [exact[i].fractionalPart],
                                note: "one of the \(remaining) units left, for the remainder \(exact[i].fractionalPart.description)"))
        }
        return awards
    }
}
