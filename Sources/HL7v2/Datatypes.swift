/// A composite HL7 v2 datatype read from an element (a field's first repetition, a repetition or a component).
/// Component numbers follow v2.5; where later versions moved a meaning (XTN-1), both places are read.
public protocol HL7Datatype: Sendable {
    init(_ value: HL7Value) throws(HL7Error)
}

extension HL7Value {
    /// Component `n` as text, nil when empty or `""`.
    func c(_ n: Int) -> String? { component(n)?.string }
    /// Sub-component `s` of component `n`.
    func sc(_ n: Int, _ s: Int) -> String? { component(n)?.subcomponent(s)?.string }
    /// The element a composite reads: the first repetition of a field.
    public var composite: HL7Value { level == .field ? (repetition(1) ?? self) : self }

    /// This element read as `T`.
    public func `as`<T: HL7Datatype>(_ type: T.Type) throws(HL7Error) -> T { try T(self) }
}

/// HD: hierarchic designator (an assigning authority or a facility).
public struct HL7HD: HL7Datatype, Hashable {
    public var namespaceId: String?
    public var universalId: String?
    public var universalIdType: String?

    public init(namespaceId: String?, universalId: String?, universalIdType: String?) {
        self.namespaceId = namespaceId
        self.universalId = universalId
        self.universalIdType = universalIdType
    }

    public init(_ value: HL7Value) {
        let v = value.composite
        if v.level == .component {
            // Inside a composite (CX-4), HD's parts are sub-components.
            namespaceId = v.subcomponent(1)?.string
            universalId = v.subcomponent(2)?.string
            universalIdType = v.subcomponent(3)?.string
        } else {
            namespaceId = v.c(1)
            universalId = v.c(2)
            universalIdType = v.c(3)
        }
    }

    public var isEmpty: Bool { namespaceId == nil && universalId == nil }
}

/// CX: an identifier with its assigning authority and type (PID-3).
public struct HL7CX: HL7Datatype, Hashable {
    public var id: String?
    public var checkDigit: String?
    public var assigningAuthority: HL7HD?
    /// Table 0203: MR, SS, DL, PI, AN, …
    public var identifierTypeCode: String?
    public var assigningFacility: HL7HD?
    public var effectiveDate: String?
    public var expirationDate: String?

    public init(_ value: HL7Value) {
        let v = value.composite
        id = v.c(1)
        checkDigit = v.c(2)
        assigningAuthority = v.component(4).map(HL7HD.init).flatMap { $0.isEmpty ? nil : $0 }
        identifierTypeCode = v.c(5)
        assigningFacility = v.component(6).map(HL7HD.init).flatMap { $0.isEmpty ? nil : $0 }
        effectiveDate = v.c(7)
        expirationDate = v.c(8)
    }
}

/// XPN: a person's name (PID-5). XPN-1 is itself composite (surname & prefix …); its first part is the family name.
public struct HL7XPN: HL7Datatype, Hashable {
    public var family: String?
    public var given: String?
    /// Second and further given names or initials.
    public var middle: String?
    public var suffix: String?
    public var prefix: String?
    public var degree: String?
    /// Table 0200: L (legal), D (display), M (maiden), A (alias), …
    public var nameTypeCode: String?

    public init(_ value: HL7Value) {
        let v = value.composite
        family = v.sc(1, 1)
        given = v.c(2)
        middle = v.c(3)
        suffix = v.c(4)
        prefix = v.c(5)
        degree = v.c(6)
        nameTypeCode = v.c(7)
    }
}

/// XCN: a person with an identifier (a practitioner: PV1-7, ORC-12, OBR-16).
public struct HL7XCN: HL7Datatype, Hashable {
    public var id: String?
    public var family: String?
    public var given: String?
    public var middle: String?
    public var suffix: String?
    public var prefix: String?
    public var degree: String?
    public var assigningAuthority: HL7HD?
    public var nameTypeCode: String?
    public var identifierTypeCode: String?

    public init(_ value: HL7Value) {
        let v = value.composite
        id = v.c(1)
        family = v.sc(2, 1)
        given = v.c(3)
        middle = v.c(4)
        suffix = v.c(5)
        prefix = v.c(6)
        degree = v.c(7)
        assigningAuthority = v.component(9).map(HL7HD.init).flatMap { $0.isEmpty ? nil : $0 }
        nameTypeCode = v.c(10)
        identifierTypeCode = v.c(13)
    }
}

/// XAD: an address (PID-11).
public struct HL7XAD: HL7Datatype, Hashable {
    /// XAD-1.1, the street or mailing address.
    public var street: String?
    /// XAD-2, other designation (apartment, suite).
    public var otherDesignation: String?
    public var city: String?
    public var state: String?
    public var postalCode: String?
    public var country: String?
    /// Table 0190: H (home), B (business), M (mailing), C (current), P (permanent), …
    public var addressType: String?
    public var otherGeographic: String?
    public var county: String?

    public init(_ value: HL7Value) {
        let v = value.composite
        street = v.sc(1, 1)
        otherDesignation = v.c(2)
        city = v.c(3)
        state = v.c(4)
        postalCode = v.c(5)
        country = v.c(6)
        addressType = v.c(7)
        otherGeographic = v.c(8)
        county = v.c(9)
    }
}

/// CWE, CE and CNE: a coded value with an alternate coding and original text.
public struct HL7CWE: HL7Datatype, Hashable {
    public var identifier: String?
    public var text: String?
    public var codingSystem: String?
    public var alternateIdentifier: String?
    public var alternateText: String?
    public var alternateCodingSystem: String?
    public var codingSystemVersion: String?
    public var alternateCodingSystemVersion: String?
    public var originalText: String?

    public init(_ value: HL7Value) {
        // Split once: reading nine components one by one would scan the value from its start nine times.
        let parts = value.composite.components
        func c(_ n: Int) -> String? { n <= parts.count ? parts[n - 1].string : nil }
        identifier = c(1)
        text = c(2)
        codingSystem = c(3)
        alternateIdentifier = c(4)
        alternateText = c(5)
        alternateCodingSystem = c(6)
        codingSystemVersion = c(7)
        alternateCodingSystemVersion = c(8)
        originalText = c(9)
    }
}

/// XTN: a telephone number or e-mail address (PID-13, PID-14).
public struct HL7XTN: HL7Datatype, Hashable {
    /// XTN-1 as written (`(555)555-1234X12`); deprecated from v2.7, where components 5–8 carry the number.
    public var unformatted: String?
    /// Table 0201: PRN (primary residence), WPN (work), ORN, VHN, ASN, EMR, NET (network address), BPN, PRS.
    public var useCode: String?
    /// Table 0202: PH, FX, MD, CP (cellular), BP, Internet, X.400, TDD, TTY.
    public var equipmentType: String?
    public var email: String?
    public var countryCode: String?
    public var areaCode: String?
    public var localNumber: String?
    public var ext: String?
    public var anyText: String?

    public init(_ value: HL7Value) {
        let v = value.composite
        unformatted = v.c(1)
        useCode = v.c(2)
        equipmentType = v.c(3)
        email = v.c(4)
        countryCode = v.c(5)
        areaCode = v.c(6)
        localNumber = v.c(7)
        ext = v.c(8)
        anyText = v.c(9)
    }

    /// The number: components 5–8 when given (`+1 (555) 5551234 x12`), else XTN-1.
    public var number: String? {
        if let localNumber {
            var text = ""
            if let countryCode { text += "+\(countryCode) " }
            if let areaCode { text += "(\(areaCode)) " }
            text += localNumber
            if let ext { text += " x\(ext)" }
            return text
        }
        return unformatted
    }

    /// Whether this is an e-mail or other network address rather than a telephone.
    public var isNetworkAddress: Bool {
        useCode == "NET" || equipmentType == "Internet" || equipmentType == "X.400" || (email != nil && number == nil)
    }
}

/// EI: an entity identifier (placer and filler order numbers).
public struct HL7EI: HL7Datatype, Hashable {
    public var entityId: String?
    public var namespaceId: String?
    public var universalId: String?
    public var universalIdType: String?

    public init(_ value: HL7Value) {
        let v = value.composite
        entityId = v.c(1)
        namespaceId = v.c(2)
        universalId = v.c(3)
        universalIdType = v.c(4)
    }
}

/// DTM (and TS, whose first component it is up to v2.5): `YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ]`.
public struct HL7DateTime: HL7Datatype, Hashable, CustomStringConvertible {
    public enum Precision: Int, Sendable, Hashable, Comparable {
        case year, month, day, hour, minute, second
        public static func < (a: Precision, b: Precision) -> Bool { a.rawValue < b.rawValue }
    }

    public var year: Int
    public var month: Int = 1
    public var day: Int = 1
    public var hour: Int = 0
    public var minute: Int = 0
    public var second: Int = 0
    /// Fraction of a second as written (1 to 4 digits), or nil.
    public var fraction: String?
    public var precision: Precision
    /// The offset from UTC in minutes, when the value carries one.
    public var offsetMinutes: Int?
    /// The text it was read from.
    public let text: String

    public init(_ value: HL7Value) throws(HL7Error) {
        let text = value.composite.component(1)?.string ?? ""
        try self.init(parsing: text)
    }

    public init(parsing text: String) throws(HL7Error) {
        self.text = text
        func fail(_ why: String) -> HL7Error {
            HL7Error(.dataType, "\"\(text)\" is not an HL7 date/time (YYYY[MM[DD[HH[MM[SS[.SSSS]]]]]][+/-ZZZZ]): \(why)")
        }
        // Read as bytes, with no intermediate arrays: conversions read a time from most OBX and OBR segments.
        let utf8 = text.utf8
        var i = utf8.startIndex
        func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
        var value = 0
        var count = 0
        var parts = (0, 0, 0, 0, 0, 0)  // year, month, day, hour, minute, second as they complete
        while i < utf8.endIndex, isDigit(utf8[i]), count < 15 {
            value = value * 10 + Int(utf8[i] - 0x30)
            count += 1
            switch count {
            case 4: parts.0 = value; value = 0
            case 6: parts.1 = value; value = 0
            case 8: parts.2 = value; value = 0
            case 10: parts.3 = value; value = 0
            case 12: parts.4 = value; value = 0
            case 14: parts.5 = value; value = 0
            default: break
            }
            i = utf8.index(after: i)
        }
        while i < utf8.endIndex, isDigit(utf8[i]) { count += 1; i = utf8.index(after: i) }
        switch count {
        case 4: precision = .year
        case 6: precision = .month
        case 8: precision = .day
        case 10: precision = .hour
        case 12: precision = .minute
        case 14: precision = .second
        default: throw fail("\(count) digits before any fraction or offset")
        }
        year = parts.0
        if count >= 6 { month = parts.1 }
        if count >= 8 { day = parts.2 }
        if count >= 10 { hour = parts.3 }
        if count >= 12 { minute = parts.4 }
        if count >= 14 { second = parts.5 }
        if i < utf8.endIndex, utf8[i] == 0x2E {
            guard precision == .second else { throw fail("a fraction needs seconds") }
            i = utf8.index(after: i)
            let begin = i
            var n = 0
            while i < utf8.endIndex, isDigit(utf8[i]) { i = utf8.index(after: i); n += 1 }
            guard (1...4).contains(n) else { throw fail("a fraction has 1 to 4 digits") }
            fraction = String(text[begin..<i])
        }
        if i < utf8.endIndex, utf8[i] == 0x2B || utf8[i] == 0x2D {
            let sign = utf8[i] == 0x2D ? -1 : 1
            i = utf8.index(after: i)
            var digits: [Int] = []
            while i < utf8.endIndex, isDigit(utf8[i]), digits.count < 5 { digits.append(Int(utf8[i] - 0x30)); i = utf8.index(after: i) }
            guard digits.count == 4 else { throw fail("an offset is +HHMM or -HHMM") }
            let hh = digits[0] * 10 + digits[1]
            let mm = digits[2] * 10 + digits[3]
            guard hh <= 14, mm < 60 else { throw fail("offset out of range") }
            offsetMinutes = sign * (hh * 60 + mm)
        }
        guard i == utf8.endIndex else { throw fail("unexpected text at character \(utf8.distance(from: utf8.startIndex, to: i) + 1)") }
        guard (1...12).contains(month), day >= 1, day <= Self.daysIn(month, year), hour < 24, minute < 60, second < 60 else {
            throw fail("no such date or time")
        }
    }

    static func daysIn(_ month: Int, _ year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// `n` (not negative) in decimal, zero-padded to `width` digits, appended to `out`.
    private static func append(_ n: Int, width: Int, to out: inout [UInt8]) {
        var divisor = 1
        var digits = 1
        while divisor <= n / 10 {
            divisor *= 10
            digits += 1
        }
        for _ in digits..<max(width, digits) { out.append(0x30) }
        var v = n
        while divisor > 0 {
            out.append(UInt8(truncatingIfNeeded: v / divisor) + 0x30)
            v %= divisor
            divisor /= 10
        }
    }

    private func appendDate(to out: inout [UInt8]) {
        Self.append(year, width: 4, to: &out)
        guard precision > .year else { return }
        out.append(0x2D)
        Self.append(month, width: 2, to: &out)
        guard precision > .month else { return }
        out.append(0x2D)
        Self.append(day, width: 2, to: &out)
    }

    /// FHIR `date`: as precise as the value, to the day.
    public var fhirDate: String {
        var out: [UInt8] = []
        out.reserveCapacity(10)
        appendDate(to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// FHIR `dateTime`. A time of day needs a time zone in FHIR: the value's own, else `defaultOffsetMinutes`;
    /// with neither, the result is the date only (``hasTimeWithoutZone`` tells a caller to warn).
    public func fhirDateTime(defaultOffsetMinutes: Int? = nil) -> String {
        guard precision > .day, let offset = offsetMinutes ?? defaultOffsetMinutes else { return fhirDate }
        var out: [UInt8] = []
        out.reserveCapacity(32)
        appendDate(to: &out)
        out.append(0x54)  // T
        Self.append(hour, width: 2, to: &out)
        out.append(0x3A)
        Self.append(minute, width: 2, to: &out)
        out.append(0x3A)
        Self.append(second, width: 2, to: &out)
        if let fraction {
            out.append(0x2E)
            out.append(contentsOf: fraction.utf8)
        }
        if offset == 0 {
            out.append(0x5A)  // Z
        } else {
            out.append(offset < 0 ? 0x2D : 0x2B)
            Self.append(abs(offset) / 60, width: 2, to: &out)
            out.append(0x3A)
            Self.append(abs(offset) % 60, width: 2, to: &out)
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The value as FHIR text of `type`, as both mapping engines write it: `date` to the day; `instant` to the
    /// second, a missing zone taken from `defaultOffsetMinutes`, else UTC; any other type a `dateTime`
    /// (``fhirDateTime(defaultOffsetMinutes:)``). `zoneMissing`: neither the value nor the default gives the zone
    /// that type needs (the instant was read as UTC, the dateTime kept only its date), for a warning.
    public func fhirText(as type: String, defaultOffsetMinutes: Int?) -> (text: String, zoneMissing: Bool) {
        switch type {
        case "date":
            return (fhirDate, false)
        case "instant":
            var full = self
            full.precision = .second
            return (full.fhirDateTime(defaultOffsetMinutes: defaultOffsetMinutes ?? 0), offsetMinutes == nil && defaultOffsetMinutes == nil)
        default:
            return (fhirDateTime(defaultOffsetMinutes: defaultOffsetMinutes), hasTimeWithoutZone && defaultOffsetMinutes == nil)
        }
    }

    /// A time of day with no time zone of its own.
    public var hasTimeWithoutZone: Bool { precision > .day && offsetMinutes == nil }

    public var description: String { text }
}

/// NM: a number as HL7 writes it (`+12.5`, `.5`, `-3`), and its FHIR `decimal` form.
public struct HL7Number: HL7Datatype, Hashable {
    /// The FHIR decimal: no leading `+`, a `0` before a leading point, no trailing point.
    public let decimal: String

    public init(_ value: HL7Value) throws(HL7Error) {
        try self.init(parsing: value.composite.component(1)?.string ?? "")
    }

    public init(parsing raw: String) throws(HL7Error) {
        let text = raw.trimmingSpaces
        var bytes = Array(text.utf8)
        var sign: [UInt8] = []
        if let first = bytes.first, first == 0x2B || first == 0x2D {
            if first == 0x2D { sign = [0x2D] }
            bytes.removeFirst()
        }
        let points = bytes.filter { $0 == 0x2E }.count
        guard !bytes.isEmpty, points <= 1, bytes.allSatisfy({ $0 == 0x2E || (0x30...0x39).contains($0) }),
              bytes.contains(where: { (0x30...0x39).contains($0) }) else {
            throw HL7Error(.dataType, "\"\(raw)\" is not a number (NM: an optional sign, digits and an optional decimal point)")
        }
        if bytes.first == 0x2E { bytes.insert(0x30, at: 0) }
        if bytes.last == 0x2E { bytes.removeLast() }
        // Leading zeros are not allowed in a FHIR decimal (except one before the point).
        while bytes.count > 1, bytes[0] == 0x30, bytes[1] != 0x2E { bytes.removeFirst() }
        decimal = String(decoding: sign + bytes, as: UTF8.self)
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return String(s)
    }
}
