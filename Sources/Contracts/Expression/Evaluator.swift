/// Evaluates a compiled ``Program``: CEL's semantics for the subset, every node charged one unit of gas and
/// every data-dependent step (building strings and lists, `in` over a list, comparing lists) charged by size.
struct Evaluator {
    let program: Program
    /// The values of ``Expression/variables`` by slot (nil where the caller bound nothing), or else the caller's
    /// bindings by name: reading a name or two there costs less than building the slots for one evaluation.
    let slots: [Value?]
    let bindings: [String: Value]?
    let variables: [String]

    /// Bytes of string work covered by one unit of gas (concatenation, comparison, search, `size`).
    static let bytesPerUnit = 16

    /// The largest map whose fields are found by comparing keys in turn instead of hashing the key: comparing a
    /// few short strings costs less than hashing one. Either way the same entry is found (keys are unique).
    static let scannedMapSize = 8

    /// Evaluates the whole program.
    func evaluate(_ meter: inout Meter) throws(ContractFailure) -> Value {
        try evaluate(program.root, &meter)
    }

    /// Evaluates the instruction at `at`. Each case's work is in a function of its own, so that this frame, which
    /// every level of the tree puts on the stack, stays small even unoptimized (the tree's height is bounded by
    /// ``Expression/maxHeight``).
    func evaluate(_ at: Int, _ meter: inout Meter) throws(ContractFailure) -> Value {
        try meter.charge(1, "the expression")
        let instruction = program.instructions[at]
        let column = instruction.column
        switch instruction.operation {
        case .integer(let i): return .int(i)
        case .constant(let c): return program.constants[c]
        case .variable(let slot): return try variable(slot)
        case .not(let a): return try not(a, column, &meter)
        case .negate(let a): return try negate(a, column, &meter)
        case .binary(let op, let a, let b): return try binary(op, a, b, column, &meter)
        case .and(let a, let b): return try logical(a, b, column, absorbing: false, &meter)
        case .or(let a, let b): return try logical(a, b, column, absorbing: true, &meter)
        case .conditional(let c, let a, let b): return try conditional(c, a, b, column, &meter)
        case .index(let a, let i): return try index(a, i, column, &meter)
        case .select(let a, let key): return try select(try evaluate(a, &meter), key, column)
        case .selectVariable(let slot, let key):
            // The binding is a node of its own: charged as evaluating it would be, before it is read.
            try meter.charge(1, "the expression")
            return try fieldOfBinding(slot, key, column)
        case .has(let a, let key): return try has(a, key, column, &meter)
        case .list(let start, let count): return try list(start, count, &meter)
        case .map(let start, let count): return try map(start, count, column, &meter)
        case .call(let f, let start, let count): return try call(f, start, count, column, &meter)
        }
    }

    private func variable(_ slot: Int) throws(ContractFailure) -> Value {
        guard let v = bindings.map({ $0[variables[slot]] }) ?? slots[slot] else {
            throw ContractFailure(.evaluation, "no value is bound to '\(variables[slot])'")
        }
        return v
    }

    private func not(_ a: Int, _ column: Int, _ meter: inout Meter) throws(ContractFailure) -> Value {
        let v = try evaluate(a, &meter)
        guard case .bool(let b) = v else { throw noOverload("!", column, v) }
        return .bool(!b)
    }

    private func negate(_ a: Int, _ column: Int, _ meter: inout Meter) throws(ContractFailure) -> Value {
        let v = try evaluate(a, &meter)
        switch v {
        case .int(let i):
            guard i != .min else { throw ContractFailure(.overflow, "at column \(column): -(\(i)) does not fit in an int") }
            return .int(-i)
        case .rational(let r): return .rational(r.negated)
        default: throw noOverload("-", column, v)
        }
    }

    private func binary(_ op: BinaryOperator, _ a: Int, _ b: Int, _ column: Int, _ meter: inout Meter) throws(ContractFailure) -> Value {
        let l = try operand(a, &meter)
        let r = try operand(b, &meter)
        // Two ints, the common case, without the general dispatch; what fails there (overflow, division by zero,
        // `in`) is left to it, for its errors.
        if case .int(let x) = l, case .int(let y) = r {
            switch op {
            case .less: return .bool(x < y)
            case .lessOrEqual: return .bool(x <= y)
            case .greater: return .bool(x > y)
            case .greaterOrEqual: return .bool(x >= y)
            case .equal: return .bool(x == y)
            case .notEqual: return .bool(x != y)
            case .add:
                let (sum, overflow) = x.addingReportingOverflow(y)
                if !overflow { return .int(sum) }
            case .subtract:
                let (difference, overflow) = x.subtractingReportingOverflow(y)
                if !overflow { return .int(difference) }
            case .multiply:
                let (product, overflow) = x.multipliedReportingOverflow(by: y)
                if !overflow { return .int(product) }
            case .divide:
                let (quotient, overflow) = x.dividedReportingOverflow(by: y)
                if y != 0, !overflow { return .int(quotient) }
            case .remainder:
                let (remainder, overflow) = x.remainderReportingOverflow(dividingBy: y)
                if y != 0, !overflow { return .int(remainder) }
            case .in: break
            }
        }
        return try apply(op, l, r, column, &meter)
    }

    /// Evaluates an operator's operand, the commonest kinds (an int literal, a binding, a field of a binding) in place, saving
    /// a call and the return of its value; charged, and failing, exactly as ``evaluate(_:_:)``.
    @inline(__always)
    private func operand(_ at: Int, _ meter: inout Meter) throws(ContractFailure) -> Value {
        let instruction = program.instructions[at]
        switch instruction.operation {
        case .integer(let i):
            try meter.charge(1, "the expression")
            return .int(i)
        case .selectVariable(let slot, let key):
            try meter.charge(1, "the expression")
            try meter.charge(1, "the expression")
            return try fieldOfBinding(slot, key, instruction.column)
        case .variable(let slot):
            try meter.charge(1, "the expression")
            return try variable(slot)
        default:
            return try evaluate(at, &meter)
        }
    }

    private func conditional(_ c: Int, _ a: Int, _ b: Int, _ column: Int, _ meter: inout Meter) throws(ContractFailure) -> Value {
        guard let which = try condition(c, &meter) else {
            throw ContractFailure(.evaluation, "at column \(column): the condition of '?:' is not a bool")
        }
        return try operand(which ? a : b, &meter)
    }

    /// The condition of `?:`: a comparison of two ints is decided in place, without making a ``Value`` of the
    /// answer; anything else is evaluated. Nil when the condition is not a bool. Charged as ``evaluate(_:_:)``.
    private func condition(_ at: Int, _ meter: inout Meter) throws(ContractFailure) -> Bool? {
        let instruction = program.instructions[at]
        if case .binary(let op, let a, let b) = instruction.operation {
            switch op {
            case .less, .lessOrEqual, .greater, .greaterOrEqual, .equal, .notEqual:
                try meter.charge(1, "the expression")
                let l = try operand(a, &meter)
                let r = try operand(b, &meter)
                if case .int(let x) = l, case .int(let y) = r {
                    switch op {
                    case .less: return x < y
                    case .lessOrEqual: return x <= y
                    case .greater: return x > y
                    case .greaterOrEqual: return x >= y
                    case .equal: return x == y
                    default: return x != y
                    }
                }
                guard case .bool(let answer) = try apply(op, l, r, instruction.column, &meter) else { return nil }
                return answer
            default: break
            }
        }
        guard case .bool(let answer) = try evaluate(at, &meter) else { return nil }
        return answer
    }

    private func index(_ a: Int, _ i: Int, _ column: Int, _ meter: inout Meter) throws(ContractFailure) -> Value {
        let container = try evaluate(a, &meter)
        return try index(container, try evaluate(i, &meter), column)
    }

    private func select(_ target: Value, _ key: Int, _ column: Int) throws(ContractFailure) -> Value {
        guard case .map(let m) = target else {
            throw ContractFailure(.evaluation, "at column \(column): only a map has fields ('\(program.fields[key])')")
        }
        guard let v = Evaluator.field(m, program.fields[key]) else {
            throw ContractFailure(.evaluation, "at column \(column): no such key '\(program.fields[key])'")
        }
        return v
    }

    /// `name.k` for a binding `name` (both nodes already charged): read in place when the caller gave slots and
    /// the field is there; otherwise through ``variable(_:)`` and ``select(_:_:_:)``, for their values and errors.
    private func fieldOfBinding(_ slot: Int, _ key: Int, _ column: Int) throws(ContractFailure) -> Value {
        if bindings == nil, case .map(let m)? = slots[slot], let v = Evaluator.field(m, program.fields[key]) { return v }
        return try select(try variable(slot), key, column)
    }

    private func has(_ a: Int, _ key: Int, _ column: Int, _ meter: inout Meter) throws(ContractFailure) -> Value {
        guard case .map(let m) = try evaluate(a, &meter) else {
            throw ContractFailure(.evaluation, "at column \(column): has() tests a field of a map")
        }
        return .bool(Evaluator.field(m, program.fields[key]) != nil)
    }

    /// `m[name]`; a small map is scanned (see ``scannedMapSize``).
    static func field(_ m: [Value: Value], _ name: String) -> Value? {
        guard m.count <= scannedMapSize else { return m[.string(name)] }
        for entry in m {
            if case .string(let key) = entry.key, key == name { return entry.value }
        }
        return nil
    }

    private func list(_ start: Int, _ count: Int, _ meter: inout Meter) throws(ContractFailure) -> Value {
        try meter.charge(count, "the expression")
        var out: [Value] = []
        out.reserveCapacity(count)
        for item in program.operands[start ..< start + count] { out.append(try evaluate(item, &meter)) }
        return .list(out)
    }

    private func map(_ start: Int, _ count: Int, _ column: Int, _ meter: inout Meter) throws(ContractFailure) -> Value {
        try meter.charge(count, "the expression")
        var out: [Value: Value] = [:]
        out.reserveCapacity(count)
        for entry in 0 ..< count {
            let key = try mapKey(try evaluate(program.operands[start + 2 * entry], &meter), column)
            let value = try evaluate(program.operands[start + 2 * entry + 1], &meter)
            guard out.updateValue(value, forKey: key) == nil else {
                throw ContractFailure(.evaluation, "at column \(column): the map repeats the key \(key)")
            }
        }
        return .map(out)
    }

    private func call(_ f: Function, _ start: Int, _ count: Int, _ column: Int, _ meter: inout Meter) throws(ContractFailure) -> Value {
        var values: [Value] = []
        values.reserveCapacity(count)
        for a in program.operands[start ..< start + count] { values.append(try evaluate(a, &meter)) }
        return try call(f, values, column, &meter)
    }

    private func noOverload(_ op: String, _ column: Int, _ types: Value...) -> ContractFailure {
        let t = types.map(\.typeName).joined(separator: ", ")
        return ContractFailure(.evaluation, "at column \(column): no such overload: \(op)(\(t))")
    }

    /// `&&` and `||` as CEL defines them: commutative, so a side that decides the result (false for `&&`, true for
    /// `||`) wins over an error or a non-bool on the other side; otherwise the first error stands. Running out of
    /// gas always stops the evaluation.
    private func logical(_ a: Int, _ b: Int, _ column: Int, absorbing: Bool, _ meter: inout Meter) throws(ContractFailure) -> Value {
        let op = absorbing ? "||" : "&&"
        var pending: ContractFailure?
        do {
            switch try evaluate(a, &meter) {
            case .bool(let l):
                if l == absorbing { return .bool(absorbing) }
            case let other:
                pending = noOverload(op, column, other)
            }
        } catch {
            if error.code == .outOfGas { throw error }
            pending = error
        }
        switch try evaluate(b, &meter) {
        case .bool(let r):
            if r == absorbing { return .bool(absorbing) }
            if let pending { throw pending }
            return .bool(r)
        case let other:
            throw pending ?? noOverload(op, column, other)
        }
    }


    // MARK: Operators

    private func apply(_ op: BinaryOperator, _ l: Value, _ r: Value, _ column: Int, _ meter: inout Meter) throws(ContractFailure) -> Value {
        switch op {
        case .add, .subtract, .multiply, .divide, .remainder:
            return try arithmetic(op, l, r, column, &meter)
        case .equal:
            return .bool(try Evaluator.equal(l, r, &meter))
        case .notEqual:
            return .bool(!(try Evaluator.equal(l, r, &meter)))
        case .less, .lessOrEqual, .greater, .greaterOrEqual:
            let order = try compare(l, r, op.rawValue, column, &meter)
            switch op {
            case .less: return .bool(order < 0)
            case .lessOrEqual: return .bool(order <= 0)
            case .greater: return .bool(order > 0)
            default: return .bool(order >= 0)
            }
        case .in:
            switch r {
            case .list(let items):
                try meter.charge(items.count, "'in' over a list")
                for item in items where try Evaluator.equal(l, item, &meter) { return .bool(true) }
                return .bool(false)
            case .map(let m):
                guard let key = Evaluator.lookupKey(l) else { return .bool(false) }
                return .bool(m[key] != nil)
            default:
                throw noOverload("in", column, l, r)
            }
        }
    }

    private func arithmetic(_ op: BinaryOperator, _ l: Value, _ r: Value, _ column: Int, _ meter: inout Meter) throws(ContractFailure) -> Value {
        switch (l, r) {
        case (.int(let a), .int(let b)):
            let result: Int64, overflow: Bool
            switch op {
            case .add: (result, overflow) = a.addingReportingOverflow(b)
            case .subtract: (result, overflow) = a.subtractingReportingOverflow(b)
            case .multiply: (result, overflow) = a.multipliedReportingOverflow(by: b)
            case .divide:
                guard b != 0 else { throw ContractFailure(.divisionByZero, "at column \(column): \(a) / 0") }
                (result, overflow) = a.dividedReportingOverflow(by: b)
            default:
                guard b != 0 else { throw ContractFailure(.divisionByZero, "at column \(column): \(a) % 0") }
                (result, overflow) = a.remainderReportingOverflow(dividingBy: b)
            }
            guard !overflow else { throw ContractFailure(.overflow, "at column \(column): \(a) \(op.rawValue) \(b) does not fit in an int") }
            return .int(result)
        case (.string(let a), .string(let b)) where op == .add:
            try meter.charge(Evaluator.units(bytes: a.utf8.count + b.utf8.count), "string concatenation")
            return .string(a + b)
        case (.list(let a), .list(let b)) where op == .add:
            try meter.charge(a.count + b.count, "list concatenation")
            return .list(a + b)
        default:
            guard op != .remainder, let a = l.number, let b = r.number else { throw noOverload(op.rawValue, column, l, r) }
            do {
                switch op {
                case .add: return .rational(try a.adding(b))
                case .subtract: return .rational(try a.subtracting(b))
                case .multiply: return .rational(try a.multiplied(by: b))
                default: return .rational(try a.divided(by: b))
                }
            } catch {
                throw ContractFailure(error.code, "at column \(column): \(error.message)")
            }
        }
    }

    /// The order of two values of one ordered type (numbers across int and rational), or no overload.
    private func compare(_ l: Value, _ r: Value, _ op: String, _ column: Int, _ meter: inout Meter) throws(ContractFailure) -> Int {
        switch (l, r) {
        case (.int(let a), .int(let b)): return a < b ? -1 : (a == b ? 0 : 1)
        case (.string(let a), .string(let b)):
            try meter.charge(Evaluator.units(bytes: Swift.min(a.utf8.count, b.utf8.count)), "string comparison")
            return Evaluator.order(a, b)
        case (.bool(let a), .bool(let b)): return a == b ? 0 : (a ? 1 : -1)
        default:
            guard let a = l.number, let b = r.number else { throw noOverload(op, column, l, r) }
            return a < b ? -1 : (a == b ? 0 : 1)
        }
    }

    /// Strings order by their Unicode scalars (code points), as CEL says; UTF-8 bytes order the same way.
    static func order(_ a: String, _ b: String) -> Int {
        if a == b { return 0 }
        return a.utf8.lexicographicallyPrecedes(b.utf8) ? -1 : 1
    }

    static func units(bytes: Int) -> Int { (bytes + bytesPerUnit - 1) / bytesPerUnit }

    /// CEL's equality: numbers compare by value across int and rational; lists and maps element by element;
    /// values of different types are unequal. Each element compared costs one unit.
    static func equal(_ l: Value, _ r: Value, _ meter: inout Meter) throws(ContractFailure) -> Bool {
        switch (l, r) {
        case (.int(let a), .int(let b)): return a == b
        case (.string(let a), .string(let b)):
            try meter.charge(units(bytes: Swift.min(a.utf8.count, b.utf8.count)), "string comparison")
            // Scalar by scalar: Swift's String == would also equate canonically equivalent texts, CEL does not.
            return a.utf8.elementsEqual(b.utf8)
        case (.bool(let a), .bool(let b)): return a == b
        case (.list(let a), .list(let b)):
            guard a.count == b.count else { return false }
            try meter.charge(a.count, "list comparison")
            for (x, y) in zip(a, b) where !(try equal(x, y, &meter)) { return false }
            return true
        case (.map(let a), .map(let b)):
            guard a.count == b.count else { return false }
            // Entries in key order, never the dictionary's: its order differs between processes (seeded hashing),
            // and the comparison stops at the first difference, so the gas charged would differ between validators.
            try meter.charge(2 * a.count, "map comparison")
            for k in a.keys.sorted(by: Evaluator.keyPrecedes) {
                guard let v = a[k], let w = b[k], try equal(v, w, &meter) else { return false }
            }
            return true
        default:
            guard let a = l.number, let b = r.number else { return false }
            return a == b
        }
    }

    /// The order map keys are visited in: ints (by value), then strings (by their UTF-8 bytes), then bools.
    static func keyPrecedes(_ x: Value, _ y: Value) -> Bool {
        switch (x, y) {
        case (.int(let a), .int(let b)): return a < b
        case (.string(let a), .string(let b)): return a.utf8.lexicographicallyPrecedes(b.utf8)
        case (.bool(let a), .bool(let b)): return !a && b
        default: return rank(x) < rank(y)
        }
    }

    private static func rank(_ v: Value) -> Int {
        switch v {
        case .int: 0
        case .string: 1
        case .bool: 2
        default: 3
        }
    }

    /// The key under which `v` is found in a map: an integral rational looks up its int.
    static func lookupKey(_ v: Value) -> Value? {
        switch v {
        case .int, .string, .bool: v
        case .rational(let r): r.int64.map(Value.int)
        default: nil
        }
    }

    private func mapKey(_ v: Value, _ column: Int) throws(ContractFailure) -> Value {
        switch v {
        case .int, .string, .bool: return v
        default: throw ContractFailure(.evaluation, "at column \(column): a map key is an int, a string or a bool, not a \(v.typeName)")
        }
    }

    private func index(_ container: Value, _ i: Value, _ column: Int) throws(ContractFailure) -> Value {
        switch container {
        case .list(let items):
            let position: Int64
            switch i {
            case .int(let p): position = p
            case .rational(let r) where r.int64 != nil: position = r.int64 ?? 0
            default: throw noOverload("_[_]", column, container, i)
            }
            guard position >= 0, position < items.count else {
                throw ContractFailure(.evaluation, "at column \(column): index \(position) out of range (the list has \(items.count))")
            }
            return items[Int(position)]
        case .map(let m):
            guard let key = Evaluator.lookupKey(i), let v = m[key] else {
                throw ContractFailure(.evaluation, "at column \(column): no such key \(i)")
            }
            return v
        default:
            throw noOverload("_[_]", column, container, i)
        }
    }

    // MARK: Functions

    private func call(_ f: Function, _ args: [Value], _ column: Int, _ meter: inout Meter) throws(ContractFailure) -> Value {
        func failed(_ e: ContractFailure) -> ContractFailure { ContractFailure(e.code, "at column \(column): \(e.message)") }
        switch (f, args.count) {
        case (.size, 1):
            switch args[0] {
            case .string(let s):
                try meter.charge(Evaluator.units(bytes: s.utf8.count), "size()")
                return .int(Int64(s.unicodeScalars.count))
            case .list(let l): return .int(Int64(l.count))
            case .map(let m): return .int(Int64(m.count))
            default: throw noOverload("size", column, args[0])
            }
        case (.int, 1):
            switch args[0] {
            case .int: return args[0]
            case .rational(let r):
                // Truncates toward zero, like CEL's int(double).
                guard let i = Int64(exactly: r.numerator / r.denominator) else {
                    throw ContractFailure(.overflow, "at column \(column): int(\(r)) does not fit in an int")
                }
                return .int(i)
            case .string(let s):
                guard let i = Int64(s) else { throw ContractFailure(.evaluation, "at column \(column): int(\"\(s)\"): not an integer") }
                return .int(i)
            default: throw noOverload("int", column, args[0])
            }
        case (.string, 1):
            switch args[0] {
            case .string: return args[0]
            case .int(let i): return .string(String(i))
            case .bool(let b): return .string(b ? "true" : "false")
            case .rational(let r): return .string(r.description)
            default: throw noOverload("string", column, args[0])
            }
        case (.rational, 1):
            switch args[0] {
            case .int(let i): return .rational(Rational(integer: i))
            case .rational: return args[0]
            case .string(let s):
                do { return .rational(try Rational(parsing: s)) } catch { throw failed(error) }
            default: throw noOverload("rational", column, args[0])
            }
        case (.rational, 2):
            guard let n = args[0].number, let d = args[1].number else { throw noOverload("rational", column, args[0], args[1]) }
            do { return .rational(try n.divided(by: d)) } catch { throw failed(error) }
        case (.min, 2), (.max, 2):
            guard let a = args[0].number, let b = args[1].number else { throw noOverload(f.rawValue, column, args[0], args[1]) }
            // The operand itself is the result (an int stays an int); on a tie, the first.
            if f == .min { return b < a ? args[1] : args[0] }
            return a < b ? args[1] : args[0]
        case (.contains, 2), (.startsWith, 2), (.endsWith, 2):
            guard case .string(let s) = args[0], case .string(let t) = args[1] else {
                throw noOverload(f.rawValue, column, args[0], args[1])
            }
            let n = s.utf8.count, m = t.utf8.count
            switch f {
            case .startsWith:
                try meter.charge(Evaluator.units(bytes: m), "startsWith()")
                return .bool(s.utf8.starts(with: t.utf8))
            case .endsWith:
                try meter.charge(Evaluator.units(bytes: m), "endsWith()")
                return .bool(s.utf8.reversed().starts(with: t.utf8.reversed()))
            default:
                // A naive search: its worst case (n × m byte comparisons) is what is charged.
                try meter.charge(Evaluator.units(bytes: Swift.max(1, n) * Swift.max(1, m)), "contains()")
                return .bool(Evaluator.contains(Array(s.utf8), Array(t.utf8)))
            }
        default:
            throw noOverload(f.rawValue, column, args[0])
        }
    }

    /// Whether `needle` occurs in `haystack`; on UTF-8 bytes this is the same as on Unicode scalars.
    static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        if needle.isEmpty { return true }
        guard needle.count <= haystack.count else { return false }
        for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
            if haystack[start..<(start + needle.count)].elementsEqual(needle) { return true }
        }
        return false
    }
}
