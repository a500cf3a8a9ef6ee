/// What a mechanism that does more than divide (reserve, tiers, auctions, prices) returns: every allocation it
/// made and the clearing price, if any.
public struct MechanismOutput: Sendable, Hashable {
    public var allocations: [Allocation]
    public var price: Rational?

    public init(allocations: [Allocation], price: Rational? = nil) {
        self.allocations = allocations
        self.price = price
    }
}

/// Runs one epoch of a contract: deterministic (integers and exact rationals, ties by claimant id, randomness only
/// from the seed), metered, and checked against the allocation invariants before its result is returned.
public enum ContractExecutor {
    /// Executes epoch `epoch` of `contract` over `claims` with `supply` units. Never throws: a failure (out of gas,
    /// an overflow, an expression error, a claim the mechanism cannot take) is the result's `failure`, with nothing
    /// allocated. The double auction and tâtonnement trade what their sellers offer: their supply is the sum of the
    /// sell claims' units, and `supply` (the pool's) is not used.
    public static func execute(_ contract: CompiledContract, epoch: UInt64, supply pool: Rational, claims: [Claim], seed: [UInt8]) -> EpochResult {
        let d = contract.definition
        let supply = Self.supply(of: d.mechanism.type, pool: pool, claims: claims)
        var ctx = ExecutionContext(contract: contract, epoch: epoch, seed: seed, meter: Meter(budget: d.budget))
        let sorted = claims.sorted { inOrder(($0.claimant, $0.side), ($1.claimant, $1.side)) }
        do throws(ContractFailure) {
            let output = try run(&ctx, supply: supply, claims: sorted)
            let allocations = output.allocations.sorted { inOrder(($0.claimant, $0.side), ($1.claimant, $1.side)) }
            let allocated = try Rational.sum(allocations.filter { $0.side != .sell }.map(\.units))
            let free = try supply.subtracting(allocated)
            let result = EpochResult(contract: d.id, version: d.version, epoch: epoch, mechanism: d.mechanism.type, supply: supply,
                                     allocations: allocations, free: free, price: output.price, steps: ctx.steps, gasUsed: ctx.meter.used, failure: nil)
            checkInvariants(result, claims: sorted, divisible: d.pool.divisible)
            return result
        } catch {
            let zero = sorted.map { Allocation(claimant: $0.claimant, units: .zero, side: $0.side) }
            return EpochResult(contract: d.id, version: d.version, epoch: epoch, mechanism: d.mechanism.type, supply: supply,
                               allocations: zero, free: supply, price: nil,
                               steps: ctx.steps + [Step("failure", note: "the execution failed and allocated nothing: \(error)")],
                               gasUsed: ctx.meter.used, failure: error)
        }
    }

    /// The supply an execution divides: the pool's, except for the market mechanisms (double auction, tâtonnement),
    /// where it is what the sellers offer. Should that sum overflow, the pool's, and the mechanism's own sum fails.
    static func supply(of kind: MechanismSpec.Kind, pool: Rational, claims: [Claim]) -> Rational {
        guard kind == .doubleAuction || kind == .tatonnement else { return pool }
        return (try? Rational.sum(claims.filter { $0.side == .sell && !$0.units.isNegative }.map(\.units))) ?? pool
    }

    /// The order of claims and allocations in a result: by claimant id, then side (none, buy, sell).
    static func inOrder(_ a: (claimant: String, side: Claim.Side?), _ b: (claimant: String, side: Claim.Side?)) -> Bool {
        a.claimant == b.claimant ? (a.side?.rawValue ?? "") < (b.side?.rawValue ?? "") : idPrecedes(a.claimant, b.claimant)
    }

    /// The allocation invariants, asserted in production on every execution (a validator that broke one must stop
    /// rather than commit a state the others would not): allocated + free = supply with free ≥ 0, nobody above its
    /// demand or below zero, whole units for an indivisible pool, one allocation per claim.
    static func checkInvariants(_ r: EpochResult, claims: [Claim], divisible: Bool) {
        precondition(!r.free.isNegative, "\(r.contract) epoch \(r.epoch): allocated \(r.allocated) of a supply of \(r.supply)")
        precondition((try? r.allocated.adding(r.free)) == r.supply, "\(r.contract) epoch \(r.epoch): allocated + free ≠ supply")
        precondition(r.allocations.count == claims.count, "\(r.contract) epoch \(r.epoch): \(r.allocations.count) allocations for \(claims.count) claims")
        for (a, c) in zip(r.allocations, claims) {
            precondition(a.claimant == c.claimant && a.side == c.side, "\(r.contract) epoch \(r.epoch): allocations and claims out of step at '\(c.claimant)'")
            precondition(!a.units.isNegative && !(c.units < a.units), "\(r.contract) epoch \(r.epoch): '\(a.claimant)' got \(a.units) of a demand of \(c.units)")
            precondition(divisible || a.units.isInteger, "\(r.contract) epoch \(r.epoch): '\(a.claimant)' got \(a.units), not whole units")
        }
    }

    static func run(_ ctx: inout ExecutionContext, supply: Rational, claims: [Claim]) throws(ContractFailure) -> MechanismOutput {
        guard !supply.isNegative else { throw ContractFailure(.invalidClaim, "the supply \(supply) is below zero") }
        guard ctx.divisible || supply.isInteger else { throw ContractFailure(.invalidClaim, "the supply \(supply) is not whole units") }
        var seen: Set<String> = []
        for c in claims {
            guard seen.insert(c.claimant + "\u{0}" + (c.side?.rawValue ?? "")).inserted else {
                throw ContractFailure(.invalidClaim, "'\(c.claimant)' has two claims")
            }
            guard !c.units.isNegative else { throw ContractFailure(.invalidClaim, "'\(c.claimant)' claims \(c.units) units") }
            guard ctx.divisible || c.units.isInteger else { throw ContractFailure(.invalidClaim, "'\(c.claimant)' claims \(c.units) units of an indivisible pool") }
        }
        try ctx.charge(claims.count, "reading the claims")
        let prepared = try prepare(&ctx, supply: supply, claims: claims)
        let kind = ctx.spec.type
        switch kind {
        case .proRata, .maxMin, .weightedMaxMin, .proportional, .cea, .cel, .talmud, .lottery:
            return try divideByPriority(&ctx, supply: supply, claims: prepared) { (ctx, s, group) throws(ContractFailure) in
                switch kind {
                case .proRata: return try ProRata.divide(&ctx, supply: s, claims: group)
                case .maxMin: return try MaxMin.divide(&ctx, supply: s, claims: group, weighted: false)
                case .weightedMaxMin: return try MaxMin.divide(&ctx, supply: s, claims: group, weighted: true)
                case .lottery: return try Lottery.divide(&ctx, supply: s, claims: group)
                default: return try ClaimsRules.divide(&ctx, supply: s, claims: group, rule: kind)
                }
            }
        case .reserve: return try Reserve.allocate(&ctx, supply: supply, claims: prepared)
        case .priorityTiers: return try PriorityTiers.allocate(&ctx, supply: supply, claims: prepared)
        case .doubleAuction: return try DoubleAuction.allocate(&ctx, supply: supply, claims: prepared)
        case .tatonnement: return try Tatonnement.allocate(&ctx, supply: supply, claims: prepared)
        }
    }

    /// Weights and priorities from the contract's expressions.
    static func prepare(_ ctx: inout ExecutionContext, supply: Rational, claims: [Claim]) throws(ContractFailure) -> [PreparedClaim] {
        var out: [PreparedClaim] = []
        out.reserveCapacity(claims.count)
        for c in claims {
            var weight = c.weight ?? .one
            if let e = ctx.contract.weight { weight = try ctx.number(e, for: c, supply: supply) }
            guard !weight.isNegative else { throw ContractFailure(.invalidClaim, "'\(c.claimant)' has weight \(weight), below zero") }
            var priority: Rational?
            if let e = ctx.contract.priority { priority = try ctx.number(e, for: c, supply: supply) }
            out.append(PreparedClaim(claim: c, weight: weight, priority: priority))
        }
        return out
    }

    /// Serves priority groups in decreasing priority, each dividing what the groups before it left; without a
    /// priority expression, one group of every claim.
    static func divideByPriority(_ ctx: inout ExecutionContext, supply: Rational, claims: [PreparedClaim],
                                 _ divide: (inout ExecutionContext, Rational, [PreparedClaim]) throws(ContractFailure) -> [Rational]) throws(ContractFailure) -> MechanismOutput {
        var awards: [String: Rational] = [:]
        var left = supply
        if ctx.contract.priority == nil {
            let shares = try divide(&ctx, supply, claims)
            for (c, s) in zip(claims, shares) { awards[c.id] = s }
        } else {
            // Distinct priorities, highest first; within a group, claims stay in id order.
            var levels: [Rational] = []
            for c in claims { if let p = c.priority, !levels.contains(p) { levels.append(p) } }
            levels.sort(by: >)
            try ctx.charge(levels.count * claims.count, "grouping claims by priority")
            for level in levels {
                let group = claims.filter { $0.priority == level }
                try ctx.record(Step("group", amounts: [level, left],
                                    note: "priority \(level.displayText): \(group.map(\.id).joined(separator: ", ")) share the \(left.displayText) units left"))
                let shares = try divide(&ctx, left, group)
                for (c, s) in zip(group, shares) {
                    awards[c.id] = s
                    left = try left.subtracting(s)
                }
            }
        }
        return MechanismOutput(allocations: claims.map { Allocation(claimant: $0.id, units: awards[$0.id] ?? .zero) })
    }
}
