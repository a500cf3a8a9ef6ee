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
    /// `m.k`: the key is the field's name.
    case select(Node, key: String, column: Int)
    /// `has(m.k)`.
    case has(Node, key: String, column: Int)
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

/// A compiled ``Node`` tree laid out flat, for evaluation: each instruction names its operands by their index in
/// ``instructions`` (children come before their parent; the root is last), constants and field names by their
/// index in ``constants``, and the operands of lists, maps and calls by a range of ``operands``. Matching an
/// instruction copies a few integers instead of retaining and releasing the boxed children of an indirect enum,
/// which cost more than the arithmetic on the expressions contracts use. One instruction per node, so the gas
/// charged (one unit per node evaluated) is the tree's.
struct Program: Sendable {
    enum Operation: Sendable {
        /// An int literal, held in the instruction.
        case integer(Int64)
        /// Any other literal: ``Program/constants``[index].
        case constant(Int)
        /// A binding, by its slot in ``Expression/variables``.
        case variable(Int)
        case not(Int)
        case negate(Int)
        case binary(BinaryOperator, Int, Int)
        case and(Int, Int)
        case or(Int, Int)
        case conditional(Int, Int, Int)
        case index(Int, Int)
        /// `m.k`, the key being ``Program/fields``[key].
        case select(Int, key: Int)
        /// `name.k` where `name` is a binding: two nodes (the select and the binding) in one instruction, as
        /// `attributes.sofa` is the commonest operand of a priority expression.
        case selectVariable(slot: Int, key: Int)
        case has(Int, key: Int)
        /// The items are ``Program/operands``[start ..< start + count].
        case list(start: Int, count: Int)
        /// Keys and values alternate in ``Program/operands``[start ..< start + 2 × count].
        case map(start: Int, count: Int)
        case call(Function, start: Int, count: Int)
    }

    struct Instruction: Sendable {
        let operation: Operation
        /// Where the node's operator or call is in the source (0 for a literal or a binding, which report none).
        let column: Int
    }

    private(set) var instructions: ContiguousArray<Instruction> = []
    private(set) var constants: ContiguousArray<Value> = []
    /// The field names that `m.k` and `has(m.k)` select, kept as strings: a map's string keys are compared with
    /// them directly, without wrapping either in a ``Value``.
    private(set) var fields: ContiguousArray<String> = []
    private(set) var operands: ContiguousArray<Int> = []

    /// The index of the root instruction: the last one.
    var root: Int { instructions.count - 1 }

    /// Lays out `node`, whose height has been checked against ``Expression/maxHeight`` (this recursion follows it).
    init(_ node: Node) {
        _ = append(node)
    }

    private mutating func emit(_ operation: Operation, _ column: Int) -> Int {
        instructions.append(Instruction(operation: operation, column: column))
        return instructions.count - 1
    }

    private mutating func constant(_ v: Value) -> Int {
        constants.append(v)
        return constants.count - 1
    }

    private mutating func field(_ name: String) -> Int {
        fields.append(name)
        return fields.count - 1
    }

    private mutating func range(_ nodes: [Node]) -> (start: Int, count: Int) {
        let indexes = nodes.map { append($0) }
        let start = operands.count
        operands.append(contentsOf: indexes)
        return (start, indexes.count)
    }

    private mutating func append(_ node: Node) -> Int {
        switch node {
        case .constant(.int(let i)): return emit(.integer(i), 0)
        case .constant(let v): return emit(.constant(constant(v)), 0)
        case .variable(let slot): return emit(.variable(slot), 0)
        case .not(let a, let column): return emit(.not(append(a)), column)
        case .negate(let a, let column): return emit(.negate(append(a)), column)
        case .binary(let op, let a, let b, let column):
            let l = append(a), r = append(b)
            return emit(.binary(op, l, r), column)
        case .and(let a, let b, let column):
            let l = append(a), r = append(b)
            return emit(.and(l, r), column)
        case .or(let a, let b, let column):
            let l = append(a), r = append(b)
            return emit(.or(l, r), column)
        case .conditional(let c, let a, let b, let column):
            let x = append(c), y = append(a), z = append(b)
            return emit(.conditional(x, y, z), column)
        case .index(let a, let i, let column):
            let l = append(a), r = append(i)
            return emit(.index(l, r), column)
        case .select(.variable(let slot), let key, let column):
            return emit(.selectVariable(slot: slot, key: field(key)), column)
        case .select(let a, let key, let column):
            let target = append(a)
            return emit(.select(target, key: field(key)), column)
        case .has(let a, let key, let column):
            let target = append(a)
            return emit(.has(target, key: field(key)), column)
        case .list(let items, let column):
            let (start, count) = range(items)
            return emit(.list(start: start, count: count), column)
        case .map(let entries, let column):
            let (start, _) = range(entries.flatMap { [$0.key, $0.value] })
            return emit(.map(start: start, count: entries.count), column)
        case .call(let f, let args, let column):
            let (start, count) = range(args)
            return emit(.call(f, start: start, count: count), column)
        }
    }
}
