/// The lexical rules of the FHIR R4 primitive types, written out by hand so that validation is fast and needs no
/// regular-expression engine. Each rule follows the `regex` the specification gives for the type (kept in
/// ``TypeDefinition/pattern``; TypeTableTests check each rule against that pattern on sample values), plus the
/// prose rules the patterns leave out: real calendar dates, 32-bit integer ranges, no control characters.
enum PrimitiveSyntax {
    /// Why a lexical form is wrong, or nil when it is right. `type` is a primitive type name.
    static func problem(string value: String, type: String) -> String? {
        var value = value
        return value.withUTF8 { problem(utf8: $0, type: type) }
    }

    /// The same, for a value given as its UTF-8 bytes (as a tape holds it).
    static func problem(utf8: UnsafeBufferPointer<UInt8>, type: String) -> String? {
        if utf8.isEmpty { return "an empty string is not a valid \(type)" }
        // Every string-based primitive is a string: no control character but tab, LF and CR, and neither U+FFFE nor
        // U+FFFF, which XML cannot carry either (so a resource valid in JSON always has its XML form).
        if let problem = characterProblem(utf8) { return problem }
        switch type {
        case "string", "markdown":
            return nil
        case "code":
            return isCode(utf8) ? nil : "a code has no leading, trailing or repeated whitespace"
        case "id":
            return isID(utf8) ? nil : "an id is 1 to 64 of A-Z a-z 0-9 - and ."
        case "uri", "url", "canonical":
            return utf8.contains(where: isWhitespace) ? "a \(type) contains no whitespace" : nil
        case "oid":
            return isOID(utf8) ? nil : "an oid is urn:oid: followed by dotted numbers, the first 0, 1 or 2"
        case "uuid":
            return isUUID(utf8) ? nil : "a uuid is urn:uuid: followed by a lower-case 8-4-4-4-12 hex UUID"
        case "base64Binary":
            return isBase64(utf8) ? nil : "not base64: groups of 4 characters from A-Z a-z 0-9 + / ="
        case "date":
            return DateSyntax.check(utf8, date: true, time: .none) ? nil
                : "a date is YYYY, YYYY-MM or YYYY-MM-DD, and a real one"
        case "dateTime":
            return DateSyntax.check(utf8, date: true, time: .optionalWithZone) ? nil
                : "a dateTime is YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ss(.s)+zz:zz, and a real one"
        case "instant":
            return DateSyntax.check(utf8, date: true, time: .requiredWithZone) ? nil
                : "an instant is YYYY-MM-DDThh:mm:ss(.s)+zz:zz with a time zone, and a real one"
        case "time":
            return DateSyntax.check(utf8, date: false, time: .requiredNoZone) ? nil : "a time is hh:mm:ss(.s)"
        default:
            return nil
        }
    }

    /// Why a JSON number is wrong for a numeric primitive, or nil.
    static func problem(number lexeme: String, type: String) -> String? {
        switch type {
        case "decimal":
            return nil  // JSON's number grammar is exactly FHIR's decimal pattern
        case "integer":
            return integer(lexeme, in: -2_147_483_648...2_147_483_647) ? nil
                : "an integer is a whole number from -2147483648 to 2147483647, without exponent or fraction"
        case "unsignedInt":
            return integer(lexeme, in: 0...2_147_483_647) ? nil
                : "an unsignedInt is a whole number from 0 to 2147483647"
        case "positiveInt":
            return integer(lexeme, in: 1...2_147_483_647) ? nil
                : "a positiveInt is a whole number from 1 to 2147483647"
        default:
            return nil
        }
    }

    private static func integer(_ lexeme: String, in range: ClosedRange<Int64>) -> Bool {
        var bytes = Array(lexeme.utf8)
        var negative = false
        if bytes.first == UInt8(ascii: "-") {
            negative = true
            bytes.removeFirst()
        }
        guard !bytes.isEmpty, bytes.count <= 10, bytes.allSatisfy(isDigit) else { return false }
        if bytes.count > 1 && bytes[0] == UInt8(ascii: "0") { return false }
        var value: Int64 = 0
        for b in bytes { value = value * 10 + Int64(b - 48) }
        return range.contains(negative ? -value : value)
    }

    static func isDigit(_ b: UInt8) -> Bool { b >= 48 && b <= 57 }

    /// Whitespace as the specification's patterns mean `\s`: space, tab, line feed, vertical tab, form feed, CR.
    static func isWhitespace(_ b: UInt8) -> Bool { b == 0x20 || (b >= 0x09 && b <= 0x0D) }

    private static func characterProblem(_ utf8: UnsafeBufferPointer<UInt8>) -> String? {
        var i = 0
        while i < utf8.count {
            let b = utf8[i]
            if b < 0x20 && b != 0x09 && b != 0x0A && b != 0x0D {
                return "contains the control character U+00\(b < 0x10 ? "0" : "")\(String(b, radix: 16, uppercase: true)), which FHIR strings may not"
            }
            // U+FFFE and U+FFFF are EF BF BE and EF BF BF.
            if b == 0xEF && i + 2 < utf8.count && utf8[i + 1] == 0xBF && utf8[i + 2] >= 0xBE {
                return "contains the noncharacter U+FFF\(utf8[i + 2] == 0xBE ? "E" : "F"), which FHIR strings may not (XML cannot carry it)"
            }
            i += 1
        }
        return nil
    }

    private static func isCode(_ utf8: UnsafeBufferPointer<UInt8>) -> Bool {
        var previousWhitespace = true  // no leading whitespace
        for b in utf8 {
            let ws = isWhitespace(b)
            if ws && previousWhitespace { return false }
            if b < 0x20 && !ws { return false }
            previousWhitespace = ws
        }
        return !previousWhitespace
    }

    private static func isID(_ utf8: UnsafeBufferPointer<UInt8>) -> Bool {
        guard utf8.count <= 64 else { return false }
        return utf8.allSatisfy { b in
            isDigit(b) || (b >= 65 && b <= 90) || (b >= 97 && b <= 122) || b == UInt8(ascii: "-") || b == UInt8(ascii: ".")
        }
    }

    private static func isOID(_ utf8: UnsafeBufferPointer<UInt8>) -> Bool {
        let bytes = Array(utf8)
        let prefix = Array("urn:oid:".utf8)
        guard bytes.count > prefix.count + 2, Array(bytes[..<prefix.count]) == prefix else { return false }
        let arcs = bytes[prefix.count...].split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard arcs.count >= 2, let first = arcs.first, first.count == 1, let f = first.first, f >= 48 && f <= 50 else {
            return false
        }
        for arc in arcs.dropFirst() {
            guard !arc.isEmpty, arc.allSatisfy(isDigit) else { return false }
            if arc.count > 1 && arc.first == UInt8(ascii: "0") { return false }
        }
        return true
    }

    private static func isUUID(_ utf8: UnsafeBufferPointer<UInt8>) -> Bool {
        let bytes = Array(utf8)
        let prefix = Array("urn:uuid:".utf8)
        guard bytes.count == prefix.count + 36, Array(bytes[..<prefix.count]) == prefix else { return false }
        for (i, b) in bytes[prefix.count...].enumerated() {
            if i == 8 || i == 13 || i == 18 || i == 23 {
                if b != UInt8(ascii: "-") { return false }
            } else if !(isDigit(b) || (b >= 97 && b <= 102)) {
                return false
            }
        }
        return true
    }

    private static func isBase64(_ utf8: UnsafeBufferPointer<UInt8>) -> Bool {
        var count = 0
        for b in utf8 {
            if isWhitespace(b) { continue }
            let ok = isDigit(b) || (b >= 65 && b <= 90) || (b >= 97 && b <= 122) || b == UInt8(ascii: "+")
                || b == UInt8(ascii: "/") || b == UInt8(ascii: "=")
            if !ok { return false }
            count += 1
        }
        return count > 0 && count % 4 == 0
    }
}

/// FHIR's date, dateTime, instant and time forms, with real calendar days.
enum DateSyntax {
    enum Time {
        case none, optionalWithZone, requiredWithZone, requiredNoZone
    }

    static func check(_ s: UnsafeBufferPointer<UInt8>, date: Bool, time: Time) -> Bool {
        var i = 0
        func digits(_ n: Int) -> Int? {
            guard i + n <= s.count else { return nil }
            var v = 0
            for k in i..<(i + n) {
                guard PrimitiveSyntax.isDigit(s[k]) else { return nil }
                v = v * 10 + Int(s[k] - 48)
            }
            i += n
            return v
        }
        func expect(_ c: Unicode.Scalar) -> Bool {
            guard i < s.count, s[i] == UInt8(ascii: c) else { return false }
            i += 1
            return true
        }
        func timeOfDay() -> Bool {
            guard let h = digits(2), h <= 23, expect(":"), let m = digits(2), m <= 59, expect(":"),
                  let sec = digits(2), sec <= 60 else { return false }
            if i < s.count && s[i] == UInt8(ascii: ".") {
                i += 1
                let start = i
                while i < s.count && PrimitiveSyntax.isDigit(s[i]) { i += 1 }
                if i == start { return false }
            }
            return true
        }
        func zone() -> Bool {
            guard i < s.count else { return false }
            if s[i] == UInt8(ascii: "Z") {
                i += 1
                return true
            }
            guard s[i] == UInt8(ascii: "+") || s[i] == UInt8(ascii: "-") else { return false }
            i += 1
            guard let h = digits(2), expect(":"), let m = digits(2), m <= 59 else { return false }
            return h <= 13 || (h == 14 && m == 0)
        }

        if !date {
            return timeOfDay() && i == s.count
        }
        guard let year = digits(4), year >= 1 else { return false }
        if i == s.count { return time != .requiredWithZone }
        guard expect("-"), let month = digits(2), (1...12).contains(month) else { return false }
        if i == s.count { return time != .requiredWithZone }
        guard expect("-"), let day = digits(2), day >= 1, day <= daysIn(month: month, year: year) else { return false }
        if i == s.count { return time != .requiredWithZone }
        guard time == .optionalWithZone || time == .requiredWithZone, expect("T"), timeOfDay(), zone() else { return false }
        return i == s.count
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }
}
