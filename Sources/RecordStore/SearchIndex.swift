public import FHIRCore

/// The search index of a resource: its rows (``SearchExtraction``, every supported parameter of the official
/// definitions) and the patient compartment it belongs to.
public enum SearchIndex {
    /// The rows of the resource a tape holds (its root object), with its `reference` strings read through
    /// `rewrites` (as ``CanonicalEdits/references`` rewrites them in the stored form).
    public static func entries(for t: JSONTape, rewrites: [String: String] = [:]) -> [IndexEntry] {
        SearchExtraction.entries(for: t, rewrites: rewrites)
    }

    /// `Patient/…` of the (first) patient whose compartment the resource a tape holds is in, by the official R4
    /// Patient CompartmentDefinition (``PatientCompartment``), its references read through `rewrites`.
    public static func patientCompartment(of t: JSONTape, rewrites: [String: String] = [:]) -> String? {
        PatientCompartment.patients(of: t, rewrites: rewrites).first
    }
}
