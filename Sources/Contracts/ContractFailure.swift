/// Why a contract could not be deployed, a claim could not be read, or an epoch could not be executed: a code a
/// client or the ledger can act on, and a message that says what and where. An epoch that fails records its code
/// and message in its result, identically on every validator.
public struct ContractFailure: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable, Codable {
        /// A number does not fit the exact arithmetic's range.
        case overflow
        case divisionByZero
        /// Text that should be a number is not one.
        case invalidNumber
        /// The definition breaks a rule (a missing parameter, an unknown mechanism, a capacity below zero…).
        case invalidDefinition
        /// An expression does not parse, or uses what the subset leaves out.
        case syntax
        /// An expression's static cost is over the deploy-time bound.
        case tooCostly
        /// An expression met a value of the wrong type, a missing key or an overload that does not exist.
        case evaluation
        /// A claim breaks a rule of its mechanism (a missing price, a fractional demand on an indivisible pool…).
        case invalidClaim
        /// The execution ran out of its metered budget.
        case outOfGas
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }

    /// The same failure with `context` ahead of its message ("claim of 'b': …").
    public func prefixed(_ context: String) -> ContractFailure { ContractFailure(code, "\(context): \(message)") }
}
