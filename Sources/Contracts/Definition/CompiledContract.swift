/// A definition checked and its expressions compiled: what deploy validates and what every execution runs.
public struct CompiledContract: Sendable, Hashable {
    public let definition: ContractDefinition
    public let priority: Expression?
    public let weight: Expression?
    /// Per reserve category, in the definition's order: eligibility and priority.
    public let categoryEligible: [Expression?]
    public let categoryPriority: [Expression?]
    /// Per tier, in order.
    public let tierConditions: [Expression]
    public let demand: Expression?
    public let supply: Expression?

    public static let maxIdLength = 64
    public static let maxClaimants = 10_000
    public static let maxCategories = 64
    public static let maxTiers = 64

    /// Checks `definition` and compiles its expressions; the first problem found is thrown, naming the field.
    public init(_ definition: ContractDefinition) throws(ContractFailure) {
        self.definition = definition
        let d = definition
        func bad(_ message: String) -> ContractFailure { ContractFailure(.invalidDefinition, message) }
        func compile(_ source: String?, _ field: String) throws(ContractFailure) -> Expression? {
            guard let source else { return nil }
            do { return try Expression(source) } catch { throw error.prefixed(field) }
        }

        guard !d.id.isEmpty, d.id.utf8.count <= CompiledContract.maxIdLength,
              d.id.utf8.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D }) else {
            throw bad("id: 1–\(CompiledContract.maxIdLength) characters of a–z, 0–9 and '-', not '\(d.id)'")
        }
        guard d.version >= 1 else { throw bad("version: starts at 1") }
        guard !d.pool.resource.isEmpty else { throw bad("pool.resource: name what the units are") }
        guard !d.pool.units.isNegative else { throw bad("pool.units: \(d.pool.units) is below zero") }
        guard d.pool.divisible || d.pool.units.isInteger else { throw bad("pool.units: \(d.pool.units) is not a whole number, and the pool is not divisible") }
        guard !d.pool.owners.isEmpty else { throw bad("pool.owners: name at least one participant whose supply updates count") }
        guard d.epochs.length >= 1 else { throw bad("epochs.length: at least one block") }
        guard d.claimants.count <= CompiledContract.maxClaimants else { throw bad("claimants: at most \(CompiledContract.maxClaimants)") }
        guard Set(d.claimants).count == d.claimants.count else { throw bad("claimants: a participant is named twice") }
        guard d.budget >= 1, d.budget <= ContractDefinition.maxGas else { throw bad("gas: 1 to \(ContractDefinition.maxGas)") }

        priority = try compile(d.priority, "priority")
        weight = try compile(d.weight, "weight")
        let m = d.mechanism
        // Only the fields the mechanism reads may be set, so that a typo'd or misplaced parameter is not ignored.
        var allowed: Set<String> = []
        switch m.type {
        case .reserve: allowed = ["categories", "order"]
        case .priorityTiers: allowed = ["tiers", "within"]
        case .tatonnement: allowed = ["initialPrice", "step", "maxIterations", "tolerance", "tick", "demand", "supply"]
        default: break
        }
        let present: [(String, Bool)] = [
            ("categories", m.categories != nil), ("order", m.order != nil), ("tiers", m.tiers != nil), ("within", m.within != nil),
            ("initialPrice", m.initialPrice != nil), ("step", m.step != nil), ("maxIterations", m.maxIterations != nil),
            ("tolerance", m.tolerance != nil), ("tick", m.tick != nil), ("demand", m.demand != nil), ("supply", m.supply != nil),
        ]
        for (field, isSet) in present where isSet && !allowed.contains(field) {
            throw bad("mechanism.\(field): \(m.type.rawValue) has no such parameter")
        }

        var eligible: [Expression?] = [], categoryPriority: [Expression?] = [], tiers: [Expression] = []
        switch m.type {
        case .reserve:
            guard let categories = m.categories, !categories.isEmpty, categories.count <= CompiledContract.maxCategories else {
                throw bad("mechanism.categories: a reserve system needs 1–\(CompiledContract.maxCategories) categories")
            }
            let names = categories.map(\.name)
            guard Set(names).count == names.count, !names.contains("") else { throw bad("mechanism.categories: names are unique and not empty") }
            for (i, c) in categories.enumerated() {
                guard !c.capacity.isNegative else { throw bad("mechanism.categories[\(i)].capacity: \(c.capacity) is below zero") }
                guard d.pool.divisible || c.capacity.isInteger else { throw bad("mechanism.categories[\(i)].capacity: a whole number for an indivisible pool") }
                eligible.append(try compile(c.eligible, "mechanism.categories[\(i)].eligible"))
                categoryPriority.append(try compile(c.priority, "mechanism.categories[\(i)].priority"))
            }
            if let order = m.order {
                guard order.sorted() == names.sorted() else { throw bad("mechanism.order: names each category once (\(names.joined(separator: ", ")))") }
            }
        case .priorityTiers:
            guard let list = m.tiers, !list.isEmpty, list.count <= CompiledContract.maxTiers else {
                throw bad("mechanism.tiers: 1–\(CompiledContract.maxTiers) tiers")
            }
            for (i, t) in list.enumerated() {
                guard let e = try compile(t.when, "mechanism.tiers[\(i)].when") else { continue }
                tiers.append(e)
            }
            if let within = m.within, ![.maxMin, .proRata, .weightedMaxMin].contains(within) {
                throw bad("mechanism.within: max-min, weighted-max-min or pro-rata, not \(within.rawValue)")
            }
        case .tatonnement:
            guard let p0 = m.initialPrice, !p0.isNegative else { throw bad("mechanism.initialPrice: a price ≥ 0") }
            guard let lambda = m.step, lambda > .zero else { throw bad("mechanism.step: λ > 0") }
            guard let cap = m.maxIterations, cap >= 1, cap <= MechanismSpec.maxTatonnementIterations else {
                throw bad("mechanism.maxIterations: 1 to \(MechanismSpec.maxTatonnementIterations)")
            }
            guard let tolerance = m.tolerance, !tolerance.isNegative else { throw bad("mechanism.tolerance: ≥ 0") }
            if let tick = m.tick { guard tick > .zero else { throw bad("mechanism.tick: > 0") } }
            _ = (p0, lambda, cap, tolerance)
        default:
            break
        }
        categoryEligible = eligible
        self.categoryPriority = categoryPriority
        tierConditions = tiers
        demand = try compile(m.demand, "mechanism.demand")
        supply = try compile(m.supply, "mechanism.supply")
    }
}
