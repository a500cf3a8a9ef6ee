public import Contracts
import Crypto
import Foundation

/// One epoch of a contract run off the chain, over a claims file: what a policy committee tries before it deploys
/// (`careledger contract simulate`). The same executor the validators run, with the supply and seed given here.
public enum ContractSimulation {
    /// The executed epoch, with what it ran on.
    public struct Outcome: Sendable {
        public let contract: CompiledContract
        public let claims: [Claim]
        /// The lottery's randomness: the given seed, else SHA-256 of the definition's bytes.
        public let seed: [UInt8]
        public let result: EpochResult

        /// The result as the JSON `contract simulate` prints (``SimulationReport``).
        public var report: SimulationReport { SimulationReport(result, seed: seed) }
    }

    /// Reads the definition and the claims, then executes epoch 0 with `supply` units (default: the definition's
    /// `pool.units`) and `seed` (default: SHA-256 of the definition's UTF-8 bytes, so that a file always draws the
    /// same lottery). A file that cannot be read as a contract or claims throws, naming the file and the field; an
    /// execution that fails (out of gas, a claim the mechanism cannot take) is the outcome's `result.failure`.
    public static func run(definitionText: String, claimsText: String, supply: Rational? = nil, seed: [UInt8]? = nil,
                           definitionFile: String = "definition", claimsFile: String = "claims") throws(ServiceError) -> Outcome {
        let contract = try ContractFiles.definition(definitionText, file: definitionFile)
        let claims = try ContractFiles.claims(claimsText, file: claimsFile)
        let seed = seed ?? defaultSeed(definitionText)
        let result = ContractExecutor.execute(contract, epoch: 0, supply: supply ?? contract.definition.pool.units, claims: claims, seed: seed)
        return Outcome(contract: contract, claims: claims, seed: seed, result: result)
    }

    /// SHA-256 of the definition's bytes: the seed when none is given.
    public static func defaultSeed(_ definitionText: String) -> [UInt8] {
        Array(SHA256.hash(data: Array(definitionText.utf8)))
    }
}

/// An epoch's result as `careledger contract simulate` prints it (docs/contracts.md, "Simulate"): `allocations`
/// maps each claimant to its units, an integer when whole, else a string: the exact decimal ("3.5") when there is
/// one, else "p/q" ("200/3"). A claimant on both sides of an auction appears as `NAME/buy` and `NAME/sell`.
/// `details` lists side, price and category where the mechanism sets them; `explanation` is the steps, amounts
/// as strings.
public struct SimulationReport: Sendable, Encodable {
    public let result: EpochResult
    public let seed: [UInt8]

    public init(_ result: EpochResult, seed: [UInt8]) {
        self.result = result
        self.seed = seed
    }

    enum CodingKeys: String, CodingKey {
        case contract, version, mechanism, seed, supply, allocations, details, free, price, gasUsed, failure, explanation
    }

    /// An amount: a JSON integer when whole and in range, else its exact text.
    struct Amount: Encodable {
        let value: Rational
        func encode(to encoder: any Encoder) throws {
            var c = encoder.singleValueContainer()
            if let i = value.int64 { try c.encode(i) } else { try c.encode(value.displayText) }
        }
    }

    struct Detail: Encodable {
        let claimant: String
        let units: Amount
        let side: String?
        let price: Amount?
        let category: String?
    }

    struct ExplainedStep: Encodable {
        let kind: String
        let claimant: String?
        let amounts: [String]
        let note: String
    }

    /// Lowercase hex.
    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef")
        return String(bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0xF)]] })
    }

    /// The key each allocation has in `allocations`: the claimant, with its side when it has two.
    static func keys(_ allocations: [Allocation]) -> [String] {
        var count: [String: Int] = [:]
        for a in allocations { count[a.claimant, default: 0] += 1 }
        return allocations.map { a in
            guard count[a.claimant, default: 0] > 1, let side = a.side else { return a.claimant }
            return a.claimant + "/" + side.rawValue
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        let r = result
        try c.encode(r.contract, forKey: .contract)
        try c.encode(r.version, forKey: .version)
        try c.encode(r.mechanism.rawValue, forKey: .mechanism)
        try c.encode(Self.hex(seed), forKey: .seed)
        try c.encode(Amount(value: r.supply), forKey: .supply)
        var allocations: [String: Amount] = [:]
        for (key, a) in zip(Self.keys(r.allocations), r.allocations) { allocations[key] = Amount(value: a.units) }
        try c.encode(allocations, forKey: .allocations)
        if r.allocations.contains(where: { $0.side != nil || $0.price != nil || $0.category != nil }) {
            let details = r.allocations.map {
                Detail(claimant: $0.claimant, units: Amount(value: $0.units), side: $0.side?.rawValue, price: $0.price.map(Amount.init), category: $0.category)
            }
            try c.encode(details, forKey: .details)
        }
        try c.encode(Amount(value: r.free), forKey: .free)
        try c.encodeIfPresent(r.price.map(Amount.init), forKey: .price)
        try c.encode(r.gasUsed, forKey: .gasUsed)
        try c.encodeIfPresent(r.failure, forKey: .failure)
        try c.encode(r.steps.map { ExplainedStep(kind: $0.kind, claimant: $0.claimant, amounts: $0.amounts.map(\.displayText), note: $0.note) },
                     forKey: .explanation)
    }

    /// Pretty-printed JSON with sorted keys (the same bytes for the same result), slashes unescaped ("7/2").
    public func json() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        // Every value here encodes without failing (strings, integers, and lists and objects of them).
        return (try? Array(encoder.encode(self))) ?? Array("{}".utf8)
    }
}
