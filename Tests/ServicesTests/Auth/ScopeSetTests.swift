import Services
import Testing

/// SMART v2 and v1 system scopes, checked per interaction and resource type, and the token endpoint's intersection of
/// requested and registered scopes.
@Suite("SMART scopes")
struct ScopeSetTests {
    struct Case: Sendable, CustomStringConvertible {
        let scopes: [String]
        let interaction: AccessInteraction
        let type: String
        let permitted: Bool
        var description: String { "\(scopes) \(interaction) \(type) → \(permitted)" }
    }

    static let cases: [Case] = [
        // v2
        Case(scopes: ["system/Patient.rs"], interaction: .read, type: "Patient", permitted: true),
        Case(scopes: ["system/Patient.rs"], interaction: .vread, type: "Patient", permitted: true),
        Case(scopes: ["system/Patient.rs"], interaction: .historyInstance, type: "Patient", permitted: true),
        Case(scopes: ["system/Patient.rs"], interaction: .search, type: "Patient", permitted: true),
        Case(scopes: ["system/Patient.rs"], interaction: .historyType, type: "Patient", permitted: true),
        Case(scopes: ["system/Patient.rs"], interaction: .read, type: "Observation", permitted: false),
        Case(scopes: ["system/Patient.rs"], interaction: .create, type: "Patient", permitted: false),
        Case(scopes: ["system/Patient.rs"], interaction: .update, type: "Patient", permitted: false),
        Case(scopes: ["system/Patient.r"], interaction: .search, type: "Patient", permitted: false),
        Case(scopes: ["system/Patient.s"], interaction: .read, type: "Patient", permitted: false),
        Case(scopes: ["system/*.cruds"], interaction: .delete, type: "Encounter", permitted: true),
        Case(scopes: ["system/*.cruds"], interaction: .historySystem, type: "*", permitted: true),
        Case(scopes: ["system/Patient.cruds"], interaction: .historySystem, type: "*", permitted: false),
        Case(scopes: ["system/Observation.cu"], interaction: .patch, type: "Observation", permitted: true),
        Case(scopes: ["system/Observation.cu"], interaction: .delete, type: "Observation", permitted: false),
        Case(scopes: ["system/Observation.d"], interaction: .delete, type: "Observation", permitted: true),
        // v1
        Case(scopes: ["system/*.read"], interaction: .read, type: "Condition", permitted: true),
        Case(scopes: ["system/*.read"], interaction: .search, type: "Condition", permitted: true),
        Case(scopes: ["system/*.read"], interaction: .create, type: "Condition", permitted: false),
        Case(scopes: ["system/Patient.write"], interaction: .create, type: "Patient", permitted: true),
        Case(scopes: ["system/Patient.write"], interaction: .update, type: "Patient", permitted: true),
        Case(scopes: ["system/Patient.write"], interaction: .delete, type: "Patient", permitted: true),
        Case(scopes: ["system/Patient.write"], interaction: .read, type: "Patient", permitted: false),
        Case(scopes: ["system/*.*"], interaction: .update, type: "Observation", permitted: true),
        // Refused forms grant nothing.
        Case(scopes: ["system/Observation.rs?category=laboratory"], interaction: .read, type: "Observation", permitted: false),
        Case(scopes: ["patient/Patient.rs"], interaction: .read, type: "Patient", permitted: false),
        Case(scopes: ["user/*.cruds"], interaction: .read, type: "Patient", permitted: false),
        Case(scopes: ["system/Patient.sr"], interaction: .read, type: "Patient", permitted: false),
        Case(scopes: ["system/Patient.rrs"], interaction: .read, type: "Patient", permitted: false),
        Case(scopes: ["system/patient.rs"], interaction: .read, type: "patient", permitted: false),
        Case(scopes: ["system/Patient."], interaction: .read, type: "Patient", permitted: false),
        Case(scopes: ["openid", "fhirUser"], interaction: .read, type: "Patient", permitted: false),
        // Several scopes add up.
        Case(scopes: ["system/Patient.r", "system/*.s"], interaction: .search, type: "Patient", permitted: true),
    ]

    @Test(arguments: cases)
    func scopeGrantsExactlyItsInteractionsAndTypes(_ c: Case) {
        #expect(ScopeSet(parsing: c.scopes).permits(c.interaction, type: c.type) == c.permitted)
        let principal = Principal(clientId: "c", kind: .partner, scopes: c.scopes)
        #expect(principal.permits(c.interaction, type: c.type) == c.permitted)
    }

    @Test func refusedScopesAreListedAndGrantNothing() {
        let set = ScopeSet(parameter: "system/Observation.rs?category=laboratory patient/*.rs system/Patient.rs")
        #expect(set.refused == ["system/Observation.rs?category=laboratory", "patient/*.rs"])
        #expect(set.parameter == "system/Patient.rs")
    }

    struct Grant: Sendable, CustomStringConvertible {
        let registered: String
        let requested: String
        let granted: String
        var description: String { "\(registered) ∩ \(requested)" }
    }

    static let grants: [Grant] = [
        Grant(registered: "system/*.rs", requested: "system/Patient.rs", granted: "system/Patient.rs"),
        Grant(registered: "system/*.read", requested: "system/Patient.cruds", granted: "system/Patient.rs"),
        Grant(registered: "system/Patient.rs system/Observation.rs", requested: "system/*.r", granted: "system/Patient.r system/Observation.r"),
        Grant(registered: "system/*.cruds", requested: "system/*.read", granted: "system/*.rs"),
        Grant(registered: "system/Patient.write", requested: "system/Patient.rs", granted: ""),
        Grant(registered: "system/Patient.rs", requested: "system/Observation.rs", granted: ""),
        Grant(registered: "system/*.rs", requested: "system/Observation.rs?category=laboratory", granted: ""),
    ]

    @Test(arguments: grants)
    func requestedScopesAreCutToTheRegisteredOnes(_ g: Grant) {
        let granted = ScopeSet(parameter: g.registered).granting(ScopeSet(parameter: g.requested))
        #expect(granted.parameter == g.granted)
        #expect(granted.isEmpty == g.granted.isEmpty)
    }
}
