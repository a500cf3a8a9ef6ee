public import Ledger

/// CometBFT's weighted round-robin proposer selection (spec/consensus/proposer-selection.md), in integers.
///
/// Each validator has a priority. One step: if the priorities spread by more than 2P (P = total power) they are
/// scaled down; they are centred on their mean; each grows by its voting power; the highest (ties: the smaller
/// key) proposes and loses P. Over P steps a validator proposes as many times as it has power.
///
/// The schedule of height H+1 is that of height H after one step; round r of a height takes r + 1 steps from it.
/// Every validator derives the same schedule from the chain's history.
public struct ProposerSchedule: Sendable, Hashable {
    public private(set) var validators: [Validator]
    public private(set) var priorities: [Int64]

    public init(_ set: ValidatorSet) {
        validators = set.validators
        priorities = Array(repeating: 0, count: set.validators.count)
    }

    var totalPower: Int64 { validators.reduce(0) { $0 + Int64(clamping: $1.power) } }

    /// One step; returns the proposer it chose.
    @discardableResult
    public mutating func step() -> PublicKey? {
        guard !validators.isEmpty else { return nil }
        let total = max(1, totalPower)
        // Scale down a spread wider than 2P.
        if let hi = priorities.max(), let lo = priorities.min() {
            let spread = hi - lo
            let limit = 2 * total
            if spread > limit {
                let divisor = (spread + limit - 1) / limit
                priorities = priorities.map { Self.floorDivide($0, divisor) }
            }
        }
        // Centre on the mean.
        let mean = Self.floorDivide(priorities.reduce(0, +), Int64(priorities.count))
        for i in priorities.indices {
            priorities[i] = priorities[i] - mean + Int64(clamping: validators[i].power)
        }
        var best = 0
        for i in priorities.indices.dropFirst() where priorities[i] > priorities[best] || (priorities[i] == priorities[best] && validators[i].key < validators[best].key) {
            best = i
        }
        priorities[best] -= total
        return validators[best].key
    }

    /// The proposer of `round` at the height this schedule is for.
    public func proposer(round: UInt32) -> PublicKey? {
        var copy = self
        var chosen: PublicKey?
        for _ in 0...Int(min(round, 10_000)) { chosen = copy.step() }
        return chosen
    }

    /// The schedule of the next height under `next`: one step further, validators that stay keep their priority,
    /// new ones start at −1.125·P (so a validator cannot bond its way to the front).
    public func advanced(to next: ValidatorSet) -> ProposerSchedule {
        var stepped = self
        stepped.step()
        var result = ProposerSchedule(next)
        let total = max(1, result.totalPower)
        for (i, v) in result.validators.enumerated() {
            if let old = stepped.validators.firstIndex(where: { $0.key == v.key }) {
                result.priorities[i] = stepped.priorities[old]
            } else {
                result.priorities[i] = -(total + total / 8)
            }
        }
        return result
    }

    static func floorDivide(_ a: Int64, _ b: Int64) -> Int64 {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }
}
