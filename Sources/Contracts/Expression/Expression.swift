/// A compiled expression of the contract language (a CEL subset, docs/contracts-expressions.md): parsed and checked
/// once, at deploy, with a static cost bound; evaluated against a claim's bindings under a ``Meter``.
public struct Expression: Sendable, Hashable {
    public let source: String
    /// The most gas one evaluation can use before data-dependent costs (string and list sizes): one unit per node.
    public let costBound: UInt64
    /// The bindings the expression names, in order of first use: the slots of ``evaluate(slots:meter:)``.
    public let variables: [String]
    /// The compiled tree, laid out flat for evaluation.
    let program: Program

    /// The largest source accepted, in Unicode scalars.
    public static let maxSourceLength = 4_096
    /// The highest static cost (nodes) accepted at deploy.
    public static let maxCost: UInt64 = 10_000
    /// The deepest nesting of parentheses, brackets, calls and conditional branches the parser follows.
    public static let maxDepth = 32
    /// The longest chain of operations from the result to a literal or binding (`a + b + c` is 3 deep): what bounds
    /// the evaluator's recursion, and so its stack, whatever the source.
    public static let maxHeight = 64

    /// Compiles `source`, refusing it when it does not parse, uses what the subset leaves out (`.syntax`, with the
    /// column), or costs more than `maxCost` (`.tooCostly`).
    public init(_ source: String) throws(ContractFailure) {
        try self.init(source, maxCost: Expression.maxCost)
    }

    /// Compiles `source` under a cost bound of the caller's (at most ``maxCost`` is what deploy uses).
    public init(_ source: String, maxCost: UInt64) throws(ContractFailure) {
        let length = source.unicodeScalars.count
        guard length <= Expression.maxSourceLength else {
            throw ContractFailure(.tooCostly, "the expression has \(length) characters, more than \(Expression.maxSourceLength)")
        }
        var parser = try Parser(source)
        let root = try parser.parse()
        let (count, height) = root.measure
        guard height <= Expression.maxHeight else {
            throw ContractFailure(.syntax, "at column \(root.column ?? 1): the expression is \(height) levels deep, more than \(Expression.maxHeight) (each operator of a chain is a level)")
        }
        let cost = UInt64(count)
        guard cost <= maxCost else {
            throw ContractFailure(.tooCostly, "the expression's static cost is \(cost), over the bound of \(maxCost)")
        }
        self.source = source
        self.program = Program(root)
        self.costBound = cost
        self.variables = parser.variables
    }

    /// Evaluates with `bindings` by name; a name the expression reads but `bindings` lacks fails only if it is
    /// reached.
    public func evaluate(_ bindings: [String: Value], meter: inout Meter) throws(ContractFailure) -> Value {
        try Evaluator(program: program, slots: [], bindings: bindings, variables: variables).evaluate(&meter)
    }

    /// The faster entry point: `slots[i]` is the value of `variables[i]` (nil when unbound), resolved by a caller
    /// that evaluates one expression many times and can build the slots without a dictionary.
    public func evaluate(slots: [Value?], meter: inout Meter) throws(ContractFailure) -> Value {
        guard slots.count == variables.count else {
            throw ContractFailure(.evaluation, "\(slots.count) slots given for \(variables.count) variables")
        }
        return try Evaluator(program: program, slots: slots, bindings: nil, variables: variables).evaluate(&meter)
    }

    /// Two expressions are equal when their sources are: the compiled tree is a function of the source.
    public static func == (a: Expression, b: Expression) -> Bool { a.source == b.source }

    public func hash(into hasher: inout Hasher) { hasher.combine(source) }
}
