// TEMPORARY: being written; throws until it lands.
enum Reserve {
    static func allocate(_ ctx: inout ExecutionContext, supply: Rational, claims: [PreparedClaim]) throws(ContractFailure) -> MechanismOutput {
        throw ContractFailure(.invalidDefinition, "reserve is not built yet")
    }
}
