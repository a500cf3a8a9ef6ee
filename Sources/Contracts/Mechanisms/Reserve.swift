/// A reserve system (Pathak, Sönmez, Ünver, Yenmez, *Fair allocation of vaccines, ventilators and antiviral
/// treatments*, Management Science 2024): the units are split into categories, each with a capacity, an
/// eligibility rule and its own priority order; categories are processed one after another in `order` (default:
/// the definition's order), each giving its units to its highest-priority eligible claimants still unmatched. The
/// processing order is policy: with 2 units, categories u (everyone, clinical order) and e (essential workers
/// first) and patients A (essential), B, C (essential) in clinical order, u then e gives {A→u, C→e}, e then u
/// gives {A→e, B→u}.
///
/// - A category's priority is its `priority` expression (higher first), else the contract's priority, else none;
///   equal priorities go by claimant id.
/// - A claimant takes up to what it still demands, so one claiming several units may take them across categories;
///   its allocation's `category` names the categories it got units through, in processing order, joined by ",".
/// - A category holds at most what the categories before it left of the supply: capacities summing to more than the
///   supply are served in order until it runs out. Units no category holds, or that no eligible claimant took, stay
///   free (they are not passed to another category).
enum Reserve {
    static func allocate(_ ctx: inout ExecutionContext, supply: Rational, claims: [PreparedClaim]) throws(ContractFailure) -> MechanismOutput {
        let categories = ctx.spec.categories ?? []
        guard !categories.isEmpty, ctx.contract.categoryEligible.count == categories.count, ctx.contract.categoryPriority.count == categories.count else {
            throw ContractFailure(.invalidDefinition, "mechanism.categories: a reserve system needs its categories compiled")
        }
        var order: [Int] = []
        for name in ctx.spec.order ?? categories.map(\.name) {
            guard let k = categories.firstIndex(where: { $0.name == name }) else {
                throw ContractFailure(.invalidDefinition, "mechanism.order: no category is named '\(name)'")
            }
            order.append(k)
        }
        try ctx.record(Step("order", note: "categories in the order " + order.map { categories[$0].name }.joined(separator: ", ")))

        var wanting = claims.map(\.demand)
        var awards = claims.map { _ in Rational.zero }
        var through: [[String]] = claims.map { _ in [] }
        var left = supply
        for k in order {
            let category = categories[k]
            let room = Rational.min(category.capacity, left)
            guard !room.isZero else {
                try ctx.record(Step("category", amounts: [category.capacity, .zero], note: "\(category.name): no units left for it"))
                continue
            }
            let ranked = try rank(&ctx, category: k, supply: supply, claims: claims, wanting: wanting)
            try ctx.record(Step("category", amounts: [category.capacity, room],
                                note: "\(category.name): \(room.displayText) of its capacity \(category.capacity.displayText), for "
                                    + (ranked.isEmpty ? "no eligible claimant still wanting units" : "its eligible claimants in priority order: " + ranked.map { claims[$0].id }.joined(separator: ", "))))
            var open = room
            for i in ranked {
                guard !open.isZero else { break }
                try ctx.charge(1, "reserve assignment")
                let take = Rational.min(wanting[i], open)
                awards[i] = try awards[i].adding(take)
                wanting[i] = try wanting[i].subtracting(take)
                open = try open.subtracting(take)
                through[i].append(category.name)
                try ctx.record(Step("assign", claimant: claims[i].id, amounts: [take], note: "\(claims[i].id) takes \(take.displayText) through \(category.name)"))
            }
            left = try left.subtracting(room.subtracting(open))
        }
        if !left.isZero {
            try ctx.record(Step("free", amounts: [left], note: "\(left.displayText) unit(s) no category gave out stay free"))
        }
        return MechanismOutput(allocations: claims.indices.map {
            Allocation(claimant: claims[$0].id, units: awards[$0], category: through[$0].isEmpty ? nil : through[$0].joined(separator: ","))
        })
    }

    /// The claimants still wanting units that category `k` admits, highest priority first, ties by id (claims
    /// arrive in id order).
    static func rank(_ ctx: inout ExecutionContext, category k: Int, supply: Rational, claims: [PreparedClaim], wanting: [Rational]) throws(ContractFailure) -> [Int] {
        try ctx.charge(claims.count, "a reserve category's eligibility")
        var candidates: [(index: Int, priority: Rational?)] = []
        for (i, c) in claims.enumerated() where !wanting[i].isZero {
            if let eligible = ctx.contract.categoryEligible[k], !(try ctx.condition(eligible, for: c.claim, supply: supply)) { continue }
            var priority = c.priority
            if let e = ctx.contract.categoryPriority[k] { priority = try ctx.number(e, for: c.claim, supply: supply) }
            candidates.append((i, priority))
        }
        try ctx.charge(candidates.count, "a reserve category's priority order")
        return candidates.sorted { a, b in
            switch (a.priority, b.priority) {
            case let (p?, q?) where p != q: return p > q
            case (.some, nil): return true
            case (nil, .some): return false
            default: return a.index < b.index
            }
        }.map(\.index)
    }
}
