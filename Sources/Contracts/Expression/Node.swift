/// A compiled expression: the parse tree with names resolved, ready to evaluate. Bindings are resolved to slots
/// (indexes into ``Expression/variables``) and field names to map keys once, at compile, so evaluating a node
/// does no string work of its own.
indirect enum Node: Sendable {
    case constant(Value)
    /// A binding, by its slot in ``Expression/variables``.
    case variable(Int)
    case not(Node, column: Int)
    case negate(Node, column: Int)
    case binary(BinaryOperator, Node, Node, column: Int)
    case and(Node, Node, column: Int)
    case or(Node, Node, column: Int)
    case conditional(Node, Node, Node, column: Int)
    case index(Node, Node, column: Int)
    /// `m.k`: the key is the field's name as a string value, built once.
    case select(Node, key: Value, column: Int)
    /// `has(m.k)`.
    case has(Node, key: Value, column: Int)
    case list([Node], column: Int)
    case map([(key: Node, value: Node)], column: Int)
    case call(Function, [Node], column: Int)

    /// Where the node's operator or call is in the source; nil for a literal or a binding.
    var column: Int? {
        switch self {
        case .constant, .variable: nil
        case .not(_, let c), .negate(_, let c), .binary(_, _, _, let c), .and(_, _, let c), .or(_, _, let c),
             .conditional(_, _, _, let c), .index(_, _, let c), .select(_, _, let c), .has(_, _, let c),
             .list(_, let c), .map(_, let c), .call(_, _, let c): c
        }
    }

    /// The nodes this node applies to.
    var children: [Node] {
        switch self {
        case .constant, .variable: []
        case .not(let a, _), .negate(let a, _), .select(let a, _, _), .has(let a, _, _): [a]
        case .binary(_, let a, let b, _), .and(let a, let b, _), .or(let a, let b, _), .index(let a, let b, _): [a, b]
        case .conditional(let a, let b, let c, _): [a, b, c]
        case .list(let items, _): items
        case .map(let entries, _): entries.flatMap { [$0.key, $0.value] }
        case .call(_, let args, _): args
        }
    }

    /// The number of nodes in this tree (each evaluated costs one unit of gas: the static part of the cost) and
    /// its height (the evaluator's recursion depth), found without recursion so that a deep tree cannot exhaust
    /// the stack before it is refused.
    var measure: (count: Int, height: Int) {
        var count = 0, height = 0
        var stack: [(node: Node, level: Int)] = [(self, 1)]
        while let (node, level) = stack.popLast() {
            count += 1
            height = Swift.max(height, level)
            for child in node.children { stack.append((child, level + 1)) }
        }
        return (count, height)
    }
}

enum BinaryOperator: String, Sendable {
    case add = "+", subtract = "-", multiply = "*", divide = "/", remainder = "%"
    case equal = "==", notEqual = "!=", less = "<", lessOrEqual = "<=", greater = ">", greaterOrEqual = ">="
    case `in` = "in"
}

/// The functions of the subset: CEL's `size`, `int`, `string`, `contains`, `startsWith`, `endsWith`, and this
/// language's extensions `rational`, `min` and `max`. There are no user functions.
enum Function: String, Sendable {
    case size, int, string, rational, min, max, contains, startsWith, endsWith

    /// Whether `f(x, …)` is allowed, and with how many arguments.
    var globalArity: [Int] {
        switch self {
        case .size, .int, .string: [1]
        case .rational: [1, 2]
        case .min, .max: [2]
        case .contains, .startsWith, .endsWith: []
        }
    }

    /// Whether `x.f(…)` is allowed, and with how many arguments besides the receiver.
    var receiverArity: [Int] {
        switch self {
        case .size: [0]
        case .contains, .startsWith, .endsWith: [1]
        default: []
        }
    }
}
