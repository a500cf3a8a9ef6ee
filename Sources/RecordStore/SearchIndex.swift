public import FHIRCore

/// The search index of a resource: its rows (``SearchExtraction``, every supported parameter of the official
/// definitions) and the patient compartment it belongs to.
public enum SearchIndex {
    /// The rows of the resource a tape holds (its root object), with its `reference` strings read through
    /// `rewrites` (as ``CanonicalEdits/references`` rewrites them in the stored form).
    public static func entries(for t: JSONTape, rewrites: [String: String] = [:]) -> [IndexEntry] {
        SearchExtraction.entries(for: t, rewrites: rewrites)
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

    /// The `reference` of the Reference object at `index`, rewritten.
    static func reference(_ t: JSONTape, _ index: Int, _ rewrites: [String: String]) -> String? {
        guard let r = t.stringMember("reference", of: index) else { return nil }
        return rewrites[r] ?? r
    }
}
