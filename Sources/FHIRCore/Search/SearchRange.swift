/// The range of instants or numbers a FHIR value stands for, as search compares them (FHIR R4 search §3.1.1.5.6:
/// a value's precision is its range — a date `2020` is the whole year, a number `100` is [99.5, 100.5)).
///
/// Dates are milliseconds since 1970-01-01T00:00Z, as `Double` (exact for every date FHIR can write). A date or
/// dateTime without a time zone is read as UTC.
public struct SearchRange: Sendable, Hashable {
    public var low: Double
    public var high: Double

    public init(low: Double, high: Double) {
        self.low = low
        self.high = high
    }

    /// Where an open period end lies: far beyond any date (year ±270,000).
    public static let unboundedLow = -8.64e18
    public static let unboundedHigh = 8.64e18

    /// The range of a FHIR date, dateTime or instant (`2020`, `2020-03`, `2020-03-04`, `2020-03-04T10:20Z`,
    /// `2020-03-04T10:20:30.5+02:00`): its first and last millisecond. Nil if it is none of those forms.
    public static func date(_ text: String) -> SearchRange? {
        let b = Array(text.utf8)
        var i = 0
        func digits(_ n: Int) -> Int? {
            guard i + n <= b.count else { return nil }
            var v = 0
            for k in i..<(i + n) {
                guard b[k] >= 48 && b[k] <= 57 else { return nil }
                v = v * 10 + Int(b[k] - 48)
            }
            i += n
            return v
        }
        func take(_ c: UInt8) -> Bool {
            guard i < b.count, b[i] == c else { return false }
            i += 1
            return true
        }
        guard let year = digits(4) else { return nil }
        var month = 1, day = 1, hour = 0, minute = 0, second = 0, millis = 0
        // The precision reached: 0 year, 1 month, 2 day, 3 minute, 4 second, 5 fraction.
        var precision = 0, fractionDigits = 0
        if take(45) {
            guard let m = digits(2), (1...12).contains(m) else { return nil }
            month = m; precision = 1
            if take(45) {
                guard let d = digits(2), (1...31).contains(d) else { return nil }
                day = d; precision = 2
                if take(84) {
                    guard let h = digits(2), h < 24, take(58), let mi = digits(2), mi < 60 else { return nil }
                    hour = h; minute = mi; precision = 3
                    if take(58) {
                        guard let s = digits(2), s <= 60 else { return nil }
                        second = min(s, 59); precision = 4
                        if take(46) {
                            var f = 0, n = 0
                            while i < b.count, b[i] >= 48, b[i] <= 57 {
                                if n < 3 { f = f * 10 + Int(b[i] - 48) }
                                n += 1; i += 1
                            }
                            guard n > 0 else { return nil }
                            for _ in min(n, 3)..<3 { f *= 10 }
                            millis = f; fractionDigits = min(n, 3); precision = 5
                        }
                    }
                    var offset = 0
                    if take(90) {
                        offset = 0
                    } else if i < b.count, b[i] == 43 || b[i] == 45 {
                        let sign = b[i] == 45 ? -1 : 1
                        i += 1
                        guard let oh = digits(2), take(58), let om = digits(2) else { return nil }
                        offset = sign * (oh * 60 + om)
                    }
                    minute -= offset
                }
            }
        }
        guard i == b.count else { return nil }
        let days = daysFromCivil(year, month, day)
        let start = Double(((days * 24 + hour) * 60 + minute) * 60 + second) * 1000 + Double(millis)
        let length: Double
        switch precision {
        case 0: length = Double(daysFromCivil(year + 1, 1, 1) - days) * 86_400_000
        case 1: length = Double(daysFromCivil(month == 12 ? year + 1 : year, month == 12 ? 1 : month + 1, 1) - days) * 86_400_000
        case 2: length = 86_400_000
        case 3: length = 60_000
        case 4: length = 1000
        default: length = fractionDigits >= 3 ? 1 : (fractionDigits == 2 ? 10 : 100)
        }
        return SearchRange(low: start, high: start + length - 1)
    }

    /// Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's days_from_civil).
    static func daysFromCivil(_ y0: Int, _ m: Int, _ d: Int) -> Int {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The range of a decimal lexeme by its precision: `100` → [99.5, 100.5], `1.50` → [1.495, 1.505]; exponents
    /// (`1e2`) are read exactly. Nil if it is not a number.
    public static func number(_ text: String) -> SearchRange? {
        guard let value = Double(text), value.isFinite else { return nil }
        let lower = text.lowercased()
        guard !lower.contains("e") else { return SearchRange(low: value, high: value) }
        let decimals = lower.split(separator: ".", omittingEmptySubsequences: false).dropFirst().first.map(\.count) ?? 0
        var half = 0.5
        for _ in 0..<decimals { half /= 10 }
        return SearchRange(low: value - half, high: value + half)
    }
}
