/// What one claimant got in an epoch. For a seller in an auction, `units` are the units it sold.
public struct Allocation: Sendable, Hashable, Codable {
    public var claimant: String
    public var units: Rational
    public var side: Claim.Side?
    /// The price per unit it pays (a buyer) or receives (a seller), where the mechanism sets one.
    public var price: Rational?
    /// The reserve category or priority tier the units came through, where the mechanism has them.
    public var category: String?

    public init(claimant: String, units: Rational, side: Claim.Side? = nil, price: Rational? = nil, category: String? = nil) {
        self.claimant = claimant
        self.units = units
        self.side = side
        self.price = price
        self.category = category
    }
}

/// One step of an execution's explanation: what was done (`kind`: "order", "group", "floor", "remainder",
/// "level", "cap", "round", "draw", "category", "tier", "trade", "price", "exclude", …), to whom, with what
/// amounts, and a sentence that says it for people. The steps in order are how the result came about.
public struct Step: Sendable, Hashable, Codable {
    public var kind: String
    public var claimant: String?
    public var amounts: [Rational]
    public var note: String

    public init(_ kind: String, claimant: String? = nil, amounts: [Rational] = [], note: String) {
        self.kind = kind
        self.claimant = claimant
        self.amounts = amounts
        self.note = note
    }
}

/// An epoch's result: every claimant's allocation (sorted by claimant id, zero awards included), what is left
/// free, the clearing price where there is one, the explanation, and the gas used. A failed execution
/// (`failure` set: out of gas, an overflow, an expression error) allocates nothing and says why.
public struct EpochResult: Sendable, Hashable, Codable {
    public var contract: String
    public var version: UInt32
    public var epoch: UInt64
    public var mechanism: MechanismSpec.Kind
    public var supply: Rational
    public var allocations: [Allocation]
    public var free: Rational
    public var price: Rational?
    public var steps: [Step]
    public var gasUsed: UInt64
    public var failure: ContractFailure?

    public init(contract: String, version: UInt32, epoch: UInt64, mechanism: MechanismSpec.Kind, supply: Rational, allocations: [Allocation],
                free: Rational, price: Rational?, steps: [Step], gasUsed: UInt64, failure: ContractFailure?) {
        self.contract = contract
        self.version = version
        self.epoch = epoch
        self.mechanism = mechanism
        self.supply = supply
        self.allocations = allocations
        self.free = free
        self.price = price
        self.steps = steps
        self.gasUsed = gasUsed
        self.failure = failure
    }

    /// The units allocated to buyers (all claimants, for mechanisms without sides).
    public var allocated: Rational {
        (try? Rational.sum(allocations.filter { $0.side != .sell }.map(\.units))) ?? .zero
    }

    /// The claimant's allocations (several for a claimant on both sides of an auction).
    public func allocations(of claimant: String) -> [Allocation] { allocations.filter { $0.claimant == claimant } }

    /// The steps that name `claimant`, and those that name nobody (orders, levels, prices), in order.
    public func steps(for claimant: String) -> [Step] { steps.filter { $0.claimant == nil || $0.claimant == claimant } }
}

extension ContractFailure: Codable {
    enum CodingKeys: String, CodingKey { case code, message }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(try c.decode(Code.self, forKey: .code), try c.decode(String.self, forKey: .message))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(code, forKey: .code)
        try c.encode(message, forKey: .message)
    }
}
