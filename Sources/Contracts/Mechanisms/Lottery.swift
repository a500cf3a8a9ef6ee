// TEMPORARY: being written; throws until it lands.
enum Lottery {
    static func divide(_ ctx: inout ExecutionContext, supply: Rational, claims: [PreparedClaim]) throws(ContractFailure) -> [Rational] {
        throw ContractFailure(.invalidDefinition, "the lottery is not built yet")
    }
}
