/// An allocation contract as deployed: the pool it divides, its epochs, who may claim, the mechanism and its
/// parameters, and the expressions that give priorities and weights. Written as YAML or JSON by a policy
/// committee (`Samples/contracts/`), deployed by a signed transaction and versioned: version n+1 applies from the
/// first epoch executed after it takes effect, never to one already executed.
public struct ContractDefinition: Sendable, Hashable, Codable {
    /// The contract's id on the ledger: lowercase letters, digits and '-', 1–64 characters.
    public var id: String
    public var version: UInt32
    /// The policy the contract models, for people.
    public var description: String?
    public var pool: Pool
    public var epochs: EpochSchedule
    /// The participants (by name) that may claim; empty: every participant.
    public var claimants: [String]
    public var mechanism: MechanismSpec
    /// An expression giving each claim's priority (a number; higher is served first). Claims of equal priority
    /// form a group that the mechanism divides what is left among; without one, all claims form one group.
    public var priority: String?
    /// An expression giving each claim's weight (weighted max-min, lottery); default: the claim's `weight`, else 1.
    public var weight: String?
    /// The gas one epoch's execution may use (``Meter``); default ``ContractDefinition/defaultGas``.
    public var gas: UInt64?

    public static let defaultGas: UInt64 = 5_000_000
    public static let maxGas: UInt64 = 50_000_000

    public init(id: String, version: UInt32 = 1, description: String? = nil, pool: Pool, epochs: EpochSchedule, claimants: [String] = [],
                mechanism: MechanismSpec, priority: String? = nil, weight: String? = nil, gas: UInt64? = nil) {
        self.id = id
        self.version = version
        self.description = description
        self.pool = pool
        self.epochs = epochs
        self.claimants = claimants
        self.mechanism = mechanism
        self.priority = priority
        self.weight = weight
        self.gas = gas
    }

    enum CodingKeys: String, CodingKey {
        case id, version, description, pool, epochs, claimants, mechanism, priority, weight, gas
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        version = try c.decodeIfPresent(UInt32.self, forKey: .version) ?? 1
        description = try c.decodeIfPresent(String.self, forKey: .description)
        pool = try c.decode(Pool.self, forKey: .pool)
        epochs = try c.decode(EpochSchedule.self, forKey: .epochs)
        claimants = try c.decodeIfPresent([String].self, forKey: .claimants) ?? []
        mechanism = try c.decode(MechanismSpec.self, forKey: .mechanism)
        priority = try c.decodeIfPresent(String.self, forKey: .priority)
        weight = try c.decodeIfPresent(String.self, forKey: .weight)
        gas = try c.decodeIfPresent(UInt64.self, forKey: .gas)
    }

    public var budget: UInt64 { gas ?? ContractDefinition.defaultGas }
}

/// What a contract divides.
public struct Pool: Sendable, Hashable, Codable {
    /// What the units are ("ventilator", "ICU bed-day", "USD").
    public var resource: String
    /// The supply at deploy; owners change it with supply updates.
    public var units: Rational
    /// Whether a unit may be split (funds, staff hours) or not (ventilators, beds, doses: integer allocations).
    public var divisible: Bool
    /// The participants (by name) whose supply updates the contract accepts.
    public var owners: [String]

    public init(resource: String, units: Rational, divisible: Bool, owners: [String]) {
        self.resource = resource
        self.units = units
        self.divisible = divisible
        self.owners = owners
    }
}

/// Epochs by block height: epoch n covers heights `start + n·length` … `start + (n+1)·length − 1` and is executed
/// when the last of them is finalized, over the claims and supply in force then.
public struct EpochSchedule: Sendable, Hashable, Codable {
    public var start: UInt64
    public var length: UInt64

    public init(start: UInt64, length: UInt64) {
        self.start = start
        self.length = length
    }

    /// The epoch that ends at `height`, if one does.
    public func epoch(endingAt height: UInt64) -> UInt64? {
        guard length > 0, height >= start, (height - start + 1) % length == 0 else { return nil }
        return (height - start + 1) / length - 1
    }

    /// The epoch `height` falls in, if it is at or after `start`.
    public func epoch(containing height: UInt64) -> UInt64? {
        guard length > 0, height >= start else { return nil }
        return (height - start) / length
    }

    /// The last height of epoch `n`.
    public func lastHeight(of n: UInt64) -> UInt64 {
        let (product, o1) = (n + 1).multipliedReportingOverflow(by: length)
        let (sum, o2) = start.addingReportingOverflow(product)
        return o1 || o2 ? UInt64.max : sum - 1
    }
}
