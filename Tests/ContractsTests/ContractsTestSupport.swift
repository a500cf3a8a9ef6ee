import Contracts

/// SplitMix64 (Steele, Lea, Flood 2014): a seeded generator for property tests' inputs, so that a failing case is
/// the same on every run and every machine, and its seed names it.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform integer in `range`.
    mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &self) }

    /// A rational p/q with p in `numerators` and q in `denominators`.
    mutating func rational(_ numerators: ClosedRange<Int>, over denominators: ClosedRange<Int> = 1...1) throws -> Rational {
        try Rational(Int128(int(numerators)), Int128(int(denominators)))
    }
}

/// Contracts and executions for tests: a contract around a given mechanism, with the fields a test does not care
/// about filled in.
enum ContractFixture {
    static func contract(_ mechanism: MechanismSpec, units: Rational = Rational(10), divisible: Bool, priority: String? = nil,
                         weight: String? = nil, gas: UInt64? = nil) throws -> CompiledContract {
        try CompiledContract(ContractDefinition(id: "test-\(mechanism.type.rawValue)", pool: Pool(resource: "unit", units: units, divisible: divisible, owners: ["owner"]),
                                                epochs: EpochSchedule(start: 1, length: 10), mechanism: mechanism, priority: priority,
                                                weight: weight, gas: gas))
    }

    static func contract(_ kind: MechanismSpec.Kind, units: Rational = Rational(10), divisible: Bool, priority: String? = nil,
                         weight: String? = nil, gas: UInt64? = nil) throws -> CompiledContract {
        try contract(MechanismSpec(type: kind), units: units, divisible: divisible, priority: priority, weight: weight, gas: gas)
    }

    /// Epoch 0 of `contract` with an empty seed.
    static func execute(_ contract: CompiledContract, supply: Rational, claims: [Claim]) -> EpochResult {
        ContractExecutor.execute(contract, epoch: 0, supply: supply, claims: claims, seed: [])
    }

    /// Claims named a, b, c, … (in id order) demanding `units`.
    static func claims(_ units: [Rational]) -> [Claim] {
        units.enumerated().map { Claim(claimant: name($0.offset), units: $0.element) }
    }

    /// "a" … "z", then "zaa", "zab", …: names whose byte order is their index order (for the first 702), so that
    /// generated claims arrive at a mechanism in the order they were made.
    static func name(_ i: Int) -> String {
        let letters = Array("abcdefghijklmnopqrstuvwxyz")
        return i < 26 ? String(letters[i]) : "z" + String(letters[(i - 26) / 26 % 26]) + String(letters[(i - 26) % 26])
    }
}

/// An exact number from its text ("13/5", "2.6", "7") in a test; a bad literal throws and fails the test.
func exact(_ text: String) throws -> Rational { try Rational(parsing: text) }

/// Exact numbers from their texts.
func exact(_ texts: [String]) throws -> [Rational] { try texts.map { try Rational(parsing: $0) } }
