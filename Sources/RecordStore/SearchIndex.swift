public import FHIRCore

/// The search-index rows of a resource for the first set of search parameters (docs/store.md):
/// `identifier` on every resource that has one (also what conditional references resolve against);
/// Patient `name`, `birthdate`, `gender`; Observation `code`, `date`, `subject`, `patient`; Encounter `subject`,
/// `date`; Condition `code`, `subject`. `_id` and `_lastUpdated` are columns of the records table.
///
/// Rows are read from the resource's tape (``JSONTape``), the form the importer parsed, without a tree.
public enum SearchIndex {
    /// The rows of the resource a tape holds (its root object), with its `reference` strings read through
    /// `rewrites` (as ``CanonicalEdits/references`` rewrites them in the stored form).
    public static func entries(for t: JSONTape, rewrites: [String: String] = [:]) -> [IndexEntry] {
        var out: [IndexEntry] = []
        for identifier in t.objects(t.member("identifier", of: 0)) {
            if let value = t.stringMember("value", of: identifier) {
                out.append(IndexEntry(param: "identifier", value: value, system: t.stringMember("system", of: identifier) ?? ""))
            }
        }
        switch t.resourceType {
        case "Patient":
            for name in t.objects(t.member("name", of: 0)) {
                var parts: [String] = []
                if let family = t.stringMember("family", of: name) { parts.append(family) }
                for key in ["given", "prefix", "suffix"] {
                    if let list = t.member(key, of: name) {
                        for v in t.items(of: list) { if let s = t.string(at: v) { parts.append(s) } }
                    }
                }
                if let text = t.stringMember("text", of: name) { parts.append(text) }
                for p in parts { out.append(IndexEntry(param: "name", value: normalize(p))) }
            }
            if let birth = t.stringMember("birthDate", of: 0) { out.append(dateEntry("birthdate", birth, birth)) }
            if let gender = t.stringMember("gender", of: 0) {
                out.append(IndexEntry(param: "gender", value: gender, system: "http://hl7.org/fhir/administrative-gender"))
            }
        case "Observation":
            out += codes(t, "code", t.member("code", of: 0))
            out += references(t, "subject", t.member("subject", of: 0), rewrites)
            if let subject = t.member("subject", of: 0).flatMap({ reference(t, $0, rewrites) }), subject.hasPrefix("Patient/") {
                out.append(IndexEntry(param: "patient", value: subject))
            }
            if let d = t.stringMember("effectiveDateTime", of: 0) ?? t.stringMember("effectiveInstant", of: 0) {
                out.append(dateEntry("date", d, d))
            } else if let period = t.member("effectivePeriod", of: 0), t.kind(at: period) == .object {
                out.append(dateEntry("date", t.stringMember("start", of: period) ?? "", t.stringMember("end", of: period) ?? ""))
            }
        case "Encounter":
            out += references(t, "subject", t.member("subject", of: 0), rewrites)
            if let period = t.member("period", of: 0), t.kind(at: period) == .object {
                out.append(dateEntry("date", t.stringMember("start", of: period) ?? "", t.stringMember("end", of: period) ?? ""))
            }
        case "Condition":
            out += codes(t, "code", t.member("code", of: 0))
            out += references(t, "subject", t.member("subject", of: 0), rewrites)
        default:
            break
        }
        return out
    }

    /// Members that place a resource in a patient's compartment, in the order they are tried (a subset of the
    /// R4 Patient compartment definition that covers the common clinical and financial resources).
    static let compartmentMembers = ["subject", "patient", "beneficiary", "individual"]

    /// `Patient/…` of the patient the resource a tape holds belongs to, if any, its references read through
    /// `rewrites`.
    public static func patientCompartment(of t: JSONTape, rewrites: [String: String] = [:]) -> String? {
        if t.resourceType == "Patient", let id = t.stringMember("id", of: 0) { return "Patient/\(id)" }
        for member in compartmentMembers {
            for o in t.objects(t.member(member, of: 0)) {
                if let r = reference(t, o, rewrites), r.hasPrefix("Patient/") { return r }
            }
        }
        return nil
    }

    /// Lowercased, for case-insensitive prefix search (FHIR string search).
    static func normalize(_ s: String) -> String { s.lowercased() }

    static func dateEntry(_ param: String, _ low: String, _ high: String) -> IndexEntry {
        IndexEntry(param: param, value: low, valueTo: high)
    }

    static func codes(_ t: JSONTape, _ param: String, _ concept: Int?) -> [IndexEntry] {
        var out: [IndexEntry] = []
        for c in t.objects(concept) {
            for coding in t.objects(t.member("coding", of: c)) {
                if let code = t.stringMember("code", of: coding) {
                    out.append(IndexEntry(param: param, value: code, system: t.stringMember("system", of: coding) ?? ""))
                }
            }
        }
        return out
    }

    /// The `reference` of the Reference object at `index`, rewritten.
    static func reference(_ t: JSONTape, _ index: Int, _ rewrites: [String: String]) -> String? {
        guard let r = t.stringMember("reference", of: index) else { return nil }
        return rewrites[r] ?? r
    }

    static func references(_ t: JSONTape, _ param: String, _ value: Int?, _ rewrites: [String: String]) -> [IndexEntry] {
        t.objects(value).compactMap { reference(t, $0, rewrites) }.map { IndexEntry(param: param, value: $0) }
    }
}
