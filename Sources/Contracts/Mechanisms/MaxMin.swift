/// Max-min fair division by water-filling (Keshav 1997; Bertsekas & Gallager, *Data Networks* §6.5.2): demands are
/// served in increasing order, nobody gets more than it asks, and what the satisfied leave is shared equally among
/// the rest. Weighted, "increasing order" is by demand per unit of weight and each claimant still short gets its
/// weight times one water level L, so no claimant can gain without one with less per weight losing.
///
/// Weighted, a claimant of weight 0 gets nothing while a claimant of positive weight is short; the units left once
/// every positive-weight claimant is satisfied go to the zero-weight claimants by plain max-min, so nothing anyone
/// asks for stays free.
///
/// For an indivisible pool: the exact division, its floors, then the units left one each by largest fractional
/// part (``ClaimsRules/wholeUnits(_:exact:claims:)``). Plain, every claimant still short sits at the same level L,
/// so this is "water-fill to the integer level ⌊L⌋, then one unit each"; the units go to the larger unmet demands
/// first, then by id. Weighted, the claimants furthest below a whole unit of their weighted share come first.
enum MaxMin {
    static func divide(_ ctx: inout ExecutionContext, supply: Rational, claims: [PreparedClaim], weighted: Bool) throws(ContractFailure) -> [Rational] {
        try ctx.charge(claims.count, "max-min")
        let demands = claims.map(\.demand)
        let total = try Rational.sum(demands)
        if try ctx.coversEveryDemand(supply: supply, total: total) { return demands }
        var exact = claims.map { _ in Rational.zero }
        let ids = claims.map(\.id)
        if weighted {
            let positive = claims.indices.filter { !claims[$0].weight.isZero }
            let zero = claims.indices.filter { claims[$0].weight.isZero }
            let left = try fill(&ctx, supply: supply, over: positive, demands: demands, weights: claims.map(\.weight), ids: ids, into: &exact)
            if !zero.isEmpty {
                try ctx.record(Step("zero-weight", amounts: [left],
                                    note: "\(zero.count) claimant(s) of weight 0 share what the others left (\(left.displayText)) by plain max-min"))
                if !left.isZero {
                    _ = try fill(&ctx, supply: left, over: zero, demands: demands, weights: claims.map { _ in .one }, ids: ids, into: &exact)
                }
            }
        } else {
            _ = try fill(&ctx, supply: supply, over: Array(claims.indices), demands: demands, weights: claims.map { _ in .one }, ids: ids, into: &exact)
        }
        guard !ctx.divisible else { return exact }
        return try ClaimsRules.wholeUnits(&ctx, exact: exact, claims: claims)
    }

    /// Water-fills `supply` over the claimants at `indices` (weights all positive), writing their awards into
    /// `awards`, and explains it: the order, each claimant capped at its demand, the final level. Returns what is
    /// left, which is zero unless every one of them is satisfied.
    static func fill(_ ctx: inout ExecutionContext, supply: Rational, over indices: [Int], demands: [Rational], weights: [Rational],
                     ids: [String], into awards: inout [Rational]) throws(ContractFailure) -> Rational {
        guard !indices.isEmpty else { return supply }
        let plain = indices.allSatisfy { weights[$0] == .one }
        let filled = try WaterFilling.fill(&ctx, amount: supply, caps: indices.map { demands[$0] }, weights: indices.map { weights[$0] })
        let order = filled.order.map { indices[$0] }
        let per = plain ? "demand" : "demand per weight"
        try ctx.record(Step("order", note: "by \(per), smallest first: " + order.map { "\(ids[$0]) \(demands[$0].displayText)" + (plain ? "" : " (weight \(weights[$0].displayText))") }.joined(separator: ", ")))
        for (k, capped) in filled.capped.enumerated() {
            let i = indices[capped.index]
            try ctx.record(Step("cap", claimant: ids[i], amounts: [demands[i], capped.level],
                                note: "\(ids[i])'s demand \(demands[i].displayText) is within " + (plain ? "" : "\(weights[i].displayText) × ")
                                    + "the level \(capped.level.displayText) of the \(indices.count - k) claimant(s) still short: \(ids[i]) gets its demand"))
        }
        for (j, award) in zip(indices, filled.awards) { awards[j] = award }
        guard let level = filled.level else { return filled.left }
        let short = indices.count - filled.capped.count
        try ctx.record(Step("level", amounts: [level, filled.shared],
                            note: "the \(short) claimant(s) still short share \(filled.shared.displayText): each gets "
                                + (plain ? "the level \(level.displayText)" : "its weight × the level \(level.displayText)")))
        if !plain {
            for (p, j) in indices.enumerated() where !filled.isCapped[p] {
                let award = filled.awards[p]
                try ctx.record(Step("share", claimant: ids[j], amounts: [weights[j], award],
                                    note: "\(weights[j].displayText) × \(level.displayText) = \(award.displayText)"))
            }
        }
        return filled.left
    }
}

/// The water-filling computation shared by max-min and the claims rules (CEA is water-filling; CEL and Talmud are
/// water-filling on losses and half-claims): `amount` poured over `caps`, each position rising at the rate of its
/// weight until it reaches its cap. Exact: the level is solved as one division in rationals, no iteration towards it.
struct WaterFilling {
    /// Each position's award, in the order the positions were given.
    var awards: [Rational]
    /// The positions by cap per weight, smallest first, ties by position (claims arrive in id order).
    var order: [Int]
    /// The positions that reached their caps, in the order they did, with the level at which each was checked.
    var capped: [(index: Int, level: Rational)]
    /// Whether each position reached its cap.
    var isCapped: [Bool]
    /// The final level of the positions still short (award = weight × level); nil when every cap was reached.
    var level: Rational?
    /// What the positions still short share.
    var shared: Rational
    /// What is left after every cap is reached (zero when some position is short).
    var left: Rational

    /// Pours `amount` over `caps` with positive `weights`; gas: one per position to sort, one per round, one per
    /// position for the shares.
    static func fill(_ ctx: inout ExecutionContext, amount: Rational, caps: [Rational], weights: [Rational]) throws(ContractFailure) -> WaterFilling {
        precondition(caps.count == weights.count && weights.allSatisfy { $0 > .zero }, "water-filling needs a positive weight per cap")
        try ctx.charge(caps.count, "sorting for water-filling")
        var keys: [Rational] = []
        keys.reserveCapacity(caps.count)
        for (c, w) in zip(caps, weights) { keys.append(w == .one ? c : try c.divided(by: w)) }
        let order = caps.indices.sorted { keys[$0] < keys[$1] || (keys[$0] == keys[$1] && $0 < $1) }
        var result = WaterFilling(awards: caps.map { _ in .zero }, order: order, capped: [], isCapped: caps.map { _ in false },
                                  level: nil, shared: .zero, left: amount)
        var left = amount
        var weightLeft = try Rational.sum(weights)
        var k = 0
        // Round k: the level if the rest shared what is left; the smallest remaining cap within it is met.
        while k < order.count {
            try ctx.charge(1, "a water-filling round")
            let i = order[k]
            let level = try left.divided(by: weightLeft)
            guard !(level < keys[i]) else { break }
            result.awards[i] = caps[i]
            result.capped.append((i, level))
            result.isCapped[i] = true
            left = try left.subtracting(caps[i])
            weightLeft = try weightLeft.subtracting(weights[i])
            k += 1
        }
        guard k < order.count else {
            result.left = left
            return result
        }
        let level = try left.divided(by: weightLeft)
        try ctx.charge(order.count - k, "water-filling shares")
        for i in order[k...] { result.awards[i] = weights[i] == .one ? level : try weights[i].multiplied(by: level) }
        result.level = level
        result.shared = left
        result.left = .zero
        return result
    }
}
