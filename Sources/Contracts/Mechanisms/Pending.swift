// TEMPORARY: the mechanisms below are being written; each throws until it lands.
enum MaxMin {
    static func divide(_ ctx: inout ExecutionContext, supply: Rational, claims: [PreparedClaim], weighted: Bool) throws(ContractFailure) -> [Rational] {
        throw ContractFailure(.invalidDefinition, "max-min is not built yet")
    }
}
enum ClaimsRules {
    static func divide(_ ctx: inout ExecutionContext, supply: Rational, claims: [PreparedClaim], rule: MechanismSpec.Kind) throws(ContractFailure) -> [Rational] {
        throw ContractFailure(.invalidDefinition, "claims rules are not built yet")
    }
}
enum Lottery {
    static func divide(_ ctx: inout ExecutionContext, supply: Rational, claims: [PreparedClaim]) throws(ContractFailure) -> [Rational] {
        throw ContractFailure(.invalidDefinition, "the lottery is not built yet")
    }
}
enum Reserve {
    static func allocate(_ ctx: inout ExecutionContext, supply: Rational, claims: [PreparedClaim]) throws(ContractFailure) -> MechanismOutput {
        throw ContractFailure(.invalidDefinition, "reserve is not built yet")
    }
}
enum PriorityTiers {
    static func allocate(_ ctx: inout ExecutionContext, supply: Rational, claims: [PreparedClaim]) throws(ContractFailure) -> MechanismOutput {
        throw ContractFailure(.invalidDefinition, "priority tiers are not built yet")
    }
}
enum DoubleAuction {
    static func allocate(_ ctx: inout ExecutionContext, supply: Rational, claims: [PreparedClaim]) throws(ContractFailure) -> MechanismOutput {
        throw ContractFailure(.invalidDefinition, "the double auction is not built yet")
    }
}
enum Tatonnement {
    static func allocate(_ ctx: inout ExecutionContext, supply: Rational, claims: [PreparedClaim]) throws(ContractFailure) -> MechanismOutput {
        throw ContractFailure(.invalidDefinition, "tatonnement is not built yet")
    }
}
