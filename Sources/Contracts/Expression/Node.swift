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

    /// The nodes in this tree: each one evaluated costs one unit of gas, so this is the static part of the cost.
    var count: Int {
        switch self {
        case .constant, .variable: 1
        case .not(let a, _), .negate(let a, _), .select(let a, _, _), .has(let a, _, _): 1 + a.count
        case .binary(_, let a, let b, _), .and(let a, let b, _), .or(let a, let b, _), .index(let a, let b, _): 1 + a.count + b.count
        case .conditional(let a, let b, let c, _): 1 + a.count + b.count + c.count
        case .list(let items, _): 1 + items.reduce(0) { $0 + $1.count }
        case .map(let entries, _): 1 + entries.reduce(0) { $0 + $1.key.count + $1.value.count }
        case .call(_, let args, _): 1 + args.reduce(0) { $0 + $1.count }
        }
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
