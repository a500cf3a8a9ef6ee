// TEMPORARY: being written; throws until it lands.
enum MaxMin {
    static func divide(_ ctx: inout ExecutionContext, supply: Rational, claims: [PreparedClaim], weighted: Bool) throws(ContractFailure) -> [Rational] {
        throw ContractFailure(.invalidDefinition, "max-min is not built yet")
    }
}
