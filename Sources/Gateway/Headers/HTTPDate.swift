/// HTTP-dates (RFC 9110 §5.6.7, IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`) to and from FHIR instants, for
/// `Last-Modified` and `If-Modified-Since`. Whole seconds: HTTP-dates have no fractions.
public enum HTTPDate {
    private static let days = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]  // 1970-01-01 was a Thursday
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// Seconds since 1970 of a FHIR instant (`2026-12-07T15:49:14.123Z`, `…+01:00`), fractions dropped; nil when
    /// it is not one.
    public static func seconds(ofInstant instant: String) -> Int64? {
        let u = Array(instant.utf8)
        guard u.count >= 20, u[4] == UInt8(ascii: "-"), u[7] == UInt8(ascii: "-"), u[10] == UInt8(ascii: "T"),
              u[13] == UInt8(ascii: ":"), u[16] == UInt8(ascii: ":"),
              let year = number(u[0..<4]), let month = number(u[5..<7]), let day = number(u[8..<10]),
              let hour = number(u[11..<13]), let minute = number(u[14..<16]), let second = number(u[17..<19])
        else { return nil }
        var rest = u[19...]
        if rest.first == UInt8(ascii: ".") {
            rest = rest.dropFirst().drop { (0x30...0x39).contains($0) }
        }
        var offset: Int64 = 0
        if rest.elementsEqual("Z".utf8) {
            offset = 0
        } else if rest.count == 6, let sign = rest.first, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-"),
                  let oh = number(rest.dropFirst().prefix(2)), let om = number(rest.suffix(2)) {
            offset = (sign == UInt8(ascii: "+") ? 1 : -1) * (oh * 3600 + om * 60)
        } else {
            return nil
        }
        guard (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61 else { return nil }
        return daysSinceEpoch(year: year, month: month, day: day) * 86_400 + hour * 3600 + minute * 60 + second - offset
    }

    /// The IMF-fixdate of `seconds` since 1970.
    public static func format(seconds: Int64) -> String {
        let dayCount = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = seconds - dayCount * 86_400
        let (year, month, day) = civil(fromDays: dayCount)
        let weekday = days[Int(((dayCount % 7) + 7) % 7)]
        return "\(weekday), \(pad(day)) \(months[Int(month) - 1]) \(year) \(pad(secondOfDay / 3600)):\(pad(secondOfDay / 60 % 60)):\(pad(secondOfDay % 60)) GMT"
    }

    /// The `Last-Modified` value of a FHIR instant, or nil when it is not one.
    public static func format(instant: String) -> String? {
        seconds(ofInstant: instant).map { format(seconds: $0) }
    }

    /// Seconds since 1970 of an IMF-fixdate (`If-Modified-Since`); nil for anything else (RFC 9110 lets a
    /// recipient ignore a date it cannot read; the obsolete forms are not accepted).
    public static func parse(_ value: String) -> Int64? {
        let parts = value.split(separator: " ")
        guard parts.count == 6, parts[5] == "GMT", parts[0].count == 4, parts[0].hasSuffix(","),
              let day = number(parts[1].utf8), parts[1].count == 2,
              let monthIndex = months.firstIndex(of: String(parts[2])),
              let year = number(parts[3].utf8), parts[3].count == 4 else { return nil }
        let time = parts[4].split(separator: ":")
        guard time.count == 3, time.allSatisfy({ $0.count == 2 }),
              let hour = number(time[0].utf8), let minute = number(time[1].utf8), let second = number(time[2].utf8),
              (1...31).contains(day), hour < 24, minute < 60, second < 61 else { return nil }
        return daysSinceEpoch(year: year, month: Int64(monthIndex + 1), day: day) * 86_400 + hour * 3600 + minute * 60 + second
    }

    private static func number<C: Collection>(_ digits: C) -> Int64? where C.Element == UInt8 {
        guard !digits.isEmpty, digits.count <= 9 else { return nil }
        var n: Int64 = 0
        for d in digits {
            guard (0x30...0x39).contains(d) else { return nil }
            n = n * 10 + Int64(d - 0x30)
        }
        return n
    }

    private static func pad(_ n: Int64) -> String { n < 10 ? "0\(n)" : "\(n)" }

    /// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's days_from_civil).
    private static func daysSinceEpoch(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The date `days` after 1970-01-01 (civil_from_days).
    private static func civil(fromDays days: Int64) -> (Int64, Int64, Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
