/// The terms of a consent query as a partner writes them (`consent query` options, a gateway's parameters), checked
/// and put in the form the directives use: a term that could never match a directive (`''`, `bogus` as an actor,
/// `|||` as a purpose) is refused with what is wrong, instead of being asked and answered NO_CONSENT.
extension ConsentMapping {
    /// Vocabularies a bare code is read in.
    public enum QuerySystem {
        public static let purpose = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
        public static let category = "http://terminology.hl7.org/CodeSystem/consentscope"
        public static let confidentiality = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
        public static let actCode = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
    }

    /// A patient identifier, `SYSTEM|VALUE`.
    public static func queryIdentifier(_ s: String, option: String) throws(Failure) -> (system: String, value: String) {
        let parts = s.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2 else {
            throw Failure(reason: "expected SYSTEM|VALUE (one '|'), found '\(s)'", pointer: option)
        }
        try checkSystem(parts[0], in: s, option: option)
        try checkValue(parts[1], what: "value", in: s, option: option)
        return (parts[0], parts[1])
    }

    /// Who asks: an identifier `SYSTEM|VALUE`, or a literal reference `Type/id` (optionally absolute,
    /// `https://host/fhir/Organization/id`), which only directives recorded before actors were resolved to
    /// identifiers hold.
    public static func queryActor(_ s: String, option: String) throws(Failure) -> String {
        if s.contains("|") {
            let (system, value) = try queryIdentifier(s, option: option)
            return "\(system)|\(value)"
        }
        // FHIR R4 Reference.reference: Type/id, where an id is [A-Za-z0-9-.]{1,64}.
        let segments = s.split(separator: "/", omittingEmptySubsequences: false)
        let isType = { (t: Substring) in t.first.map { $0 >= "A" && $0 <= "Z" } == true && t.allSatisfy { $0.isASCII && $0.isLetter } }
        let isId = { (i: Substring) in (1...64).contains(i.count) && i.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == ".") } }
        let relative = segments.count == 2
        let absolute = segments.count > 4 && (s.hasPrefix("http://") || s.hasPrefix("https://")) && !segments[2].isEmpty
            && !s.contains(where: \.isWhitespace)
        guard (relative || absolute), isType(segments[segments.count - 2]), isId(segments[segments.count - 1]) else {
            throw Failure(reason: "an actor is an identifier SYSTEM|VALUE or a reference Type/id (Organization/partner-b), found '\(s)'", pointer: option)
        }
        return s
    }

    /// A coded term: `SYSTEM|CODE`, or a bare code read in `defaultSystem` (none: the system is required).
    public static func queryCode(_ s: String, option: String, defaultSystem: String?) throws(Failure) -> String {
        let parts = s.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
        switch parts.count {
        case 1:
            guard let defaultSystem else { throw Failure(reason: "expected SYSTEM|CODE, found '\(s)'", pointer: option) }
            try checkCode(parts[0], in: s, option: option)
            return "\(defaultSystem)|\(parts[0])"
        case 2:
            try checkSystem(parts[0], in: s, option: option)
            try checkCode(parts[1], in: s, option: option)
            return s
        default:
            throw Failure(reason: "expected \(defaultSystem == nil ? "" : "CODE or ")SYSTEM|CODE (at most one '|'), found '\(s)'", pointer: option)
        }
    }

    /// A resource type asked for (a Consent's `provision.class` code): `Observation`, not `x|y`.
    public static func queryClass(_ s: String, option: String) throws(Failure) -> String {
        guard s.first.map({ $0 >= "A" && $0 <= "Z" }) == true, s.allSatisfy({ $0.isASCII && $0.isLetter }) else {
            throw Failure(reason: "a class is a resource type such as MedicationStatement, found '\(s)'", pointer: option)
        }
        return s
    }

    /// A code system: a URI, so not empty and without spaces.
    static func checkSystem(_ system: String, in s: String, option: String) throws(Failure) {
        guard !system.isEmpty, !system.contains(where: { $0.isWhitespace || $0.asciiValue.map { $0 < 0x20 || $0 == 0x7F } == true }) else {
            throw Failure(reason: "the system before '|' is a URI (not empty, no spaces), found '\(s)'", pointer: option)
        }
    }

    /// FHIR R4 code: `[^\s]+( [^\s]+)*`.
    static func checkCode(_ code: String, in s: String, option: String) throws(Failure) {
        try checkValue(code, what: "code", in: s, option: option)
        guard !code.contains("  "), !code.contains(where: { $0.isWhitespace && $0 != " " }) else {
            throw Failure(reason: "a code has single spaces only, found '\(s)'", pointer: option)
        }
    }

    static func checkValue(_ value: String, what: String, in s: String, option: String) throws(Failure) {
        guard let first = value.first, let last = value.last else { throw Failure(reason: "the \(what) is empty in '\(s)'", pointer: option) }
        guard !first.isWhitespace, !last.isWhitespace, !value.contains(where: { $0.asciiValue.map { $0 < 0x20 || $0 == 0x7F } == true }) else {
            throw Failure(reason: "the \(what) has leading or trailing white space or a control character in '\(s)'", pointer: option)
        }
    }
}
