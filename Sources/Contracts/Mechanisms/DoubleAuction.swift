// TEMPORARY: being written; throws until it lands.
enum DoubleAuction {
    static func allocate(_ ctx: inout ExecutionContext, supply: Rational, claims: [PreparedClaim]) throws(ContractFailure) -> MechanismOutput {
        throw ContractFailure(.invalidDefinition, "the double auction is not built yet")
    }
}
