import Contracts
import Testing

/// The contract expression language (docs/contracts-expressions.md): CEL's precedence and semantics for the subset,
/// its refusals with columns, its limits and its metering.
@Suite struct ExpressionTests {
    static func eval(_ source: String, _ bindings: [String: Value] = [:], budget: UInt64 = 100_000) throws(ContractFailure) -> Value {
        var meter = Meter(budget: budget)
        return try Expression(source).evaluate(bindings, meter: &meter)
    }

    /// The failure `source` gives, compiled or evaluated.
    static func failure(_ source: String, _ bindings: [String: Value] = [:], budget: UInt64 = 100_000) -> ContractFailure? {
        do {
            _ = try eval(source, bindings, budget: budget)
            return nil
        } catch {
            return error
        }
    }

    static func rational(_ n: Int128, _ d: Int128) throws -> Value { .rational(try Rational(n, d)) }

    // MARK: Precedence

    @Test(arguments: [
        ("1 + 2 * 3", Value.int(7)),
        ("(1 + 2) * 3", .int(9)),
        ("10 - 4 - 3", .int(3)),
        ("100 / 10 / 5", .int(2)),
        ("7 % 4 * 2", .int(6)),
        ("-2 * 3", .int(-6)),
        ("- -5", .int(5)),
        ("!true || true", .bool(true)),
        ("true || false && false", .bool(true)),
        ("1 + 1 == 2 && 3 > 2", .bool(true)),
        ("1 < 2 == true", .bool(true)),
        ("2 in [1, 2] && !(3 in [1, 2])", .bool(true)),
        ("false ? 1 : true ? 2 : 3", .int(2)),
        ("true ? 1 : 2 + 10", .int(1)),
        ("1 + 2 < 4 ? 'a' + 'b' : 'c'", .string("ab")),
        ("[1, [2, 3]][1][0]", .int(2)),
        ("{'a': {'b': 4}}.a.b * 2", .int(8)),
        ("-[1, 2][1]", .int(-2)),
        ("!{'x': false}.x", .bool(true)),
    ])
    func precedenceAndAssociativityAreCELs(source: String, expected: Value) throws {
        #expect(try Self.eval(source) == expected)
    }

    // MARK: Operators

    @Test(arguments: [
        ("3 == 3", true), ("3 != 3", false), ("3 < 4", true), ("4 <= 4", true), ("4 > 4", false), ("4 >= 5", false),
        ("rational(7, 2) > 3", true), ("3 >= rational(7, 2)", false), ("rational(1, 2) <= rational(2, 4)", true),
        ("rational(1, 2) != rational(2, 4)", false), ("'ab' <= 'ab'", true), ("'b' > 'ab'", true),
        ("'ab' >= 'b'", false), ("false < true", true), ("true <= false", false), ("'é' > 'z'", true),
        ("1 in [3, 2, 1]", true), ("'z' in ['a']", false), ("'k' in {'k': 0}", true), ("1 in {'1': 0}", false),
    ])
    func comparisonOperatorsOrderNumbersStringsAndBools(source: String, expected: Bool) throws {
        #expect(try Self.eval(source) == .bool(expected))
    }

    @Test(arguments: ["[1] < [2]", "{'a': 1} <= {'a': 1}", "1 > 'a'", "true < 1", "1 in 1", "'a' in 'abc'"])
    func comparingWhatHasNoOrderIsAnError(source: String) {
        #expect(Self.failure(source)?.code == .evaluation)
    }

    @Test func integerArithmeticTruncatesAndChecks() throws {
        #expect(try Self.eval("7 / 2") == .int(3))
        #expect(try Self.eval("-7 / 2") == .int(-3))
        #expect(try Self.eval("-7 % 3") == .int(-1))
        #expect(try Self.eval("7 % -3") == .int(1))
        #expect(try Self.eval("0x10 + 1") == .int(17))
        #expect(try Self.eval("-9223372036854775808") == .int(.min))
        #expect(Self.failure("9223372036854775807 + 1")?.code == .overflow)
        #expect(Self.failure("-9223372036854775808 - 1")?.code == .overflow)
        #expect(Self.failure("5000000000 * 5000000000")?.code == .overflow)
        #expect(Self.failure("-(-9223372036854775808)")?.code == .overflow)
        #expect(Self.failure("-9223372036854775808 / -1")?.code == .overflow)
        #expect(Self.failure("-9223372036854775808 % -1")?.code == .overflow)
        #expect(Self.failure("15 / 0")?.code == .divisionByZero)
        #expect(Self.failure("15 % 0")?.code == .divisionByZero)
        #expect(Self.failure("9223372036854775808")?.code == .syntax)
    }

    @Test func rationalsAreExactAndMixWithInts() throws {
        #expect(try Self.eval("rational(7, 2) + 1") == Self.rational(9, 2))
        #expect(try Self.eval("rational(1, 3) * 3") == Self.rational(1, 1))
        #expect(try Self.eval("rational(1, 3) * 3 == 1") == .bool(true))
        #expect(try Self.eval("2 / rational(4, 1)") == Self.rational(1, 2))
        #expect(try Self.eval("rational(-7, 2) < -3") == .bool(true))
        #expect(try Self.eval("x - 1", ["x": Self.rational(5, 2)]) == Self.rational(3, 2))
        #expect(try Self.eval("-rational(1, 2)") == Self.rational(-1, 2))
        #expect(try Self.eval("rational('7/2')") == Self.rational(7, 2))
        #expect(try Self.eval("int(rational(-7, 2))") == .int(-3))
        #expect(try Self.eval("int(rational(7, 2))") == .int(3))
        #expect(try Self.eval("string(rational(7, 2))") == .string("7/2"))
        #expect(try Self.eval("min(3, rational(5, 2))") == Self.rational(5, 2))
        #expect(try Self.eval("max(3, rational(5, 2))") == .int(3))
        #expect(Self.failure("rational(1, 0)")?.code == .divisionByZero)
        #expect(Self.failure("rational(1, 2) % 2")?.code == .evaluation)
        #expect(Self.failure("1 / (rational(1, 2) - rational(1, 2))")?.code == .divisionByZero)
    }

    @Test func stringsConcatenateCompareAndSearch() throws {
        #expect(try Self.eval("'ab' + \"cd\"") == .string("abcd"))
        #expect(try Self.eval("'a' < 'b' && 'abc' > 'ab' && 'B' < 'a'") == .bool(true))
        #expect(try Self.eval("size('héllo') == 5 && 'héllo'.size() == 5") == .bool(true))
        #expect(try Self.eval("'icu-north'.startsWith('icu') && 'icu-north'.endsWith('north') && 'icu-north'.contains('-n')") == .bool(true))
        #expect(try Self.eval("'abc'.contains('abd')") == .bool(false))
        #expect(try Self.eval("'a\\tb\\u00e9\\x41\\101'") == .string("a\tbéAA"))
        #expect(try Self.eval("r'a\\tb'") == .string("a\\tb"))
        #expect(try Self.eval("'''it's'''") == .string("it's"))
        #expect(try Self.eval("string(42) + string(true)") == .string("42true"))
        #expect(try Self.eval("int('-12')") == .int(-12))
        #expect(Self.failure("int('12x')")?.code == .evaluation)
        #expect(Self.failure("'a' + 1")?.code == .evaluation)
        #expect(Self.failure("'a' < 1")?.code == .evaluation)
    }

    @Test func listsAndMapsIndexSelectAndTestMembership() throws {
        let attributes: Value = .map([.string("sofa"): .int(9), .string("unit"): .string("icu")])
        #expect(try Self.eval("attributes.sofa", ["attributes": attributes]) == .int(9))
        #expect(try Self.eval("attributes['unit']", ["attributes": attributes]) == .string("icu"))
        #expect(try Self.eval("has(attributes.sofa) && !has(attributes.age)", ["attributes": attributes]) == .bool(true))
        #expect(try Self.eval("'sofa' in attributes && !('age' in attributes)", ["attributes": attributes]) == .bool(true))
        #expect(try Self.eval("[1, 2] + [3] == [1, 2, 3]") == .bool(true))
        #expect(try Self.eval("size([1, 2, 3]) + size({1: 'a'})") == .int(4))
        #expect(try Self.eval("{1: 'a', 'k': true}[1]") == .string("a"))
        #expect(try Self.eval("[1, 'a'] == [1, 'a'] && [1] != [2] && {'a': 1} == {'a': 1}") == .bool(true))
        #expect(try Self.eval("[[1]] == [[rational(2, 2)]]") == .bool(true))
        #expect(Self.failure("attributes.age", ["attributes": attributes])?.message.contains("no such key 'age'") == true)
        #expect(Self.failure("[1, 2][2]")?.message.contains("out of range") == true)
        #expect(Self.failure("[1, 2][-1]")?.code == .evaluation)
        #expect(Self.failure("{'a': 1, 'a': 2}")?.code == .evaluation)
        #expect(Self.failure("{[1]: 2}")?.code == .evaluation)
        #expect(Self.failure("(1).x")?.code == .evaluation)
        #expect(Self.failure("has((1).x)")?.code == .evaluation)
    }

    @Test func equalityAcrossTypesIsFalseNotAnError() throws {
        #expect(try Self.eval("1 == 'a'") == .bool(false))
        #expect(try Self.eval("[1] != {'a': 1}") == .bool(true))
        #expect(try Self.eval("1 == rational(2, 2)") == .bool(true))
        #expect(try Self.eval("true == 1") == .bool(false))
    }

    @Test func logicalOperatorsAreCommutativeOverErrors() throws {
        // CEL: a side that decides the result wins over an error on the other side, whichever side errs.
        #expect(try Self.eval("1 / 0 == 1 && false") == .bool(false))
        #expect(try Self.eval("false && 1 / 0 == 1") == .bool(false))
        #expect(try Self.eval("1 / 0 == 1 || true") == .bool(true))
        #expect(try Self.eval("true || 'x'") == .bool(true))
        #expect(try Self.eval("'x' || true") == .bool(true))
        #expect(Self.failure("1 / 0 == 1 && true")?.code == .divisionByZero)
        #expect(Self.failure("true && 1 / 0 == 1")?.code == .divisionByZero)
        #expect(Self.failure("false || 'x'")?.code == .evaluation)
        #expect(Self.failure("!1")?.code == .evaluation)
        #expect(Self.failure("1 ? 2 : 3")?.code == .evaluation)
    }

    @Test func unboundNamesFailOnlyWhenReached() throws {
        #expect(try Self.eval("true || missing") == .bool(true))
        #expect(Self.failure("missing + 1")?.message.contains("'missing'") == true)
        let e = try Expression("b + a * b")
        #expect(e.variables == ["b", "a"])
        var meter = Meter(budget: 100)
        #expect(try e.evaluate(slots: [.int(2), .int(5)], meter: &meter) == .int(12))
    }

    // MARK: Refusals

    @Test(arguments: [
        ("1 + 3.5", 5, "rational(7, 2)"),
        ("1.5e3", 1, "floating-point"),
        ("42u", 1, "unsigned"),
        ("b'abc'", 1, "bytes"),
        ("x + rb'abc'", 5, "bytes"),
        ("[1, 2].all(x, x > 0)", 8, "no loops"),
        ("[1, 2].exists(x, x > 0)", 8, "no loops"),
        ("[1, 2].map(x, x * 2)", 8, "no loops"),
        ("[1, 2].filter(x, x > 0)", 8, "no loops"),
        ("double(1)", 1, "floating point"),
        ("f(1)", 1, "no user functions"),
        ("x.frobnicate()", 3, "no user functions"),
        ("1 +", 4, "ends too early"),
        ("(1 + 2", 7, "expected ')'"),
        ("1 = 2", 3, "'=='"),
        ("a & b", 3, "'&&'"),
        ("1 2", 3, "after the end"),
        ("'abc", 1, "not closed"),
        ("null", 1, "null"),
        ("has(x)", 1, "field selection"),
        ("size(1, 2)", 1, "argument"),
        ("if", 1, "reserved"),
        ("'\\q'", 2, "unknown escape"),
    ])
    func refusesWhatTheSubsetLeavesOutWithTheColumn(source: String, column: Int, words: String) {
        let failure = Self.failure(source)
        #expect(failure?.code == .syntax)
        #expect(failure?.message.hasPrefix("at column \(column): ") == true, "\(failure?.message ?? "no failure")")
        #expect(failure?.message.contains(words) == true, "\(failure?.message ?? "no failure")")
    }

    @Test func nestingIsBoundedAtMaxDepth() throws {
        let ok = String(repeating: "(", count: Expression.maxDepth) + "7" + String(repeating: ")", count: Expression.maxDepth)
        #expect(try Self.eval(ok) == .int(7))
        let deep = "(" + ok + ")"
        let failure = Self.failure(deep)
        #expect(failure?.code == .syntax)
        #expect(failure?.message.contains("deeper than \(Expression.maxDepth)") == true)
        // Deep lists and hostile inputs far past the bound fail the same way, without exhausting the stack.
        #expect(Self.failure(String(repeating: "[", count: 100_000))?.code == .tooCostly)
        #expect(Self.failure(String(repeating: "[", count: 4_000))?.code == .syntax)
    }

    @Test func theTreesHeightIsBoundedAtMaxHeightSoEvaluationCannotExhaustTheStack() throws {
        // A chain of operators is a loop in the parser but a left-deep tree, which the evaluator recurses into.
        let chain = Array(repeating: "1", count: Expression.maxHeight).joined(separator: " + ")
        #expect(try Self.eval(chain) == .int(Int64(Expression.maxHeight)))
        let longer = chain + " + 1"
        let failure = Self.failure(longer)
        #expect(failure?.code == .syntax)
        #expect(failure?.message.contains("\(Expression.maxHeight + 1) levels deep") == true, "\(failure?.message ?? "no failure")")
        // The longest chain the source bound allows is refused just as well (and measured without recursion).
        let hostile = Array(repeating: "x", count: Expression.maxSourceLength / 2).joined(separator: "+")
        #expect(Self.failure(hostile)?.code == .syntax)
        // The CEL conformance shapes stay inside: 32 conditions, 32 negations.
        #expect(try Self.eval(Array(repeating: "false", count: 31).joined(separator: " || ") + " || true") == .bool(true))
        #expect(try Self.eval(String(repeating: "!", count: 32) + "true") == .bool(true))
    }

    @Test func sourceLengthAndStaticCostAreBounded() throws {
        #expect(try Expression("1 + 2 * x").costBound == 5)
        let long = String(repeating: " ", count: Expression.maxSourceLength) + "1"
        #expect(Self.failure(long)?.code == .tooCostly)
        let chain = Array(repeating: "x", count: 40).joined(separator: " + ")
        #expect(try Expression(chain, maxCost: 79).costBound == 79)
        #expect(throws: ContractFailure.self) { try Expression(chain, maxCost: 78) }
        do {
            _ = try Expression(chain, maxCost: 78)
        } catch {
            #expect(error.code == .tooCostly)
        }
    }

    // MARK: Metering

    @Test func everyNodeCostsOneUnitAndATinyBudgetRunsOut() throws {
        let e = try Expression("1 + 2 * 3")
        var meter = Meter(budget: 5)
        #expect(try e.evaluate([:], meter: &meter) == .int(7))
        #expect(meter.used == 5)
        var short = Meter(budget: 4)
        #expect(throws: ContractFailure(.outOfGas, "the expression ran out of gas: the budget is 4 units")) {
            try e.evaluate([:], meter: &short)
        }
        // A short-circuit evaluates, and charges, fewer nodes.
        var shortCircuit = Meter(budget: 100)
        _ = try Expression("false && (1 + 1 == 2)").evaluate([:], meter: &shortCircuit)
        #expect(shortCircuit.used == 2)
    }

    @Test func runningOutOfGasIsNeverAbsorbedByALogicalOperator() throws {
        // The right side of || decides when the left errs, but running out of gas on the left must stop it.
        let e = try Expression("(1 + 1 + 1 + 1 == 4) || true")
        var meter = Meter(budget: 4)
        #expect(throws: ContractFailure.self) { try e.evaluate([:], meter: &meter) }
        #expect(meter.used == meter.budget)
    }

    @Test func dataDependentWorkIsCharged() throws {
        let big = Value.string(String(repeating: "a", count: 1_600))
        var meter = Meter(budget: 1_000)
        _ = try Expression("s + s").evaluate(["s": big], meter: &meter)
        #expect(meter.used == 3 + 200)
        let list = Value.list((0..<500).map { Value.int(Int64($0)) })
        var inMeter = Meter(budget: 1_000)
        #expect(try Expression("499 in l").evaluate(["l": list], meter: &inMeter) == .bool(true))
        #expect(inMeter.used == 3 + 500)
        var tiny = Meter(budget: 100)
        #expect(throws: ContractFailure.self) { try Expression("l + l").evaluate(["l": list], meter: &tiny) }
    }

    // MARK: The triage expression

    @Test(arguments: [(5, 3), (7, 3), (8, 2), (11, 2), (12, 0), (20, 0)])
    func triagePriorityFollowsTheSOFABands(sofa: Int64, priority: Int64) throws {
        // allocation-examples.md, priority tiers: SOFA ≤ 7 red, 8–11 yellow, > 11 blue.
        let e = try Expression("attributes.sofa <= 7 ? 3 : (attributes.sofa <= 11 ? 2 : 0)")
        var meter = Meter(budget: 100)
        let bindings: [String: Value] = ["attributes": .map([.string("sofa"): .int(sofa)])]
        #expect(try e.evaluate(bindings, meter: &meter) == .int(priority))
        #expect(meter.used <= e.costBound)
    }

    @Test func triageReadsClaimAttributesThroughTheClaimsBindings() throws {
        let claim = Claim(claimant: "a", units: Rational(1), attributes: ["sofa": .rational(try Rational(19, 2))])
        let e = try Expression("attributes.sofa <= 7 ? 3 : (attributes.sofa <= 11 ? 2 : 0)")
        var meter = Meter(budget: 100)
        #expect(try e.evaluate(claim.bindings(supply: Rational(4), epoch: 1), meter: &meter) == .int(2))
    }
}
