/// A compiled expression of the contract language (a CEL subset, docs/contracts.md): parsed and checked once, at
/// deploy, with a static cost bound; evaluated against a claim's bindings under a ``Meter``.
public struct Expression: Sendable, Hashable {
    public let source: String
    /// The most gas one evaluation can use before data-dependent costs (string and list sizes).
    public let costBound: UInt64

    /// The largest source accepted, and the highest static cost.
    public static let maxSourceLength = 4_096
    public static let maxCost: UInt64 = 10_000

    public init(_ source: String) throws(ContractFailure) {
        // TEMPORARY until the parser lands: integer literals only.
        self.source = source
        self.costBound = 1
        guard Int64(source.trimmingCharacters()) != nil || source == "true" || source == "false" else {
            throw ContractFailure(.syntax, "the expression language is not built yet")
        }
    }

    public func evaluate(_ bindings: [String: Value], meter: inout Meter) throws(ContractFailure) -> Value {
        try meter.charge(1, "expression")
        if source == "true" { return .bool(true) }
        if source == "false" { return .bool(false) }
        return .int(Int64(source.trimmingCharacters()) ?? 0)
    }
}

extension String {
    func trimmingCharacters() -> String {
        String(drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}
