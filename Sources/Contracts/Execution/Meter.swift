/// The gas of one execution: a budget of abstract cost units charged by the expression evaluator (one per node
/// evaluated, plus the size of what it builds) and by every mechanism (one per claimant visited in each pass, per
/// draw, per round). Running out throws `outOfGas`, which the executor records in the epoch's result: a bounded,
/// deterministic failure, never a hang.
public struct Meter: Sendable, Hashable {
    public let budget: UInt64
    public private(set) var used: UInt64 = 0

    public init(budget: UInt64) { self.budget = budget }

    public var remaining: UInt64 { budget - used }

    public mutating func charge(_ units: UInt64 = 1, _ what: @autoclosure () -> String = "execution") throws(ContractFailure) {
        guard units <= budget - used else {
            used = budget
            throw ContractFailure(.outOfGas, "\(what()) ran out of gas: the budget is \(budget) units")
        }
        used += units
    }

    public mutating func charge(_ units: Int, _ what: @autoclosure () -> String = "execution") throws(ContractFailure) {
        try charge(UInt64(Swift.max(0, units)), what())
    }
}
