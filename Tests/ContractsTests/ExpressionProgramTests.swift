import Contracts
import Testing

/// The evaluator's shortcuts (a field of a binding in one instruction, operands evaluated in place, ints without
/// the general dispatch, small maps scanned instead of hashed) give the gas, the values and the failures that the
/// general path gives: gas and failures are part of stored results.
@Suite struct ExpressionProgramTests {
    /// The value and the gas of `source`, by name and by slot; both entry points must agree.
    static func run(_ source: String, _ bindings: [String: Value], budget: UInt64 = 1_000) throws -> (value: Result<Value, ContractFailure>, used: UInt64) {
        let e = try Expression(source)
        var byName = Meter(budget: budget)
        let named = Result { () throws(ContractFailure) -> Value in try e.evaluate(bindings, meter: &byName) }
        var bySlot = Meter(budget: budget)
        let slotted = Result { () throws(ContractFailure) -> Value in try e.evaluate(slots: e.variables.map { bindings[$0] }, meter: &bySlot) }
        #expect(named == slotted, "\(source): by name \(named), by slot \(slotted)")
        #expect(byName.used == bySlot.used, "\(source): by name \(byName.used) units, by slot \(bySlot.used)")
        return (named, byName.used)
    }

    static func failure(_ source: String, _ bindings: [String: Value], budget: UInt64 = 1_000) throws -> ContractFailure? {
        if case .failure(let f) = try run(source, bindings, budget: budget).value { return f }
        return nil
    }

    static let attributes: [String: Value] = ["attributes": .map([.string("sofa"): .int(9), .string("beds"): .int(40), .int(1): .string("one")])]

    /// Ten entries: more than the evaluator scans, so found by hashing.
    static let large: [String: Value] = {
        var m: [Value: Value] = [.int(1): .string("one")]
        for i in 0 ..< 9 { m[.string("k\(i)")] = .int(Int64(i)) }
        m[.string("sofa")] = .int(9)
        return ["attributes": .map(m)]
    }()

    @Test func aFieldOfABindingCostsTwoUnitsAsTwoNodesDo() throws {
        // Each conditional, its `<=`, the select, the binding and the literal (5 + 5), and the branch taken.
        let triage = try Self.run("attributes.sofa <= 7 ? 3 : (attributes.sofa <= 11 ? 2 : 0)", Self.attributes)
        #expect(triage.value == .success(.int(2)))
        #expect(triage.used == 11)
        // The same field through a parenthesised binding, and of a map literal (select, map, its entry, key, value).
        #expect(try Self.run("(attributes).sofa", Self.attributes).used == 2)
        #expect(try Self.run("{'sofa': 9}.sofa", [:]).used == 5)
        #expect(try Self.run("units * 2 + attributes.beds - attributes.staff / 2",
                             ["units": .int(3), "attributes": .map([.string("beds"): .int(40), .string("staff"): .int(11)])]).value == .success(.int(41)))
    }

    @Test func runningOutOfGasInsideAFieldOfABindingStopsWhereTheTreeWould() throws {
        // One unit pays for the select, not for the binding it reads.
        let out = try Self.run("attributes.sofa", Self.attributes, budget: 1)
        #expect(out.used == 1)
        guard case .failure(let f) = out.value else { Issue.record("ran with 1 unit: \(out.value)"); return }
        #expect(f.code == .outOfGas)
        #expect(try Self.run("attributes.sofa", Self.attributes, budget: 2).value == .success(.int(9)))
        // As an operand: `<=` and the select are paid, the binding is not.
        #expect(try Self.failure("attributes.sofa <= 7", Self.attributes, budget: 2)?.code == .outOfGas)
        #expect(try Self.failure("attributes.sofa <= 7", Self.attributes, budget: 3)?.code == .outOfGas)
        #expect(try Self.run("attributes.sofa <= 7", Self.attributes, budget: 4).value == .success(.bool(false)))
    }

    @Test func aFieldOfABindingFailsAsTheTreeDid() throws {
        #expect(try Self.failure("attributes.sofa", [:])?.message == "no value is bound to 'attributes'")
        #expect(try Self.failure("attributes.sofa + 1", [:])?.message == "no value is bound to 'attributes'")
        #expect(try Self.failure("x.sofa", ["x": .int(1)])?.message == "at column 3: only a map has fields ('sofa')")
        #expect(try Self.failure("1 + attributes.staff", Self.attributes)?.message == "at column 16: no such key 'staff'")
        #expect(try Self.failure("attributes.staff", Self.large)?.message == "at column 12: no such key 'staff'")
    }

    @Test(arguments: [attributes, large])
    func smallAndLargeMapsFindTheSameFields(_ bindings: [String: Value]) throws {
        #expect(try Self.run("attributes.sofa", bindings).value == .success(.int(9)))
        #expect(try Self.run("has(attributes.sofa)", bindings).value == .success(.bool(true)))
        #expect(try Self.run("has(attributes.staff)", bindings).value == .success(.bool(false)))
        // An int key is not a field named by its text.
        #expect(try Self.failure("attributes.one", bindings)?.code == .evaluation)
        #expect(try Self.run("attributes[1]", bindings).value == .success(.string("one")))
        #expect(try Self.run("attributes['sofa']", bindings).value == .success(.int(9)))
        #expect(try Self.run("'sofa' in attributes", bindings).value == .success(.bool(true)))
    }

    @Test func aComparisonAsAConditionIsChargedAndFailsAsAnyCondition() throws {
        let x: [String: Value] = ["x": .int(7), "r": .rational(try Rational(15, 2)), "s": .string("a")]
        // ?:, <, x, 8, and the branch: 5 units.
        let decided = try Self.run("x < 8 ? 1 : 2", x)
        #expect(decided.value == .success(.int(1)))
        #expect(decided.used == 5)
        #expect(try Self.failure("x < 8 ? 1 : 2", x, budget: 4)?.code == .outOfGas)
        #expect(try Self.run("x < 8 ? 1 : 2", x, budget: 5).value == .success(.int(1)))
        // Each comparison at its boundary.
        #expect(try Self.run("x < 7 ? 1 : 2", x).value == .success(.int(2)))
        #expect(try Self.run("x <= 7 ? 1 : 2", x).value == .success(.int(1)))
        #expect(try Self.run("x > 7 ? 1 : 2", x).value == .success(.int(2)))
        #expect(try Self.run("x >= 7 ? 1 : 2", x).value == .success(.int(1)))
        #expect(try Self.run("x == 7 ? 1 : 2", x).value == .success(.int(1)))
        #expect(try Self.run("x != 7 ? 1 : 2", x).value == .success(.int(2)))
        #expect(try Self.run("x < r ? 1 : 2", x).value == .success(.int(1)))
        #expect(try Self.run("r >= x ? 1 : 2", x).value == .success(.int(1)))
        #expect(try Self.run("x == s ? 1 : 2", x).value == .success(.int(2)))
        #expect(try Self.run("[x] == [7] ? 1 : 2", x).value == .success(.int(1)))
        #expect(try Self.run("s != 'a' ? 1 : 2", x).value == .success(.int(2)))
        #expect(try Self.failure("x < s ? 1 : 2", x).map { "\($0)" } == "evaluation: at column 3: no such overload: <(int, string)")
        #expect(try Self.failure("x + 1 ? 1 : 2", x).map { "\($0)" } == "evaluation: at column 7: the condition of '?:' is not a bool")
        #expect(try Self.run("x in [7] ? 1 : 2", x).value == .success(.int(1)))
    }

    @Test func intOperandsFailAsTheGeneralPathDoes() throws {
        let x: [String: Value] = ["x": .int(7), "big": .int(.max), "small": .int(.min), "r": .rational(try Rational(1, 2))]
        #expect(try Self.failure("x / 0", x).map { "\($0)" } == "divisionByZero: at column 3: 7 / 0")
        #expect(try Self.failure("x % 0", x).map { "\($0)" } == "divisionByZero: at column 3: 7 % 0")
        #expect(try Self.failure("big + 1", x).map { "\($0)" } == "overflow: at column 5: 9223372036854775807 + 1 does not fit in an int")
        #expect(try Self.failure("small - 1", x).map { "\($0)" } == "overflow: at column 7: -9223372036854775808 - 1 does not fit in an int")
        #expect(try Self.failure("big * 2", x).map { "\($0)" } == "overflow: at column 5: 9223372036854775807 * 2 does not fit in an int")
        #expect(try Self.failure("small / -1", x).map { "\($0)" } == "overflow: at column 7: -9223372036854775808 / -1 does not fit in an int")
        #expect(try Self.failure("small % -1", x).map { "\($0)" } == "overflow: at column 7: -9223372036854775808 % -1 does not fit in an int")
        #expect(try Self.failure("x in x", x).map { "\($0)" } == "evaluation: at column 3: no such overload: in(int, int)")
        #expect(try Self.run("-7 / 2", x).value == .success(.int(-3)))
        #expect(try Self.run("-7 % 2", x).value == .success(.int(-1)))
        #expect(try Self.run("x * 3 - 1", x).value == .success(.int(20)))
        // An int beside a rational takes the general path.
        #expect(try Self.run("x + r", x).value == .success(.rational(try Rational(15, 2))))
        #expect(try Self.run("x > r", x).value == .success(.bool(true)))
        #expect(try Self.run("x == 7 && x != 8 && x >= 7 && x < 8", x).value == .success(.bool(true)))
    }
}
