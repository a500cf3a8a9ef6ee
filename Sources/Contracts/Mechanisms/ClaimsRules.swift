// TEMPORARY: being written; throws until it lands.
enum ClaimsRules {
    static func divide(_ ctx: inout ExecutionContext, supply: Rational, claims: [PreparedClaim], rule: MechanismSpec.Kind) throws(ContractFailure) -> [Rational] {
        throw ContractFailure(.invalidDefinition, "claims rules are not built yet")
    }
}
