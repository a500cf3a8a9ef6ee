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
/// - actors are their references' identifiers ("system|value"); classes are resource type codes; purposes, security
///   labels and codes are "system|code".
public enum ConsentMapping {
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public let reason: String
        /// JSON pointer into the Consent.
        public let pointer: String
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

    public static func directive(from consent: Resource, consortiumKey: [UInt8], consentCommitment: [UInt8], issuedFallback: Int64,
                                 resolvePatient: (String) -> (system: String, value: String)? = { _ in nil }) throws(Failure) -> ConsentDirective {
        let o = consent.object
        guard consent.resourceType == "Consent" else { throw Failure(reason: "expected a Consent, found \(consent.resourceType)", pointer: "/resourceType") }
        guard let id = consent.id, !id.isEmpty else { throw Failure(reason: "the Consent needs an id (the directive is keyed by it)", pointer: "/id") }
        let action: ConsentDirective.Action
        switch o["status"]?.stringValue {
        case "active": action = .grant
        case "inactive", "rejected", "entered-in-error": action = .revoke
        case let s: throw Failure(reason: "a Consent with status '\(s ?? "none")' is not in force; submit it once it is active", pointer: "/status")
        }
        guard let patientRef = o["patient"]?.objectValue else { throw Failure(reason: "the Consent names no patient", pointer: "/patient") }
        let patient: (system: String, value: String)
        if let identifier = patientRef["identifier"]?.objectValue, let system = identifier["system"]?.stringValue, let value = identifier["value"]?.stringValue {
            patient = (system, value)
        } else if let reference = patientRef["reference"]?.stringValue, let resolved = resolvePatient(reference) {
            patient = resolved
        } else {
            throw Failure(reason: "the patient needs an identifier (system and value), or a reference to a stored Patient that has one", pointer: "/patient")
        }
        var categories: [String] = []
        for key in ["scope", "category"] {
            let concepts = o[key].map { $0.arrayValue ?? [$0] } ?? []
            for c in concepts { categories += codings(c) }
        }
        guard let root = o["provision"]?.objectValue else { throw Failure(reason: "the Consent has no provision", pointer: "/provision") }
        let issued = try o["dateTime"]?.stringValue.map { (s) throws(Failure) in try instant(s, pointer: "/dateTime", end: false) } ?? issuedFallback
        var grantees: [String] = []
        for org in o["organization"]?.arrayValue ?? [] { if let a = actor(org) { grantees.append(a) } }
        return ConsentDirective(action: action, directiveId: directiveId(consentId: id, consortiumKey: consortiumKey),
                                patient: PatientPseudonym.derive(consortiumKey: consortiumKey, system: patient.system, value: patient.value),
                                grantees: grantees, categories: categories, issued: issued,
                                provision: try provision(root, parent: nil, pointer: "/provision"), consentCommitment: consentCommitment)
    }

    static func provision(_ p: FHIRObject, parent: Provision.Kind?, pointer: String) throws(Failure) -> Provision {
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
            period = Period(start: try per["start"]?.stringValue.map { (s) throws(Failure) in try instant(s, pointer: pointer + "/period/start", end: false) },
                            end: try per["end"]?.stringValue.map { (s) throws(Failure) in try instant(s, pointer: pointer + "/period/end", end: true) })
        }
        var actors: [String] = []
        for a in p["actor"]?.arrayValue ?? [] { if let r = a.objectValue?["reference"], let s = actor(r) { actors.append(s) } }
        let purposes = (p["purpose"]?.arrayValue ?? []).compactMap(coding)
        let labels = (p["securityLabel"]?.arrayValue ?? []).compactMap(coding)
        let classes = (p["class"]?.arrayValue ?? []).compactMap { $0.objectValue?["code"]?.stringValue }
        let codes = (p["code"]?.arrayValue ?? []).flatMap(codings)
        var children: [Provision] = []
        for (n, child) in (p["provision"]?.arrayValue ?? []).enumerated() {
            guard let c = child.objectValue else { continue }
            guard pointer.split(separator: "/").count < Provision.maxDepth else {
                throw Failure(reason: "provisions nest deeper than \(Provision.maxDepth) levels", pointer: pointer)
            }
            children.append(try provision(c, parent: kind, pointer: "\(pointer)/provision/\(n)"))
        }
        return Provision(kind: kind, period: period, actors: actors, purposes: purposes, dataClasses: classes, securityLabels: labels,
                         codes: codes, provisions: children)
    }

    /// "system|value" of a Reference's identifier, else its literal reference.
    static func actor(_ reference: FHIRValue) -> String? {
        guard let r = reference.objectValue else { return nil }
        if let i = r["identifier"]?.objectValue, let v = i["value"]?.stringValue { return "\(i["system"]?.stringValue ?? "")|\(v)" }
        return r["reference"]?.stringValue
    }

    static func coding(_ value: FHIRValue) -> String? {
        guard let c = value.objectValue, let code = c["code"]?.stringValue else { return nil }
        return "\(c["system"]?.stringValue ?? "")|\(code)"
    }

    static func codings(_ concept: FHIRValue) -> [String] {
        (concept.objectValue?["coding"]?.arrayValue ?? []).compactMap(coding)
    }

    /// A FHIR date, dateTime or instant as milliseconds since the epoch: the first instant it covers, or with
    /// `end` the last (so a period ending 2030-01-01 runs through that day). Without a zone, UTC.
    public static func instant(_ s: String, pointer: String, end: Bool) throws(Failure) -> Int64 {
        let u = Array(s.utf8)
        func fail() -> Failure { Failure(reason: "'\(s)' is not a FHIR date, dateTime or instant", pointer: pointer) }
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
        var month: Int64 = 1, day: Int64 = 1, hour: Int64 = 0, minute: Int64 = 0, second: Int64 = 0, millis: Int64 = 0, offset: Int64 = 0
        var precision = 0  // 0 year, 1 month, 2 day, 3 time
        if u.count > 4 {
            guard u[4] == UInt8(ascii: "-") else { throw fail() }
            month = try digits(5, 2)
            precision = 1
        }
        if u.count > 7 {
            guard u[7] == UInt8(ascii: "-") else { throw fail() }
            day = try digits(8, 2)
            precision = 2
        }
        if u.count > 10 {
            guard u[10] == UInt8(ascii: "T"), u.count >= 19, u[13] == UInt8(ascii: ":"), u[16] == UInt8(ascii: ":") else { throw fail() }
            hour = try digits(11, 2)
            minute = try digits(14, 2)
            second = try digits(17, 2)
            var i = 19
            if i < u.count && u[i] == UInt8(ascii: ".") {
                i += 1
                var scale: Int64 = 100
                while i < u.count && u[i] >= 48 && u[i] <= 57 {
                    millis += Int64(u[i] - 48) * scale
                    scale /= 10
                    i += 1
                }
            }
            if i < u.count {
                if u[i] == UInt8(ascii: "Z") && i + 1 == u.count {
                    offset = 0
                } else if (u[i] == UInt8(ascii: "+") || u[i] == UInt8(ascii: "-")) && i + 6 == u.count && u[i + 3] == UInt8(ascii: ":") {
                    let sign: Int64 = u[i] == UInt8(ascii: "+") ? 1 : -1
                    offset = sign * (try digits(i + 1, 2) * 60 + digits(i + 4, 2))
                } else {
                    throw fail()
                }
            }
            precision = 3
        }
        guard (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61 else { throw fail() }
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
