public import Contracts

// The canonical ledger encoding (docs/ledger-encoding.md, "Contracts") of the Contracts module's values: what a
// deploy, a claim and an epoch's result are on the chain and in the state tree. Contracts knows nothing of the
// ledger; its types get their encoding here. Every decoder is strict, so each value has exactly one encoding.

extension LedgerWriter {
    /// A signed 128-bit integer: two's complement, big-endian, 16 bytes.
    mutating func i128(_ v: Int128) {
        let bits = UInt128(bitPattern: v)
        u64(UInt64(truncatingIfNeeded: bits >> 64))
        u64(UInt64(truncatingIfNeeded: bits))
    }
}

extension LedgerReader {
    mutating func i128() throws(LedgerDecodingError) -> Int128 {
        let high = UInt128(try u64()), low = UInt128(try u64())
        return Int128(bitPattern: high << 64 | low)
    }

    /// A value of a Contracts type that its own rules refuse (a rational not in lowest terms) is a decoding error.
    func contractFailure(_ error: ContractFailure, at start: Int) -> LedgerDecodingError {
        LedgerDecodingError(error.message, at: start)
    }
}

/// A rational: numerator then denominator (i128 each), in lowest terms with a positive denominator.
extension Rational: LedgerEncodable {
    public func encode(to w: inout LedgerWriter) {
        w.i128(numerator)
        w.i128(denominator)
    }

    public static func decode(from r: inout LedgerReader) throws(LedgerDecodingError) -> Rational {
        let start = r.offset
        let n = try r.i128(), d = try r.i128()
        let value: Rational
        do throws(ContractFailure) {
            value = try Rational(n, d)
        } catch {
            throw r.contractFailure(error, at: start)
        }
        guard value.numerator == n, value.denominator == d else {
            throw LedgerDecodingError("a rational is in lowest terms with a positive denominator", at: start)
        }
        return value
    }
}

/// A value: a tag (1 int, 2 rational, 3 string, 4 bool, 5 list, 6 map) and its content; a map's entries in
/// increasing order of their keys' encodings, each key once. Nesting is bounded.
extension Value: LedgerEncodable {
    public static let maxDepth = 8

    public func encode(to w: inout LedgerWriter) {
        switch self {
        case .int(let i):
            w.u8(1)
            w.i64(i)
        case .rational(let q):
            w.u8(2)
            w.value(q)
        case .string(let s):
            w.u8(3)
            w.string(s)
        case .bool(let b):
            w.u8(4)
            w.bool(b)
        case .list(let items):
            w.u8(5)
            w.list(items) { $0.value($1) }
        case .map(let m):
            w.u8(6)
            let entries = m.map { (key: $0.key.encoded, value: $0.value) }.sorted { $0.key.lexicographicallyPrecedes($1.key) }
            w.list(entries) { w, e in
                w.fixed(e.key)
                w.value(e.value)
            }
        }
    }

    public static func decode(from r: inout LedgerReader) throws(LedgerDecodingError) -> Value { try decode(from: &r, depth: 1) }

    static func decode(from r: inout LedgerReader, depth: Int) throws(LedgerDecodingError) -> Value {
        guard depth <= maxDepth else { throw r.fail("values nest deeper than \(maxDepth) levels") }
        let start = r.offset
        switch try r.u8() {
        case 1: return .int(try r.i64())
        case 2:
            let q = try r.value(Rational.self)
            guard !q.isInteger else { throw LedgerDecodingError("a whole number is an int, not a rational", at: start) }
            return .rational(q)
        case 3: return .string(try r.string())
        case 4: return .bool(try r.bool())
        case 5: return .list(try r.list { (r) throws(LedgerDecodingError) in try Value.decode(from: &r, depth: depth + 1) })
        case 6:
            var previous: [UInt8]?
            var out: [Value: Value] = [:]
            let pairs = try r.list { (r) throws(LedgerDecodingError) -> (Value, Value, [UInt8]) in
                let keyStart = r.offset
                let key = try Value.decode(from: &r, depth: depth + 1)
                let keyBytes = Array(r.input[keyStart..<r.offset])
                return (key, try Value.decode(from: &r, depth: depth + 1), keyBytes)
            }
            for (key, value, bytes) in pairs {
                if let previous, !previous.lexicographicallyPrecedes(bytes) {
                    throw LedgerDecodingError("a map's keys are in increasing order, each once", at: start)
                }
                switch key {
                case .int, .string, .bool: break
                default: throw LedgerDecodingError("a map key is an int, a string or a bool", at: start)
                }
                previous = bytes
                out[key] = value
            }
            return .map(out)
        case let t: throw LedgerDecodingError("unknown value tag \(t)", at: start)
        }
    }
}

extension Claim.Side {
    var tag: UInt8 { self == .buy ? 1 : 2 }

    static func decode(_ r: inout LedgerReader) throws(LedgerDecodingError) -> Claim.Side {
        let start = r.offset
        switch try r.u8() {
        case 1: return .buy
        case 2: return .sell
        case let t: throw LedgerDecodingError("a side is buy (1) or sell (2), found \(t)", at: start)
        }
    }
}

/// A claim: claimant, units, optional weight, price, side and category, then its attributes sorted by name.
extension Claim: LedgerEncodable {
    public func encode(to w: inout LedgerWriter) {
        w.string(claimant)
        w.value(units)
        w.optional(weight) { $0.value($1) }
        w.optional(price) { $0.value($1) }
        w.optional(side) { $0.u8($1.tag) }
        w.optional(category) { $0.string($1) }
        let sorted = attributes.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
        w.list(sorted) { w, e in
            w.string(e.key)
            w.value(e.value)
        }
    }

    public static func decode(from r: inout LedgerReader) throws(LedgerDecodingError) -> Claim {
        let claimant = try r.string(), units = try r.value(Rational.self)
        let weight = try r.optional { (r) throws(LedgerDecodingError) in try r.value(Rational.self) }
        let price = try r.optional { (r) throws(LedgerDecodingError) in try r.value(Rational.self) }
        let side = try r.optional { (r) throws(LedgerDecodingError) in try Claim.Side.decode(&r) }
        let category = try r.optional { (r) throws(LedgerDecodingError) in try r.string() }
        let start = r.offset
        let pairs = try r.list { (r) throws(LedgerDecodingError) in (try r.string(), try r.value(Value.self)) }
        var attributes: [String: Value] = [:]
        for (i, pair) in pairs.enumerated() {
            if i > 0, !pairs[i - 1].0.utf8.lexicographicallyPrecedes(pair.0.utf8) {
                throw LedgerDecodingError("a claim's attributes are in increasing order of name, each once", at: start)
            }
            attributes[pair.0] = pair.1
        }
        return Claim(claimant: claimant, units: units, weight: weight, price: price, side: side, category: category, attributes: attributes)
    }
}

extension ReserveCategory: LedgerEncodable {
    public func encode(to w: inout LedgerWriter) {
        w.string(name)
        w.value(capacity)
        w.optional(eligible) { $0.string($1) }
        w.optional(priority) { $0.string($1) }
    }

    public static func decode(from r: inout LedgerReader) throws(LedgerDecodingError) -> ReserveCategory {
        ReserveCategory(name: try r.string(), capacity: try r.value(), eligible: try r.optional { (r) throws(LedgerDecodingError) in try r.string() },
                        priority: try r.optional { (r) throws(LedgerDecodingError) in try r.string() })
    }
}

extension Tier: LedgerEncodable {
    public func encode(to w: inout LedgerWriter) {
        w.string(name)
        w.string(when)
        w.optional(excluded) { $0.bool($1) }
    }

    public static func decode(from r: inout LedgerReader) throws(LedgerDecodingError) -> Tier {
        Tier(name: try r.string(), when: try r.string(), excluded: try r.optional { (r) throws(LedgerDecodingError) in try r.bool() })
    }
}

extension MechanismSpec.Kind {
    static func decode(_ r: inout LedgerReader) throws(LedgerDecodingError) -> MechanismSpec.Kind {
        let start = r.offset
        let name = try r.string()
        guard let kind = MechanismSpec.Kind(rawValue: name) else { throw LedgerDecodingError("unknown mechanism '\(name)'", at: start) }
        return kind
    }
}

/// A mechanism: its name (as in the definition file), then each parameter as an option, in declaration order.
extension MechanismSpec: LedgerEncodable {
    public func encode(to w: inout LedgerWriter) {
        w.string(type.rawValue)
        w.optional(categories) { $0.list($1) { $0.value($1) } }
        w.optional(order) { $0.strings($1) }
        w.optional(tiers) { $0.list($1) { $0.value($1) } }
        w.optional(within) { $0.string($1.rawValue) }
        w.optional(initialPrice) { $0.value($1) }
        w.optional(step) { $0.value($1) }
        w.optional(maxIterations) { $0.u32($1) }
        w.optional(tolerance) { $0.value($1) }
        w.optional(tick) { $0.value($1) }
        w.optional(demand) { $0.string($1) }
        w.optional(supply) { $0.string($1) }
    }

    public static func decode(from r: inout LedgerReader) throws(LedgerDecodingError) -> MechanismSpec {
        typealias R = LedgerReader
        return MechanismSpec(
            type: try Kind.decode(&r),
            categories: try r.optional { (r: inout R) throws(LedgerDecodingError) in try r.list { (r: inout R) throws(LedgerDecodingError) in try r.value(ReserveCategory.self) } },
            order: try r.optional { (r: inout R) throws(LedgerDecodingError) in try r.strings() },
            tiers: try r.optional { (r: inout R) throws(LedgerDecodingError) in try r.list { (r: inout R) throws(LedgerDecodingError) in try r.value(Tier.self) } },
            within: try r.optional { (r: inout R) throws(LedgerDecodingError) in try Kind.decode(&r) },
            initialPrice: try r.optional { (r: inout R) throws(LedgerDecodingError) in try r.value(Rational.self) },
            step: try r.optional { (r: inout R) throws(LedgerDecodingError) in try r.value(Rational.self) },
            maxIterations: try r.optional { (r: inout R) throws(LedgerDecodingError) in try r.u32() },
            tolerance: try r.optional { (r: inout R) throws(LedgerDecodingError) in try r.value(Rational.self) },
            tick: try r.optional { (r: inout R) throws(LedgerDecodingError) in try r.value(Rational.self) },
            demand: try r.optional { (r: inout R) throws(LedgerDecodingError) in try r.string() },
            supply: try r.optional { (r: inout R) throws(LedgerDecodingError) in try r.string() })
    }
}

/// A definition: id, version, description, the pool (resource, units, divisible, owners), the epochs (start,
/// length), claimants, mechanism, priority, weight, gas.
extension ContractDefinition: LedgerEncodable {
    public func encode(to w: inout LedgerWriter) {
        w.string(id)
        w.u32(version)
        w.optional(description) { $0.string($1) }
        w.string(pool.resource)
        w.value(pool.units)
        w.bool(pool.divisible)
        w.strings(pool.owners)
        w.u64(epochs.start)
        w.u64(epochs.length)
        w.strings(claimants)
        w.value(mechanism)
        w.optional(priority) { $0.string($1) }
        w.optional(weight) { $0.string($1) }
        w.optional(gas) { $0.u64($1) }
    }

    public static func decode(from r: inout LedgerReader) throws(LedgerDecodingError) -> ContractDefinition {
        let id = try r.string(), version = try r.u32()
        let description = try r.optional { (r) throws(LedgerDecodingError) in try r.string() }
        let pool = Pool(resource: try r.string(), units: try r.value(), divisible: try r.bool(), owners: try r.strings())
        let epochs = EpochSchedule(start: try r.u64(), length: try r.u64())
        return ContractDefinition(id: id, version: version, description: description, pool: pool, epochs: epochs, claimants: try r.strings(),
                                  mechanism: try r.value(), priority: try r.optional { (r) throws(LedgerDecodingError) in try r.string() },
                                  weight: try r.optional { (r) throws(LedgerDecodingError) in try r.string() },
                                  gas: try r.optional { (r) throws(LedgerDecodingError) in try r.u64() })
    }
}

extension Allocation: LedgerEncodable {
    public func encode(to w: inout LedgerWriter) {
        w.string(claimant)
        w.value(units)
        w.optional(side) { $0.u8($1.tag) }
        w.optional(price) { $0.value($1) }
        w.optional(category) { $0.string($1) }
    }

    public static func decode(from r: inout LedgerReader) throws(LedgerDecodingError) -> Allocation {
        Allocation(claimant: try r.string(), units: try r.value(), side: try r.optional { (r) throws(LedgerDecodingError) in try Claim.Side.decode(&r) },
                   price: try r.optional { (r) throws(LedgerDecodingError) in try r.value(Rational.self) },
                   category: try r.optional { (r) throws(LedgerDecodingError) in try r.string() })
    }
}

extension Step: LedgerEncodable {
    public func encode(to w: inout LedgerWriter) {
        w.string(kind)
        w.optional(claimant) { $0.string($1) }
        w.list(amounts) { $0.value($1) }
        w.string(note)
    }

    public static func decode(from r: inout LedgerReader) throws(LedgerDecodingError) -> Step {
        Step(try r.string(), claimant: try r.optional { (r) throws(LedgerDecodingError) in try r.string() },
             amounts: try r.list { (r) throws(LedgerDecodingError) in try r.value(Rational.self) }, note: try r.string())
    }
}

extension ContractFailure: LedgerEncodable {
    public func encode(to w: inout LedgerWriter) {
        w.string(code.rawValue)
        w.string(message)
    }

    public static func decode(from r: inout LedgerReader) throws(LedgerDecodingError) -> ContractFailure {
        let start = r.offset
        let name = try r.string()
        guard let code = ContractFailure.Code(rawValue: name) else { throw LedgerDecodingError("unknown failure code '\(name)'", at: start) }
        return ContractFailure(code, try r.string())
    }
}

/// An epoch's result: contract, version, epoch, mechanism, supply, allocations, free, price, steps, gas, failure.
extension EpochResult: LedgerEncodable {
    public func encode(to w: inout LedgerWriter) {
        w.string(contract)
        w.u32(version)
        w.u64(epoch)
        w.string(mechanism.rawValue)
        w.value(supply)
        w.list(allocations) { $0.value($1) }
        w.value(free)
        w.optional(price) { $0.value($1) }
        w.list(steps) { $0.value($1) }
        w.u64(gasUsed)
        w.optional(failure) { $0.value($1) }
    }

    public static func decode(from r: inout LedgerReader) throws(LedgerDecodingError) -> EpochResult {
        EpochResult(contract: try r.string(), version: try r.u32(), epoch: try r.u64(), mechanism: try MechanismSpec.Kind.decode(&r),
                    supply: try r.value(), allocations: try r.list { (r) throws(LedgerDecodingError) in try r.value(Allocation.self) },
                    free: try r.value(), price: try r.optional { (r) throws(LedgerDecodingError) in try r.value(Rational.self) },
                    steps: try r.list { (r) throws(LedgerDecodingError) in try r.value(Step.self) }, gasUsed: try r.u64(),
                    failure: try r.optional { (r) throws(LedgerDecodingError) in try r.value(ContractFailure.self) })
    }
}
