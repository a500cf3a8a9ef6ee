public import FHIRCore

/// The search-index rows of a resource for the first set of search parameters (docs/store.md):
/// `identifier` on every resource that has one (also what conditional references resolve against);
/// Patient `name`, `birthdate`, `gender`; Observation `code`, `date`, `subject`, `patient`; Encounter `subject`,
/// `date`; Condition `code`, `subject`. `_id` and `_lastUpdated` are columns of the records table.
public enum SearchIndex {
    public static func entries(for resource: Resource) -> [IndexEntry] {
        let o = resource.object
        var out: [IndexEntry] = []
        for identifier in objects(o["identifier"]) {
            if let value = identifier["value"]?.stringValue {
                out.append(IndexEntry(param: "identifier", value: value, system: identifier["system"]?.stringValue ?? ""))
            }
        }
        switch resource.resourceType {
        case "Patient":
            for name in objects(o["name"]) {
                var parts: [String] = []
                if let family = name["family"]?.stringValue { parts.append(family) }
                for key in ["given", "prefix", "suffix"] {
                    for v in name[key]?.arrayValue ?? [] { if let s = v.stringValue { parts.append(s) } }
                }
                if let text = name["text"]?.stringValue { parts.append(text) }
                for p in parts { out.append(IndexEntry(param: "name", value: normalize(p))) }
            }
            if let birth = o["birthDate"]?.stringValue { out.append(dateEntry("birthdate", birth, birth)) }
            if let gender = o["gender"]?.stringValue {
                out.append(IndexEntry(param: "gender", value: gender, system: "http://hl7.org/fhir/administrative-gender"))
            }
        case "Observation":
            out += codes("code", o["code"])
            out += references("subject", o["subject"])
            if let subject = reference(o["subject"]), subject.hasPrefix("Patient/") {
                out.append(IndexEntry(param: "patient", value: subject))
            }
            if let d = o["effectiveDateTime"]?.stringValue ?? o["effectiveInstant"]?.stringValue {
                out.append(dateEntry("date", d, d))
            } else if let period = o["effectivePeriod"]?.objectValue {
                out.append(dateEntry("date", period["start"]?.stringValue ?? "", period["end"]?.stringValue ?? ""))
            }
        case "Encounter":
            out += references("subject", o["subject"])
            if let period = o["period"]?.objectValue {
                out.append(dateEntry("date", period["start"]?.stringValue ?? "", period["end"]?.stringValue ?? ""))
            }
        case "Condition":
            out += codes("code", o["code"])
            out += references("subject", o["subject"])
        default:
            break
        }
        return out
    }

    /// Members that place a resource in a patient's compartment, in the order they are tried (a subset of the
    /// R4 Patient compartment definition that covers the common clinical and financial resources).
    static let compartmentMembers = ["subject", "patient", "beneficiary", "individual"]

    /// `Patient/…` of the patient the resource belongs to, if any.
    public static func patientCompartment(of resource: Resource) -> String? {
        if resource.resourceType == "Patient", let id = resource.id { return "Patient/\(id)" }
        for member in compartmentMembers {
            for o in objects(resource.object[member]) {
                if let r = o["reference"]?.stringValue, r.hasPrefix("Patient/") { return r }
            }
        }
        return nil
    }

    /// Lowercased, for case-insensitive prefix search (FHIR string search).
    static func normalize(_ s: String) -> String { s.lowercased() }

    static func dateEntry(_ param: String, _ low: String, _ high: String) -> IndexEntry {
        IndexEntry(param: param, value: low, valueTo: high)
    }

    static func objects(_ value: FHIRValue?) -> [FHIRObject] {
        switch value {
        case .object(let o)?: [o]
        case .array(let a)?: a.compactMap(\.objectValue)
        default: []
        }
    }

    static func codes(_ param: String, _ concept: FHIRValue?) -> [IndexEntry] {
        var out: [IndexEntry] = []
        for c in objects(concept) {
            for coding in objects(c["coding"]) {
                if let code = coding["code"]?.stringValue {
                    out.append(IndexEntry(param: param, value: code, system: coding["system"]?.stringValue ?? ""))
                }
            }
        }
        return out
    }

    static func reference(_ value: FHIRValue?) -> String? {
        value?.objectValue?["reference"]?.stringValue
    }

    static func references(_ param: String, _ value: FHIRValue?) -> [IndexEntry] {
        objects(value).compactMap { $0["reference"]?.stringValue }.map { IndexEntry(param: param, value: $0) }
    }
}
