/// Priority tiers, as in crisis triage (New York State Ventilator Allocation Guidelines, 2015: SOFA ≤ 7 red, the
/// highest priority; 8–11 yellow; > 11 blue, no ventilator): each claim belongs to the first tier whose `when`
/// holds; tiers are served whole, in order, while the supply lasts; the first tier that cannot be served whole
/// divides what is left by `within` (max-min by default, weighted max-min, or pro-rata), and the tiers after it
/// get nothing. A claim in an `excluded` tier, or in no tier, gets nothing.
///
/// Inside the tier that is divided, the contract's priority (if it has one) is served first, group by group, as
/// for the dividing mechanisms alone. Each allocation's `category` is its tier's name.
enum PriorityTiers {
    static func allocate(_ ctx: inout ExecutionContext, supply: Rational, claims: [PreparedClaim]) throws(ContractFailure) -> MechanismOutput {
        let tiers = ctx.spec.tiers ?? []
        let conditions = ctx.contract.tierConditions
        guard !tiers.isEmpty, conditions.count == tiers.count else {
            throw ContractFailure(.invalidDefinition, "mechanism.tiers: priority tiers need their conditions compiled")
        }
        var members: [[PreparedClaim]] = tiers.map { _ in [] }
        var allocations: [Allocation] = []
        for c in claims {
            var placed = false
            for (t, condition) in conditions.enumerated() {
                try ctx.charge(1, "placing a claim in a tier")
                if try ctx.condition(condition, for: c.claim, supply: supply) {
                    members[t].append(c)
                    placed = true
                    break
                }
            }
            if !placed {
                try ctx.record(Step("exclude", claimant: c.id, note: "\(c.id) is in no tier: nothing"))
                allocations.append(Allocation(claimant: c.id, units: .zero))
            }
        }

        var left = supply
        for (t, tier) in tiers.enumerated() where !members[t].isEmpty {
            let group = members[t]
            if tier.excluded == true {
                for c in group {
                    try ctx.record(Step("exclude", claimant: c.id, note: "\(c.id) is in tier \(tier.name), which is not served: nothing"))
                    allocations.append(Allocation(claimant: c.id, units: .zero, category: tier.name))
                }
                continue
            }
            let demand = try Rational.sum(group.map(\.demand))
            let names = group.map(\.id).joined(separator: ", ")
            if !(left < demand) {
                try ctx.record(Step("tier", amounts: [demand, left],
                                    note: "tier \(tier.name) (\(names)) asks for \(demand.displayText) of the \(left.displayText) left: served whole"))
                for c in group { allocations.append(Allocation(claimant: c.id, units: c.demand, category: tier.name)) }
                left = try left.subtracting(demand)
            } else if left.isZero {
                try ctx.record(Step("tier", amounts: [demand, left], note: "tier \(tier.name) (\(names)) asks for \(demand.displayText): nothing is left"))
                for c in group { allocations.append(Allocation(claimant: c.id, units: .zero, category: tier.name)) }
            } else {
                let within = ctx.spec.within ?? .maxMin
                try ctx.record(Step("tier", amounts: [demand, left],
                                    note: "tier \(tier.name) (\(names)) asks for \(demand.displayText) of the \(left.displayText) left: divided by \(within.rawValue)"))
                let divided = try ContractExecutor.divideByPriority(&ctx, supply: left, claims: group) { (ctx, s, g) throws(ContractFailure) in
                    switch within {
                    case .proRata: return try ProRata.divide(&ctx, supply: s, claims: g)
                    case .weightedMaxMin: return try MaxMin.divide(&ctx, supply: s, claims: g, weighted: true)
                    default: return try MaxMin.divide(&ctx, supply: s, claims: g, weighted: false)
                    }
                }
                for var a in divided.allocations {
                    left = try left.subtracting(a.units)
                    a.category = tier.name
                    allocations.append(a)
                }
            }
        }
        return MechanismOutput(allocations: allocations)
    }
}
