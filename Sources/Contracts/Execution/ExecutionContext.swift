/// A claim ready for a mechanism: the claim, its weight (from the contract's weight expression, else the claim's
/// `weight`, else 1) and its priority (from the priority expression; nil without one).
public struct PreparedClaim: Sendable, Hashable {
    public var claim: Claim
    public var weight: Rational
    public var priority: Rational?

    public var id: String { claim.claimant }
    public var demand: Rational { claim.units }
}

/// What a mechanism works with while it runs: the contract, the epoch, the seed, the meter every step charges, and
/// the explanation it writes.
public struct ExecutionContext: Sendable {
    public let contract: CompiledContract
    public let epoch: UInt64
    /// The epoch's randomness: H(block hash ‖ contract ‖ epoch), computed by the ledger.
    public let seed: [UInt8]
    /// How many random candidates the epoch has taken from the seed (the lottery's hash counter): kept here so that
    /// the lottery of one priority group never reuses a candidate of the group before it.
    public var candidatesTaken: UInt64 = 0
    public var meter: Meter
    public private(set) var steps: [Step] = []

    /// The most steps one explanation may hold: below the ledger encoding's 65,536 items a list may have, so a result
    /// always fits the state.
    public static let maxSteps = 60_000

    public init(contract: CompiledContract, epoch: UInt64, seed: [UInt8], meter: Meter) {
        self.contract = contract
        self.epoch = epoch
        self.seed = seed
        self.meter = meter
    }

    public var definition: ContractDefinition { contract.definition }
    public var divisible: Bool { contract.definition.pool.divisible }
    public var spec: MechanismSpec { contract.definition.mechanism }

    /// Appends a step to the explanation; each costs one unit of gas.
    public mutating func record(_ step: Step) throws(ContractFailure) {
        try meter.charge(1, "the explanation")
        guard steps.count < ExecutionContext.maxSteps else { throw ContractFailure(.outOfGas, "the explanation passed \(ExecutionContext.maxSteps) steps") }
        steps.append(step)
    }

    /// Whether `supply` covers every demand (`total` of them), recording the "cap" step that says so: the first
    /// question of every division. `supplyWord` and `demandWord` name them as the mechanism does ("estate",
    /// "claim" for the claims rules).
    public mutating func coversEveryDemand(supply: Rational, total: Rational, supplyWord: String = "supply",
                                           demandWord: String = "demand") throws(ContractFailure) -> Bool {
        guard !(supply < total) else { return false }
        try record(Step("cap", amounts: [supply, total],
                        note: "the \(supplyWord) \(supply.displayText) covers every \(demandWord) (\(total.displayText)): each claimant gets its \(demandWord)"))
        return true
    }

    /// Charges gas for `units` of mechanism work (a pass over claimants, a round, a draw).
    public mutating func charge(_ units: Int, _ what: String) throws(ContractFailure) {
        try meter.charge(units, what)
    }

    /// Evaluates `expression` for `claim` with the epoch's bindings plus `extra` (e.g. `price` in tâtonnement).
    public mutating func evaluate(_ expression: Expression, for claim: Claim, supply: Rational, extra: [String: Value] = [:]) throws(ContractFailure) -> Value {
        // Only the variables the expression reads, by slot: no dictionary of every binding per claim.
        var slots: [Value?] = []
        slots.reserveCapacity(expression.variables.count)
        for name in expression.variables { slots.append(extra[name] ?? claim.binding(name, supply: supply, epoch: epoch)) }
        do {
            return try expression.evaluate(slots: slots, meter: &meter)
        } catch {
            throw error.code == .outOfGas ? error : error.prefixed("'\(expression.source)' for claim of '\(claim.claimant)'")
        }
    }

    /// Evaluates to a number, or fails saying what it got instead.
    public mutating func number(_ expression: Expression, for claim: Claim, supply: Rational, extra: [String: Value] = [:]) throws(ContractFailure) -> Rational {
        let v = try evaluate(expression, for: claim, supply: supply, extra: extra)
        guard let n = v.number else {
            throw ContractFailure(.evaluation, "'\(expression.source)' for claim of '\(claim.claimant)' gave a \(v.typeName), not a number")
        }
        return n
    }

    /// Evaluates to a boolean, or fails saying what it got instead.
    public mutating func condition(_ expression: Expression, for claim: Claim, supply: Rational) throws(ContractFailure) -> Bool {
        let v = try evaluate(expression, for: claim, supply: supply)
        guard case .bool(let b) = v else {
            throw ContractFailure(.evaluation, "'\(expression.source)' for claim of '\(claim.claimant)' gave a \(v.typeName), not a bool")
        }
        return b
    }
}

/// Claimant ids compare by the bytes of their UTF-8, the same on every platform and locale.
public func idPrecedes(_ a: String, _ b: String) -> Bool {
    // Native strings are contiguous UTF-8: compare the bytes directly (the generic sequence comparison was a fifth of
    // a 1,000-claimant epoch). Bridged or other strings take the generic path, with the same order.
    var a = a, b = b
    let fast = a.withUTF8 { x in
        b.withUTF8 { y -> Bool in
            let n = min(x.count, y.count)
            for i in 0..<n where x[i] != y[i] { return x[i] < y[i] }
            return x.count < y.count
        }
    }
    return fast
}
