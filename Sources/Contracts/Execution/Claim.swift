/// A participant's demand in one contract: the units it asks for (or offers, for a seller) and the attributes its
/// mechanism and expressions read. A claims file (`careledger contract simulate --claims`) is a JSON list of these.
public struct Claim: Sendable, Hashable, Codable {
    public enum Side: String, Sendable, Hashable, Codable {
        case buy, sell
    }

    /// The participant the claim is for; ties are broken by this id (byte order of its UTF-8).
    public var claimant: String
    public var units: Rational
    public var weight: Rational?
    /// A bid or ask per unit (auctions), or a reservation price.
    public var price: Rational?
    public var side: Side?
    public var category: String?
    /// What priority and weight expressions read (`attributes.sofa`). A string "p/q" is read as a rational.
    public var attributes: [String: Value] { didSet { attributesValue = Claim.mapValue(attributes) } }
    /// ``attributes`` as the map value expressions read, built once per claim rather than per evaluation.
    public private(set) var attributesValue: Value = .map([:])

    public init(claimant: String, units: Rational, weight: Rational? = nil, price: Rational? = nil, side: Side? = nil,
                category: String? = nil, attributes: [String: Value] = [:]) {
        self.claimant = claimant
        self.units = units
        self.weight = weight
        self.price = price
        self.side = side
        self.category = category
        self.attributes = attributes
        attributesValue = Claim.mapValue(attributes)
    }

    enum CodingKeys: String, CodingKey {
        case claimant, units, weight, price, side, category, attributes
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        claimant = try c.decode(String.self, forKey: .claimant)
        units = try c.decode(Rational.self, forKey: .units)
        weight = try c.decodeIfPresent(Rational.self, forKey: .weight)
        price = try c.decodeIfPresent(Rational.self, forKey: .price)
        side = try c.decodeIfPresent(Side.self, forKey: .side)
        category = try c.decodeIfPresent(String.self, forKey: .category)
        let raw = try c.decodeIfPresent([String: Value].self, forKey: .attributes) ?? [:]
        attributes = raw.mapValues(Claim.readingRationals)
        attributesValue = Claim.mapValue(attributes)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(claimant, forKey: .claimant)
        try c.encode(units, forKey: .units)
        try c.encodeIfPresent(weight, forKey: .weight)
        try c.encodeIfPresent(price, forKey: .price)
        try c.encodeIfPresent(side, forKey: .side)
        try c.encodeIfPresent(category, forKey: .category)
        if !attributes.isEmpty { try c.encode(attributes, forKey: .attributes) }
    }

    static func mapValue(_ attributes: [String: Value]) -> Value {
        .map(Dictionary(uniqueKeysWithValues: attributes.map { (Value.string($0.key), $0.value) }))
    }

    /// Strings of the form "p/q" become rationals, inside lists and maps too.
    static func readingRationals(_ v: Value) -> Value {
        switch v {
        case .string(let s) where s.contains("/"):
            if let r = try? Rational(parsing: s) { return r.isInteger ? .int(r.int64 ?? 0) : .rational(r) }
            return v
        case .list(let l): return .list(l.map(readingRationals))
        case .map(let m): return .map(m.mapValues(readingRationals))
        default: return v
        }
    }

    /// One binding of ``bindings(supply:epoch:)`` by name, without building the others: what an expression that
    /// reads only `attributes` and `units` costs per claim is two lookups, not a dictionary of seven.
    public func binding(_ name: String, supply: Rational, epoch: UInt64) -> Value? {
        switch name {
        case "claimant": .string(claimant)
        case "units": Value.exact(units)
        case "attributes": attributesValue
        case "supply": Value.exact(supply)
        case "epoch": .int(Int64(clamping: epoch))
        case "weight": weight.map(Value.exact)
        case "price": price.map(Value.exact)
        case "side": side.map { .string($0.rawValue) }
        case "category": category.map { .string($0) }
        default: nil
        }
    }

    /// The bindings an expression sees for this claim: `claimant`, `units`, `weight`, `price`, `side`,
    /// `category` (absent fields are absent) and `attributes` (a map), plus the epoch's `supply` and `epoch`.
    public func bindings(supply: Rational, epoch: UInt64) -> [String: Value] {
        var b: [String: Value] = [:]
        for name in Claim.bindingNames { b[name] = binding(name, supply: supply, epoch: epoch) }
        return b
    }

    /// Every name ``binding(_:supply:epoch:)`` answers.
    public static let bindingNames = ["claimant", "units", "attributes", "supply", "epoch", "weight", "price", "side", "category"]
}

extension Value {
    /// An int when the rational is an integer in range, else a rational.
    public static func exact(_ r: Rational) -> Value {
        if let i = r.int64 { return .int(i) }
        return .rational(r)
    }
}
