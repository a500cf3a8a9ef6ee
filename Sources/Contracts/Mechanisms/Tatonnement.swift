// TEMPORARY: being written; throws until it lands.
enum Tatonnement {
    static func allocate(_ ctx: inout ExecutionContext, supply: Rational, claims: [PreparedClaim]) throws(ContractFailure) -> MechanismOutput {
        throw ContractFailure(.invalidDefinition, "tatonnement is not built yet")
    }
}
