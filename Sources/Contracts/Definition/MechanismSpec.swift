/// The mechanism a contract runs and its parameters: `type` names it, and only the fields that mechanism reads may
/// be set (``ContractDefinition/problems()`` says which are missing or stray).
public struct MechanismSpec: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Hashable, Codable, CaseIterable {
        /// Pro-rata to demand, integer units by largest remainder.
        case proRata = "pro-rata"
        /// Max-min fair (water-filling).
        case maxMin = "max-min"
        /// Max-min fair with weights: each claimant's share of the water level is proportional to its weight.
        case weightedMaxMin = "weighted-max-min"
        /// Claims rules for an estate short of its claims (Aumann & Maschler 1985; Thomson 2003).
        case proportional
        case cea
        case cel
        case talmud
        /// Reserve categories with capacities, own priorities and a processing order (Pathak et al. 2024).
        case reserve
        /// Weighted lottery without replacement, seeded by H(block hash ‖ contract ‖ epoch).
        case lottery
        /// Priority tiers (crisis triage): tiers in order, a claim in the first tier whose condition holds.
        case priorityTiers = "priority-tiers"
        /// McAfee's (1992) trade-reduction double auction.
        case doubleAuction = "double-auction"
        /// Tâtonnement: the price moves with excess demand until it settles or the iteration cap.
        case tatonnement
    }

    public var type: Kind

    // reserve
    public var categories: [ReserveCategory]?
    /// Category names in processing order (reserve).
    public var order: [String]?

    // priority-tiers
    public var tiers: [Tier]?
    /// How a tier that cannot be served whole is divided (priority-tiers): `max-min` (default) or `pro-rata`.
    public var within: Kind?

    // tatonnement
    public var initialPrice: Rational?
    /// λ in p ← p + λ·(D(p) − S(p)).
    public var step: Rational?
    public var maxIterations: UInt32?
    /// Stop when |D(p) − S(p)| ≤ tolerance.
    public var tolerance: Rational?
    /// Prices are rounded down to a multiple of this after each step (default 1/1000000), so numbers stay small.
    public var tick: Rational?
    /// A buyer claim's demand at price `price` (expression; default `units`).
    public var demand: String?
    /// A seller claim's supply at price `price` (expression; default `units`).
    public var supply: String?

    public init(type: Kind, categories: [ReserveCategory]? = nil, order: [String]? = nil, tiers: [Tier]? = nil, within: Kind? = nil,
                initialPrice: Rational? = nil, step: Rational? = nil, maxIterations: UInt32? = nil, tolerance: Rational? = nil,
                tick: Rational? = nil, demand: String? = nil, supply: String? = nil) {
        self.type = type
        self.categories = categories
        self.order = order
        self.tiers = tiers
        self.within = within
        self.initialPrice = initialPrice
        self.step = step
        self.maxIterations = maxIterations
        self.tolerance = tolerance
        self.tick = tick
        self.demand = demand
        self.supply = supply
    }

    public static let defaultTick = Rational(reduced: 1, 1_000_000)
    public static let maxTatonnementIterations: UInt32 = 10_000
}

/// A reserve category: how many units it holds, who is eligible (an expression; default: everyone) and in what
/// order it serves them (an expression giving a priority, higher first; default: the contract's priority).
public struct ReserveCategory: Sendable, Hashable, Codable {
    public var name: String
    public var capacity: Rational
    public var eligible: String?
    public var priority: String?

    public init(name: String, capacity: Rational, eligible: String? = nil, priority: String? = nil) {
        self.name = name
        self.capacity = capacity
        self.eligible = eligible
        self.priority = priority
    }
}

/// A priority tier: its name, the condition that puts a claim in it (an expression) and whether it is served at all
/// (triage's blue tier is not).
public struct Tier: Sendable, Hashable, Codable {
    public var name: String
    public var when: String
    public var excluded: Bool?

    public init(name: String, when: String, excluded: Bool? = nil) {
        self.name = name
        self.when = when
        self.excluded = excluded
    }
}
