// TEMPORARY: being written; throws until it lands.
enum PriorityTiers {
    static func allocate(_ ctx: inout ExecutionContext, supply: Rational, claims: [PreparedClaim]) throws(ContractFailure) -> MechanismOutput {
        throw ContractFailure(.invalidDefinition, "priority tiers are not built yet")
    }
}
