/// A recursive-descent parser for the subset, with CEL's grammar and precedence (lowest first):
///
///     Expr           = ConditionalOr ["?" ConditionalOr ":" Expr]
///     ConditionalOr  = ConditionalAnd {"||" ConditionalAnd}
///     ConditionalAnd = Relation {"&&" Relation}
///     Relation       = Addition {("<" | "<=" | ">=" | ">" | "==" | "!=" | "in") Addition}
///     Addition       = Multiplication {("+" | "-") Multiplication}
///     Multiplication = Unary {("*" | "/" | "%") Unary}
///     Unary          = Member | "!" {"!"} Member | "-" {"-"} Member
///     Member         = Primary {"." IDENT ["(" [ExprList] ")"] | "[" Expr "]"}
///     Primary        = IDENT ["(" [ExprList] ")"] | "(" Expr ")" | "[" [ExprList] [","] "]"
///                    | "{" [MapInits] [","] "}" | LITERAL
///
/// Binary operators associate to the left. Nesting (parentheses, brackets, calls, the ternary's branches) is
/// bounded by ``Expression/maxDepth``, so a hostile source cannot exhaust the stack.
struct Parser {
    private let tokens: [Token]
    private var position = 0
    private var depth = 0
    /// The bindings the expression names, in order of first use: their slots.
    private(set) var variables: [String] = []
    private var slots: [String: Int] = [:]

    init(_ source: String) throws(ContractFailure) {
        tokens = try Lexer.tokens(source)
    }

    /// Parses the whole source as one expression.
    mutating func parse() throws(ContractFailure) -> Node {
        let node = try expression()
        let t = current
        guard t.kind == .end else { throw fail(t.column, "unexpected \(describe(t)) after the end of the expression") }
        return node
    }

    // MARK: Tokens

    private var current: Token { tokens[position] }

    private func fail(_ column: Int, _ message: String) -> ContractFailure {
        ContractFailure(.syntax, "at column \(column): \(message)")
    }

    private func describe(_ t: Token) -> String {
        switch t.kind {
        case .int(let v): "number \(v)"
        case .string: "string"
        case .identifier(let n): "'\(n)'"
        case .symbol(let s): "'\(s)'"
        case .end: "end of input"
        }
    }

    private func isSymbol(_ s: String) -> Bool {
        if case .symbol(let x) = current.kind { return x == s }
        return false
    }

    private func isSymbol(_ s: String, at offset: Int) -> Bool {
        guard position + offset < tokens.count, case .symbol(let x) = tokens[position + offset].kind else { return false }
        return x == s
    }

    private mutating func expect(_ s: String, _ context: String) throws(ContractFailure) {
        guard isSymbol(s) else { throw fail(current.column, "expected '\(s)' \(context), found \(describe(current))") }
        position += 1
    }

    private mutating func advance() -> Token {
        let t = tokens[position]
        if t.kind != .end { position += 1 }
        return t
    }

    // MARK: Grammar

    private mutating func expression() throws(ContractFailure) -> Node {
        // The whole source is level 0; each parenthesis, bracket, brace, call or conditional branch adds one.
        depth += 1
        defer { depth -= 1 }
        guard depth <= Expression.maxDepth + 1 else {
            throw fail(current.column, "the expression nests deeper than \(Expression.maxDepth) levels")
        }
        let condition = try conditionalOr()
        guard isSymbol("?") else { return condition }
        let column = current.column
        position += 1
        let then = try conditionalOr()
        try expect(":", "in a conditional 'c ? a : b'")
        let otherwise = try expression()
        return .conditional(condition, then, otherwise, column: column)
    }

    private mutating func conditionalOr() throws(ContractFailure) -> Node {
        var left = try conditionalAnd()
        while isSymbol("||") {
            let column = advance().column
            left = .or(left, try conditionalAnd(), column: column)
        }
        return left
    }

    private mutating func conditionalAnd() throws(ContractFailure) -> Node {
        var left = try relation()
        while isSymbol("&&") {
            let column = advance().column
            left = .and(left, try relation(), column: column)
        }
        return left
    }

    private mutating func relation() throws(ContractFailure) -> Node {
        var left = try addition()
        while true {
            let op: BinaryOperator
            switch current.kind {
            case .symbol("<"): op = .less
            case .symbol("<="): op = .lessOrEqual
            case .symbol(">"): op = .greater
            case .symbol(">="): op = .greaterOrEqual
            case .symbol("=="): op = .equal
            case .symbol("!="): op = .notEqual
            case .identifier("in"): op = .in
            default: return left
            }
            let column = advance().column
            left = .binary(op, left, try addition(), column: column)
        }
    }

    private mutating func addition() throws(ContractFailure) -> Node {
        var left = try multiplication()
        while true {
            let op: BinaryOperator
            switch current.kind {
            case .symbol("+"): op = .add
            case .symbol("-"): op = .subtract
            default: return left
            }
            let column = advance().column
            left = .binary(op, left, try multiplication(), column: column)
        }
    }

    private mutating func multiplication() throws(ContractFailure) -> Node {
        var left = try unary()
        while true {
            let op: BinaryOperator
            switch current.kind {
            case .symbol("*"): op = .multiply
            case .symbol("/"): op = .divide
            case .symbol("%"): op = .remainder
            default: return left
            }
            let column = advance().column
            left = .binary(op, left, try unary(), column: column)
        }
    }

    private mutating func unary() throws(ContractFailure) -> Node {
        if isSymbol("!") {
            var columns: [Int] = []
            while isSymbol("!") { columns.append(advance().column) }
            var node = try member()
            for column in columns.reversed() { node = .not(node, column: column) }
            return node
        }
        if isSymbol("-") {
            var columns: [Int] = []
            while isSymbol("-") { columns.append(advance().column) }
            var node: Node
            // The innermost minus folds into an integer literal, so that -9223372036854775808 is an int64.
            if case .int(let magnitude) = current.kind, !isSymbol(".", at: 1), !isSymbol("[", at: 1) {
                let column = advance().column
                guard magnitude <= UInt64(Int64.max) + 1 else { throw fail(column, "the integer does not fit in 64 bits") }
                node = .constant(.int(magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)))
                columns.removeLast()
            } else {
                node = try member()
            }
            for column in columns.reversed() { node = .negate(node, column: column) }
            return node
        }
        return try member()
    }

    private mutating func member() throws(ContractFailure) -> Node {
        var node = try primary()
        while true {
            if isSymbol(".") {
                position += 1
                let t = advance()
                guard case .identifier(let name) = t.kind else {
                    throw fail(t.column, "expected a field name after '.', found \(describe(t))")
                }
                if isSymbol("(") {
                    node = try receiverCall(name, on: node, column: t.column)
                } else {
                    try checkName(name, column: t.column)
                    node = .select(node, key: name, column: t.column)
                }
            } else if isSymbol("[") {
                let column = advance().column
                let index = try nested()
                try expect("]", "to close the index opened at column \(column)")
                node = .index(node, index, column: column)
            } else {
                return node
            }
        }
    }

    /// An expression inside brackets or a call: one more level of nesting.
    private mutating func nested() throws(ContractFailure) -> Node { try expression() }

    private mutating func primary() throws(ContractFailure) -> Node {
        let t = advance()
        switch t.kind {
        case .int(let v):
            guard v <= UInt64(Int64.max) else { throw fail(t.column, "the integer does not fit in 64 bits") }
            return .constant(.int(Int64(v)))
        case .string(let s):
            return .constant(.string(s))
        case .identifier(let name):
            if isSymbol("(") { return try globalCall(name, column: t.column) }
            switch name {
            case "true": return .constant(.bool(true))
            case "false": return .constant(.bool(false))
            case "null": throw fail(t.column, "null is not in the language")
            default:
                try checkName(name, column: t.column)
                return .variable(slot(name))
            }
        case .symbol("("):
            let node = try nested()
            try expect(")", "to close the parenthesis opened at column \(t.column)")
            return node
        case .symbol("["):
            var items: [Node] = []
            while !isSymbol("]") {
                items.append(try nested())
                guard isSymbol(",") else { break }
                position += 1
            }
            try expect("]", "to close the list opened at column \(t.column)")
            return .list(items, column: t.column)
        case .symbol("{"):
            var entries: [(key: Node, value: Node)] = []
            while !isSymbol("}") {
                let key = try nested()
                try expect(":", "between a map key and its value")
                entries.append((key, try nested()))
                guard isSymbol(",") else { break }
                position += 1
            }
            try expect("}", "to close the map opened at column \(t.column)")
            return .map(entries, column: t.column)
        case .symbol("."):
            throw fail(t.column, "qualified names ('.name') are not in the language")
        case .end:
            throw fail(t.column, "the expression ends too early")
        default:
            throw fail(t.column, "unexpected \(describe(t))")
        }
    }

    private mutating func slot(_ name: String) -> Int {
        if let s = slots[name] { return s }
        slots[name] = variables.count
        variables.append(name)
        return variables.count - 1
    }

    private func checkName(_ name: String, column: Int) throws(ContractFailure) {
        if name == "in" || Lexer.reserved.contains(name) { throw fail(column, "'\(name)' is a reserved word") }
    }

    private mutating func arguments(_ opened: Int) throws(ContractFailure) -> [Node] {
        try expect("(", "to open the arguments")
        var args: [Node] = []
        while !isSymbol(")") {
            args.append(try nested())
            guard isSymbol(",") else { break }
            position += 1
        }
        try expect(")", "to close the call opened at column \(opened)")
        return args
    }

    /// What the subset leaves out, with the reason, for a name used as a function.
    private static let excluded: [String: String] = [
        "all": "comprehension macros (all, exists, exists_one, map, filter) are not in the language: it has no loops",
        "exists": "comprehension macros (all, exists, exists_one, map, filter) are not in the language: it has no loops",
        "exists_one": "comprehension macros (all, exists, exists_one, map, filter) are not in the language: it has no loops",
        "map": "comprehension macros (all, exists, exists_one, map, filter) are not in the language: it has no loops",
        "filter": "comprehension macros (all, exists, exists_one, map, filter) are not in the language: it has no loops",
        "double": "floating point is not in the language: use rational(n, d)",
        "uint": "unsigned integers are not in the language",
        "bytes": "bytes are not in the language",
        "timestamp": "timestamps are not in the language",
        "duration": "durations are not in the language",
        "matches": "regular expressions are not in the language",
        "type": "type() is not in the language",
        "dyn": "dyn() is not in the language",
    ]

    private mutating func globalCall(_ name: String, column: Int) throws(ContractFailure) -> Node {
        if name == "has" {
            let args = try arguments(column)
            guard args.count == 1, case .select(let target, let key, _) = args[0] else {
                throw fail(column, "has() takes one field selection, as in has(attributes.sofa)")
            }
            return .has(target, key: key, column: column)
        }
        if let reason = Parser.excluded[name] { throw fail(column, reason) }
        guard let f = Function(rawValue: name), !f.globalArity.isEmpty else {
            if let f = Function(rawValue: name), !f.receiverArity.isEmpty {
                throw fail(column, "\(name) is called on its receiver: x.\(name)(…)")
            }
            throw fail(column, "unknown function '\(name)': the language has no user functions")
        }
        let args = try arguments(column)
        guard f.globalArity.contains(args.count) else {
            throw fail(column, "\(name)() takes \(f.globalArity.map(String.init).joined(separator: " or ")) argument(s), not \(args.count)")
        }
        return .call(f, args, column: column)
    }

    private mutating func receiverCall(_ name: String, on receiver: Node, column: Int) throws(ContractFailure) -> Node {
        if let reason = Parser.excluded[name] { throw fail(column, reason) }
        guard let f = Function(rawValue: name), !f.receiverArity.isEmpty else {
            if let f = Function(rawValue: name), !f.globalArity.isEmpty { throw fail(column, "\(name)(…) is not a method: write \(name)(x)") }
            throw fail(column, "unknown function '\(name)': the language has no user functions")
        }
        let args = try arguments(column)
        guard f.receiverArity.contains(args.count) else {
            throw fail(column, "x.\(name)() takes \(f.receiverArity.map(String.init).joined(separator: " or ")) argument(s), not \(args.count)")
        }
        return .call(f, [receiver] + args, column: column)
    }
}
