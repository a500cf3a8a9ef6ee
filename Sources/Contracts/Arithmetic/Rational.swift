/// An exact rational number: a 128-bit numerator over a positive 128-bit denominator, always in lowest terms, so
/// equal values have equal fields (and one canonical encoding). Arithmetic is checked: a result that does not fit
/// is a ``ContractFailure`` with code `overflow`, the same on every validator, never a wrapped value or a trap.
///
/// Validators never use floating point; amounts, weights, prices and priorities are all `Rational`.
public struct Rational: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let numerator: Int128
    /// Always positive.
    public let denominator: Int128

    public static let zero = Rational(integer: 0)
    public static let one = Rational(integer: 1)

    /// The largest magnitude a numerator or denominator may reach: one bit of headroom below Int128's range, so
    /// negation and comparison by cross-multiplication need no special case for `Int128.min`.
    static let bound: Int128 = Int128.max >> 1

    public init(integer: Int64) {
        numerator = Int128(integer)
        denominator = 1
    }

    public init(_ integer: Int) { self.init(integer: Int64(integer)) }

    /// `numerator / denominator` in lowest terms; refused when the denominator is zero or a part is out of range.
    public init(_ numerator: Int128, _ denominator: Int128) throws(ContractFailure) {
        guard denominator != 0 else { throw ContractFailure(.divisionByZero, "\(numerator)/0") }
        guard numerator.magnitude <= Rational.bound.magnitude, denominator.magnitude <= Rational.bound.magnitude else {
            throw ContractFailure(.overflow, "a rational part exceeds 2^126")
        }
        var n = numerator, d = denominator
        if d < 0 { n = -n; d = -d }
        let g = Rational.gcd(n.magnitude, d.magnitude)
        if g > 1 { n /= Int128(g); d /= Int128(g) }
        self.numerator = n
        self.denominator = d
    }

    /// Fields already in lowest terms with a positive denominator (internal fast path).
    init(reduced numerator: Int128, _ denominator: Int128) {
        self.numerator = numerator
        self.denominator = denominator
    }

    static func gcd(_ a: UInt128, _ b: UInt128) -> UInt128 {
        var (a, b) = (a, b)
        while b != 0 { (a, b) = (b, a % b) }
        return a
    }

    public var isInteger: Bool { denominator == 1 }
    public var isZero: Bool { numerator == 0 }
    public var isNegative: Bool { numerator < 0 }

    /// The value as an `Int64` when it is an integer in range.
    public var int64: Int64? {
        guard denominator == 1, let v = Int64(exactly: numerator) else { return nil }
        return v
    }

    /// The largest integer ≤ the value.
    public var floor: Int128 {
        let q = numerator / denominator
        return (numerator % denominator != 0 && numerator < 0) ? q - 1 : q
    }

    /// The smallest integer ≥ the value.
    public var ceiling: Int128 {
        let q = numerator / denominator
        return (numerator % denominator != 0 && numerator > 0) ? q + 1 : q
    }

    /// The value minus its floor, in [0, 1).
    public var fractionalPart: Rational {
        Rational(reduced: numerator - floor * denominator, denominator)
    }

    /// "7", "-7/2": the canonical text (claims files, JSON output).
    public var description: String { denominator == 1 ? "\(numerator)" : "\(numerator)/\(denominator)" }

    /// The exact decimal ("3.5", "2.675") when the denominator has only the factors 2 and 5, else nil.
    public var exactDecimal: String? {
        if denominator == 1 { return "\(numerator)" }
        var d = denominator, twos = 0, fives = 0
        while d % 2 == 0 { d /= 2; twos += 1 }
        while d % 5 == 0 { d /= 5; fives += 1 }
        guard d == 1 else { return nil }
        let digits = Swift.max(twos, fives)
        guard digits <= 30 else { return nil }
        var scale: Int128 = 1
        for _ in 0..<digits { scale *= 10 }
        let (scaled, overflow) = numerator.multipliedReportingOverflow(by: scale / denominator)
        guard !overflow else { return nil }
        let negative = scaled < 0
        let text = String(scaled.magnitude)
        let padded = String(repeating: "0", count: Swift.max(0, digits + 1 - text.count)) + text
        let cut = padded.index(padded.endIndex, offsetBy: -digits)
        return (negative ? "-" : "") + padded[..<cut] + "." + padded[cut...]
    }

    /// The exact decimal when there is one, else "p/q": how amounts are printed for people.
    public var displayText: String { exactDecimal ?? description }

    /// Reads "7", "-3", "7/2" or an exact decimal "2.675".
    public init(parsing text: String) throws(ContractFailure) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        switch parts.count {
        case 1:
            if let dot = text.firstIndex(of: ".") {
                let whole = text[..<dot], fraction = text[text.index(after: dot)...]
                guard !fraction.isEmpty, fraction.count <= 30, fraction.allSatisfy({ $0.isASCII && $0.isNumber }),
                      let w = Rational.integer(String(whole), allowEmpty: false) else {
                    throw ContractFailure(.invalidNumber, "'\(text)' is not an integer, a decimal or 'p/q'")
                }
                var scale: Int128 = 1
                for _ in 0..<fraction.count { scale *= 10 }
                guard let f = Int128(String(fraction)) else { throw ContractFailure(.invalidNumber, "'\(text)' is not a number") }
                let negative = whole.hasPrefix("-")
                let (scaledWhole, o1) = w.multipliedReportingOverflow(by: scale)
                guard !o1 else { throw ContractFailure(.overflow, "'\(text)' is out of range") }
                try self.init(negative ? scaledWhole - f : scaledWhole + f, scale)
            } else {
                guard let n = Rational.integer(text, allowEmpty: false) else {
                    throw ContractFailure(.invalidNumber, "'\(text)' is not an integer, a decimal or 'p/q'")
                }
                try self.init(n, 1)
            }
        case 2:
            guard let n = Rational.integer(String(parts[0]), allowEmpty: false), let d = Rational.integer(String(parts[1]), allowEmpty: false),
                  !parts[1].hasPrefix("-"), !parts[1].hasPrefix("+") else {
                throw ContractFailure(.invalidNumber, "'\(text)' is not 'p/q' with integers p and q > 0")
            }
            try self.init(n, d)
        default:
            throw ContractFailure(.invalidNumber, "'\(text)' is not an integer, a decimal or 'p/q'")
        }
    }

    private static func integer(_ s: String, allowEmpty: Bool) -> Int128? {
        var digits = Substring(s)
        if digits.hasPrefix("-") { digits = digits.dropFirst() }
        guard !digits.isEmpty, digits.count <= 38, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int128(s)
    }

    // MARK: Checked arithmetic

    public static func < (a: Rational, b: Rational) -> Bool {
        // Both parts are below 2^126, so the products fit in 256 bits; compare them exactly.
        let l = a.numerator.multipliedFullWidth(by: b.denominator)
        let r = b.numerator.multipliedFullWidth(by: a.denominator)
        return (l.high, l.low) < (r.high, r.low)
    }

    public func adding(_ other: Rational) throws(ContractFailure) -> Rational {
        if denominator == other.denominator {
            let (n, o) = numerator.addingReportingOverflow(other.numerator)
            guard !o else { throw ContractFailure(.overflow, "\(self) + \(other) overflows") }
            return try Rational(n, denominator)
        }
        let g = Int128(Rational.gcd(denominator.magnitude, other.denominator.magnitude))
        let (a, o1) = numerator.multipliedReportingOverflow(by: other.denominator / g)
        let (b, o2) = other.numerator.multipliedReportingOverflow(by: denominator / g)
        let (n, o3) = a.addingReportingOverflow(b)
        let (d, o4) = (denominator / g).multipliedReportingOverflow(by: other.denominator)
        guard !(o1 || o2 || o3 || o4) else { throw ContractFailure(.overflow, "\(self) + \(other) overflows") }
        return try Rational(n, d)
    }

    public var negated: Rational { Rational(reduced: -numerator, denominator) }

    public func subtracting(_ other: Rational) throws(ContractFailure) -> Rational { try adding(other.negated) }

    public func multiplied(by other: Rational) throws(ContractFailure) -> Rational {
        // Cross-reduce first so that products stay small.
        let g1 = Int128(Rational.gcd(numerator.magnitude, other.denominator.magnitude))
        let g2 = Int128(Rational.gcd(other.numerator.magnitude, denominator.magnitude))
        let a = g1 == 0 ? numerator : numerator / g1, d2 = g1 == 0 ? other.denominator : other.denominator / g1
        let b = g2 == 0 ? other.numerator : other.numerator / g2, d1 = g2 == 0 ? denominator : denominator / g2
        let (n, o1) = a.multipliedReportingOverflow(by: b)
        let (d, o2) = d1.multipliedReportingOverflow(by: d2)
        guard !(o1 || o2) else { throw ContractFailure(.overflow, "\(self) × \(other) overflows") }
        return try Rational(n, d)
    }

    public func divided(by other: Rational) throws(ContractFailure) -> Rational {
        guard !other.isZero else { throw ContractFailure(.divisionByZero, "\(self) ÷ 0") }
        let inverse = other.numerator < 0 ? Rational(reduced: -other.denominator, -other.numerator) : Rational(reduced: other.denominator, other.numerator)
        return try multiplied(by: inverse)
    }

    public func multiplied(by k: Int) throws(ContractFailure) -> Rational { try multiplied(by: Rational(k)) }

    /// The sum of `values`, checked.
    public static func sum<S: Sequence>(_ values: S) throws(ContractFailure) -> Rational where S.Element == Rational {
        var total = Rational.zero
        for v in values { total = try total.adding(v) }
        return total
    }

    public static func min(_ a: Rational, _ b: Rational) -> Rational { b < a ? b : a }
    public static func max(_ a: Rational, _ b: Rational) -> Rational { a < b ? b : a }

    /// The value rounded down to a multiple of `tick` (> 0): explicit rounding where a mechanism needs it.
    public func roundedDown(toMultipleOf tick: Rational) throws(ContractFailure) -> Rational {
        let q = try divided(by: tick)
        return try Rational(q.floor, 1).multiplied(by: tick)
    }
}

extension Rational: Codable {
    /// Encoded as an integer when it is one, else as "p/q"; read from an integer or a string ("7/2", "3.5").
    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let i = try? c.decode(Int64.self) {
            self.init(integer: i)
            return
        }
        let text = try c.decode(String.self)
        do throws(ContractFailure) {
            try self.init(parsing: text)
        } catch {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: error.message)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        if let i = int64 { try c.encode(i) } else { try c.encode(description) }
    }
}
