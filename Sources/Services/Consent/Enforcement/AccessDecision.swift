public import FHIRCore
public import Ledger

/// The consent decision on one resource for one partner request, with what the audit trail records of it.
public struct AccessDecision: Sendable, Hashable {
    public enum Verdict: Sendable, Hashable {
        /// The resource is in no patient's compartment: no consent is needed.
        case notPatientData
        /// Every patient the resource belongs to consented, and no REDACT obligation names it.
        case permitted
        /// A patient's consent denies it, or there is none.
        case refused
        /// Permitted, but a REDACT obligation (its security labels, class or codes) withholds it.
        case redacted
        /// One of the hospital's own records (``LocalOnlyRecords``): never served to a partner, whatever the consent.
        case localOnly
    }

    public var verdict: Verdict
    /// The patients (`Patient/id`) the resource belongs to, in the order of ``PatientCompartment/patients(of:)``.
    public var patients: [String]
    /// The ledger's answer for the patient that decided it (the first that refused, or the last that permitted).
    public var decision: ConsentDecision?
    /// The directives (hex ids) the decision rests on: the consent basis.
    public var basis: [String]
    /// The finalized height the decision was taken at (nil when no consent was needed).
    public var height: UInt64?

    public init(verdict: Verdict, patients: [String], decision: ConsentDecision?, basis: [String], height: UInt64?) {
        self.verdict = verdict
        self.patients = patients
        self.decision = decision
        self.basis = basis
        self.height = height
    }

    /// Whether the resource may be returned.
    public var allows: Bool { verdict == .notPatientData || verdict == .permitted }
}

/// What of a resource a consent provision can name: its type (the provision's class), its security labels
/// (`meta.security`) and its codes (`code`, and the type-specific code elements), each `system|code`.
public struct ConsentFacets: Sendable, Hashable {
    public var type: String
    public var labels: [String]
    public var codes: [String]

    /// The elements whose codings are the resource's codes: `code` for most clinical resources, and the few
    /// types that name their main concept otherwise.
    static let codeElements = ["code", "vaccineCode", "medicationCodeableConcept", "type"]

    public init(type: String, labels: [String], codes: [String]) {
        self.type = type
        self.labels = labels
        self.codes = codes
    }

    public init(_ resource: Resource) {
        let o = resource.object
        var labels: [String] = []
        for coding in o["meta"]?.objectValue?["security"]?.arrayValue ?? [] {
            if let s = Self.systemCode(coding), !labels.contains(s) { labels.append(s) }
        }
        var codes: [String] = []
        for element in Self.codeElements {
            guard let value = o[element] else { continue }
            for concept in value.arrayValue ?? [value] {
                for coding in concept.objectValue?["coding"]?.arrayValue ?? [] {
                    if let s = Self.systemCode(coding), !codes.contains(s) { codes.append(s) }
                }
            }
        }
        self.init(type: resource.resourceType, labels: labels, codes: codes)
    }

    static func systemCode(_ coding: FHIRValue) -> String? {
        guard let c = coding.objectValue, let system = c["system"]?.stringValue, let code = c["code"]?.stringValue else { return nil }
        return "\(system)|\(code)"
    }
}
