import Crypto
public import FHIRCore
public import Ledger

/// Maps a FHIR R4 Consent to the ledger directive that records it (what `careledger consent submit` sends): the
/// patient becomes a pseudonym, codes become "system|code" strings, times milliseconds since the epoch; nothing
/// that identifies the patient goes on the chain.
///
/// - the patient is `Consent.patient.identifier`, or what `resolvePatient` gives for a literal reference;
/// - categories are the codings of `scope` and `category` (either place is accepted);
/// - an active Consent is a grant; an inactive, rejected or entered-in-error one revokes the directive of the same
///   Consent; a draft or proposed one is refused (it is not a consent yet);
/// - the root provision's type is the default; a nested provision must be the opposite of its parent;
/// - actors and organizations are identifiers ("system|value"): a Reference's own `identifier`, or for a literal
///   reference (`Organization/x`, the common form) the identifiers of the resource it names, which `resolveActor`
///   gives (``resolveActors(in:store:)`` looks them up); one that resolves to no identifier is refused at its
///   pointer, since a partner is matched to consent actors by identifier only;
/// - classes are resource type codes; purposes, security labels and codes are "system|code".
public enum ConsentMapping {
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public let reason: String
        /// JSON pointer into the Consent.
        public let pointer: String
        /// The OperationOutcome issue type (http://hl7.org/fhir/issue-type): `invalid`, `duplicate`, `too-costly`.
        public let issueType: String

        init(reason: String, pointer: String, issueType: String = "invalid") {
            self.reason = reason
            self.pointer = pointer
            self.issueType = issueType
        }

        public var description: String { "\(pointer): \(reason)" }
    }

    /// The directive's id: an HMAC of the Consent's logical id under the consortium key, so the same Consent always
    /// maps to the same directive and its id reveals nothing.
    public static func directiveId(consentId: String, consortiumKey: [UInt8]) -> [UInt8] {
        var w = LedgerWriter()
        w.string("careledger/consent/v1")
        w.string(consentId)
        return Array(HMAC<SHA256>.authenticationCode(for: w.bytes, using: SymmetricKey(data: consortiumKey)))
    }

    /// Bounds on what one Consent may put on the chain: every directive is kept in the state and the block log
    /// forever, so a Consent beyond them is refused (with the bound in the reason) rather than recorded.
    public enum Limits {
        /// Provisions in one Consent, at all levels (the root included).
        public static let maxProvisions = 256
        /// Values of one element: actors, purposes, classes, security labels or codes of a provision; the
        /// organizations; the categories.
        public static let maxValues = 256
        /// The directive's ledger encoding.
        public static let maxDirectiveBytes = 64 << 10
    }

    public static func directive(from consent: Resource, consortiumKey: [UInt8], consentCommitment: [UInt8], issuedFallback: Int64,
                                 resolvePatient: (String) -> (system: String, value: String)? = { _ in nil },
                                 resolveActor: (String) -> [String] = { _ in [] }) throws(Failure) -> ConsentDirective {
        let o = consent.object
        guard consent.resourceType == "Consent" else { throw Failure(reason: "expected a Consent, found \(consent.resourceType)", pointer: "/resourceType") }
        guard let id = consent.id, !id.isEmpty else { throw Failure(reason: "the Consent needs an id (the directive is keyed by it)", pointer: "/id") }
        let action: ConsentDirective.Action
        switch o["status"]?.stringValue {
        case "active": action = .grant
        case "inactive", "rejected", "entered-in-error": action = .revoke
        case let s?: throw Failure(reason: "a Consent with status '\(s)' is not in force; submit it once it is active", pointer: "/status")
        case nil: throw Failure(reason: "the Consent has no status (active grants, inactive revokes)", pointer: "/status")
        }
        guard let patientRef = o["patient"]?.objectValue else { throw Failure(reason: "the Consent names no patient", pointer: "/patient") }
        let patient: (system: String, value: String)
        if let identifier = patientRef["identifier"]?.objectValue, let system = identifier["system"]?.stringValue, let value = identifier["value"]?.stringValue {
            patient = (system, value)
        } else if let reference = patientRef["reference"]?.stringValue {
            guard let resolved = resolvePatient(reference) else {
                throw Failure(reason: "\(reference) is not a stored Patient with an identifier (system and value); store the Patient first, or give patient.identifier",
                              pointer: "/patient/reference")
            }
            patient = resolved
        } else {
            throw Failure(reason: "the patient needs an identifier (system and value), or a reference to a stored Patient that has one", pointer: "/patient")
        }
        // Either place is accepted and the same code may stand in both: categories are a set.
        var categories: [String] = []
        for key in ["scope", "category"] {
            let concepts = o[key].map { $0.arrayValue ?? [$0] } ?? []
            for c in concepts {
                for code in codings(c) where !categories.contains(code) {
                    guard categories.count < Limits.maxValues else {
                        throw Failure(reason: "more than \(Limits.maxValues) categories (the bound)", pointer: "/\(key)", issueType: "too-costly")
                    }
                    categories.append(code)
                }
            }
        }
        guard let root = o["provision"]?.objectValue else { throw Failure(reason: "the Consent has no provision", pointer: "/provision") }
        let issued = try o["dateTime"]?.stringValue.map { (s) throws(Failure) in try instant(s, pointer: "/dateTime", end: false) } ?? issuedFallback
        var grantees = Values(element: "organizations")
        for (n, org) in (o["organization"]?.arrayValue ?? []).enumerated() {
            try grantees.add(actor: org, at: "/organization/\(n)", literalAt: "/organization/\(n)/reference", resolve: resolveActor)
        }
        var provisions = 0
        let directive = ConsentDirective(action: action, directiveId: directiveId(consentId: id, consortiumKey: consortiumKey),
                                         patient: PatientPseudonym.derive(consortiumKey: consortiumKey, system: patient.system, value: patient.value),
                                         grantees: grantees.values, categories: categories, issued: issued,
                                         provision: try provision(root, parent: nil, pointer: "/provision", depth: 1, count: &provisions, resolveActor: resolveActor),
                                         consentCommitment: consentCommitment)
        let size = directive.encoded.count
        guard size <= Limits.maxDirectiveBytes else {
            throw Failure(reason: "the directive would take \(size) bytes on the ledger, over the bound of \(Limits.maxDirectiveBytes)", pointer: "/provision",
                          issueType: "too-costly")
        }
        return directive
    }

    /// The values of one element in order, each once: a repeated value is refused at its pointer (it would change
    /// no decision and only grow the chain), as is one beyond ``Limits/maxValues``.
    struct Values {
        let element: String
        var values: [String] = []
        private var seen: [String: String] = [:]

        init(element: String) { self.element = element }

        mutating func add(_ value: String?, at pointer: String) throws(Failure) {
            guard let value else { return }
            if let first = seen[value] { throw Failure(reason: "'\(value)' is repeated (first at \(first))", pointer: pointer, issueType: "duplicate") }
            guard values.count < Limits.maxValues else {
                throw Failure(reason: "more than \(Limits.maxValues) \(element) in one place (the bound)", pointer: pointer, issueType: "too-costly")
            }
            seen[value] = pointer
            values.append(value)
        }

        /// Adds what an actor Reference names: its identifier (refused when repeated, as any value), or the
        /// identifiers `resolve` gives for its literal reference (each once: two references to one organization
        /// name it once). One that names no identifier is refused at `literalAt` (or `pointer`).
        mutating func add(actor reference: FHIRValue?, at pointer: String, literalAt: String, resolve: (String) -> [String]) throws(Failure) {
            guard let r = reference?.objectValue else {
                throw Failure(reason: "an actor is a Reference with an identifier or a literal reference", pointer: pointer)
            }
            if let i = r["identifier"]?.objectValue, let v = i["value"]?.stringValue {
                try add("\(i["system"]?.stringValue ?? "")|\(v)", at: pointer)
                return
            }
            guard let literal = r["reference"]?.stringValue else {
                throw Failure(reason: "the actor names nobody the ledger can match: give reference.identifier (system and value) or a literal reference to a stored resource that has one",
                              pointer: pointer)
            }
            let identifiers = resolve(literal)
            guard !identifiers.isEmpty else {
                throw Failure(reason: "\(literal) is not a stored resource with an identifier (system and value): consent actors are matched by identifier; store it first, or give the identifier in the Reference",
                              pointer: literalAt)
            }
            for identifier in identifiers where seen[identifier] == nil { try add(identifier, at: literalAt) }
        }
    }

    static func provision(_ p: FHIRObject, parent: Provision.Kind?, pointer: String, depth: Int, count: inout Int,
                          resolveActor: (String) -> [String]) throws(Failure) -> Provision {
        count += 1
        guard count <= Limits.maxProvisions else {
            throw Failure(reason: "more than \(Limits.maxProvisions) provisions in one Consent (the bound)", pointer: pointer, issueType: "too-costly")
        }
        let kind: Provision.Kind
        switch p["type"]?.stringValue {
        case "permit": kind = .permit
        case "deny": kind = .deny
        case nil:
            // FHIR R4's text says the root has no type, but HL7's examples and every decision service put the default
            // there; a nested provision without one is the opposite of its parent.
            guard let parent else { throw Failure(reason: "the root provision needs a type (permit or deny): the default decision", pointer: pointer + "/type") }
            kind = parent == .permit ? .deny : .permit
        case let t: throw Failure(reason: "a provision type is permit or deny, found '\(t ?? "")'", pointer: pointer + "/type")
        }
        if let parent, parent == kind {
            throw Failure(reason: "a nested provision must be the opposite of its parent (\(kind) inside \(parent))", pointer: pointer + "/type")
        }
        var period: Period?
        if let per = p["period"]?.objectValue {
            let start = try per["start"]?.stringValue.map { (s) throws(Failure) in try instant(s, pointer: pointer + "/period/start", end: false) }
            let end = try per["end"]?.stringValue.map { (s) throws(Failure) in try instant(s, pointer: pointer + "/period/end", end: true) }
            if let start, let end, start > end {
                throw Failure(reason: "the period starts (\(per["start"]?.stringValue ?? "")) after it ends (\(per["end"]?.stringValue ?? ""))",
                              pointer: pointer + "/period")
            }
            period = Period(start: start, end: end)
        }
        var actors = Values(element: "actors")
        for (n, a) in (p["actor"]?.arrayValue ?? []).enumerated() {
            let at = "\(pointer)/actor/\(n)/reference"
            try actors.add(actor: a.objectValue?["reference"], at: at, literalAt: at, resolve: resolveActor)
        }
        var purposes = Values(element: "purposes")
        for (n, c) in (p["purpose"]?.arrayValue ?? []).enumerated() { try purposes.add(coding(c), at: "\(pointer)/purpose/\(n)") }
        var labels = Values(element: "security labels")
        for (n, c) in (p["securityLabel"]?.arrayValue ?? []).enumerated() { try labels.add(coding(c), at: "\(pointer)/securityLabel/\(n)") }
        var classes = Values(element: "classes")
        for (n, c) in (p["class"]?.arrayValue ?? []).enumerated() { try classes.add(c.objectValue?["code"]?.stringValue, at: "\(pointer)/class/\(n)") }
        var codes = Values(element: "codes")
        for (n, concept) in (p["code"]?.arrayValue ?? []).enumerated() {
            for (m, c) in (concept.objectValue?["coding"]?.arrayValue ?? []).enumerated() { try codes.add(coding(c), at: "\(pointer)/code/\(n)/coding/\(m)") }
        }
        var children: [Provision] = []
        for (n, child) in (p["provision"]?.arrayValue ?? []).enumerated() {
            guard let c = child.objectValue else { continue }
            let at = "\(pointer)/provision/\(n)"
            guard depth < Provision.maxDepth else {
                throw Failure(reason: "provisions nest deeper than \(Provision.maxDepth) levels (the bound)", pointer: at, issueType: "too-costly")
            }
            children.append(try provision(c, parent: kind, pointer: at, depth: depth + 1, count: &count, resolveActor: resolveActor))
        }
        return Provision(kind: kind, period: period, actors: actors.values, purposes: purposes.values, dataClasses: classes.values,
                         securityLabels: labels.values, codes: codes.values, provisions: children)
    }

    static func coding(_ value: FHIRValue) -> String? {
        guard let c = value.objectValue, let code = c["code"]?.stringValue else { return nil }
        return "\(c["system"]?.stringValue ?? "")|\(code)"
    }

    static func codings(_ concept: FHIRValue) -> [String] {
        (concept.objectValue?["coding"]?.arrayValue ?? []).compactMap(coding)
    }

    /// A FHIR date, dateTime or instant as milliseconds since the epoch: the first instant it covers, or with
    /// `end` the last (so a period ending 2030-01-01 runs through that day). FHIR R4 dateTime: a time has a zone
    /// (Z or ±hh:mm up to 14:00); the date exists (no 2027-02-29 or 2027-04-31).
    public static func instant(_ s: String, pointer: String, end: Bool) throws(Failure) -> Int64 {
        let u = Array(s.utf8)
        func fail(_ why: String = "expected YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ss[.fff] with Z or ±hh:mm") -> Failure {
            Failure(reason: "'\(s)' is not a FHIR date, dateTime or instant: \(why)", pointer: pointer)
        }
        func digits(_ from: Int, _ n: Int) throws(Failure) -> Int64 {
            guard from + n <= u.count else { throw fail() }
            var v: Int64 = 0
            for i in from..<(from + n) {
                guard u[i] >= 48 && u[i] <= 57 else { throw fail() }
                v = v * 10 + Int64(u[i] - 48)
            }
            return v
        }
        let year = try digits(0, 4)
        guard year >= 1 else { throw fail("there is no year 0000") }
        var month: Int64 = 1, day: Int64 = 1, hour: Int64 = 0, minute: Int64 = 0, second: Int64 = 0, millis: Int64 = 0, offset: Int64 = 0
        var precision = 0  // 0 year, 1 month, 2 day, 3 time
        if u.count > 4 {
            guard u[4] == UInt8(ascii: "-") else { throw fail() }
            month = try digits(5, 2)
            guard (1...12).contains(month) else { throw fail("month \(month) is not 01 to 12") }
            precision = 1
        }
        if u.count > 7 {
            guard u[7] == UInt8(ascii: "-") else { throw fail() }
            day = try digits(8, 2)
            let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
            let length: Int64 = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][Int(month - 1)]
            guard (1...length).contains(day) else { throw fail("\(String(s.prefix(7))) has \(length) days") }
            precision = 2
        }
        if u.count > 10 {
            guard u[10] == UInt8(ascii: "T"), u.count >= 19, u[13] == UInt8(ascii: ":"), u[16] == UInt8(ascii: ":") else { throw fail() }
            hour = try digits(11, 2)
            minute = try digits(14, 2)
            second = try digits(17, 2)
            guard hour < 24, minute < 60, second < 61 else { throw fail("the time \(String(s.dropFirst(11).prefix(8))) is out of range") }
            var i = 19
            if i < u.count && u[i] == UInt8(ascii: ".") {
                i += 1
                guard i < u.count && u[i] >= 48 && u[i] <= 57 else { throw fail("a decimal point needs digits after it") }
                var scale: Int64 = 100
                while i < u.count && u[i] >= 48 && u[i] <= 57 {
                    millis += Int64(u[i] - 48) * scale
                    scale /= 10
                    i += 1
                }
            }
            guard i < u.count else { throw fail("a time needs a zone, Z or ±hh:mm") }
            if u[i] == UInt8(ascii: "Z") && i + 1 == u.count {
                offset = 0
            } else if (u[i] == UInt8(ascii: "+") || u[i] == UInt8(ascii: "-")) && i + 6 == u.count && u[i + 3] == UInt8(ascii: ":") {
                let sign: Int64 = u[i] == UInt8(ascii: "+") ? 1 : -1
                let (h, m) = (try digits(i + 1, 2), try digits(i + 4, 2))
                guard m < 60, h * 60 + m <= 14 * 60 else { throw fail("a zone offset is -14:00 to +14:00, not \(String(s.suffix(6)))") }
                offset = sign * (h * 60 + m)
            } else {
                throw fail("a time needs a zone, Z or ±hh:mm")
            }
            precision = 3
        }
        // Days from the civil date (proleptic Gregorian), Howard Hinnant's algorithm.
        func days(_ y0: Int64, _ m: Int64, _ d: Int64) -> Int64 {
            let y = m <= 2 ? y0 - 1 : y0
            let era = (y >= 0 ? y : y - 399) / 400
            let yoe = y - era * 400
            let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1
            let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
            return era * 146_097 + doe - 719_468
        }
        let start = (days(year, month, day) * 86_400 + hour * 3_600 + minute * 60 + second - offset * 60) * 1_000 + millis
        guard end else { return start }
        switch precision {
        case 0: return days(year + 1, 1, 1) * 86_400_000 - 1
        case 1: return (month == 12 ? days(year + 1, 1, 1) : days(year, month + 1, 1)) * 86_400_000 - 1
        case 2: return start + 86_400_000 - 1
        default: return start
        }
    }
}
