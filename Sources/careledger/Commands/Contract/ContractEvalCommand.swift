import ArgumentParser
import Contracts
import Foundation

/// `careledger contract eval [EXPR]`: evaluates expressions of the contract language (docs/contracts-expressions.md)
/// the way a priority or weight expression is evaluated for a claim, to try one out or to check the evaluator
/// against another CEL implementation (scripts/cel-conformance.py).
struct ContractEvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Evaluate contract expressions (the CEL subset of priority and weight expressions).",
        discussion: """
            With EXPR, evaluates it once with --bindings and prints one JSON line: {"value": V} (exit 0), or \
            {"error": CODE, "message": TEXT} (exit 1), CODE being syntax, tooCostly, evaluation, overflow, \
            divisionByZero or outOfGas. --bindings that are not a JSON object of such values exit 64.

            Without EXPR, reads JSON lines {"expr": "...", "bindings": {...}} from standard input and writes one \
            result line for each, in order (exit 0; a line that is not such an object gives {"error": "input"}).

            Bindings are JSON: integers, strings, booleans, lists and objects (maps with string keys); a string \
            stays a string (write rational(7, 2) in the expression for 7/2). In results, an int, a string, a \
            bool and a list are themselves; a rational is {"rational": "7/2"}; a map is {"map": [[key, value], …]} \
            sorted by key, so that map keys of every type survive.
            """
    )

    @Argument(help: "The expression; omit it to read JSON lines from standard input.")
    var expression: String?

    @Option(name: .long, help: "The bindings for EXPR, as a JSON object (default {}).")
    var bindings: String?

    @Option(name: .long, help: "The gas one evaluation may use.")
    var gas: UInt64 = 1_000_000

    func run() throws {
        if let expression {
            let values: [String: Value]
            do {
                values = try JSONDecoder().decode([String: Value].self, from: Data((bindings ?? "{}").utf8))
            } catch {
                throw ValidationError("--bindings is not a JSON object of integers, strings, booleans, lists and objects")
            }
            let line = Self.result(expression, values, gas: gas)
            Output.line(line.text)
            if !line.succeeded { throw ExitCode(1) }
            return
        }
        while let text = readLine(strippingNewline: true) {
            if text.allSatisfy(\.isWhitespace) { continue }
            guard let request = try? JSONDecoder().decode(Request.self, from: Data(text.utf8)) else {
                Output.line(#"{"error":"input","message":"a line is a JSON object {\"expr\": string, \"bindings\": object}"}"#)
                continue
            }
            Output.line(Self.result(request.expr, request.bindings ?? [:], gas: request.gas ?? gas).text)
        }
    }

    struct Request: Decodable {
        var expr: String
        var bindings: [String: Value]?
        var gas: UInt64?
    }

    /// One result line, and whether it is a value.
    static func result(_ source: String, _ bindings: [String: Value], gas: UInt64) -> (text: String, succeeded: Bool) {
        var meter = Meter(budget: gas)
        do throws(ContractFailure) {
            let value = try Expression(source).evaluate(bindings, meter: &meter)
            return ("{\"value\":\(json(value))}", true)
        } catch {
            return ("{\"error\":\(json(.string(error.code.rawValue))),\"message\":\(json(.string(error.message)))}", false)
        }
    }

    /// The typed JSON of a value (see the discussion above).
    static func json(_ value: Value) -> String {
        switch value {
        case .int(let i): return String(i)
        case .bool(let b): return b ? "true" : "false"
        case .rational(let r): return "{\"rational\":\(json(.string(r.description)))}"
        case .string(let s):
            var out = "\""
            for u in s.unicodeScalars {
                switch u {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                case "\r": out += "\\r"
                case "\t": out += "\\t"
                default:
                    if u.value < 0x20 {
                        out += "\\u" + String(repeating: "0", count: 4 - String(u.value, radix: 16).count) + String(u.value, radix: 16)
                    } else {
                        out.unicodeScalars.append(u)
                    }
                }
            }
            return out + "\""
        case .list(let items): return "[" + items.map(json).joined(separator: ",") + "]"
        case .map(let entries):
            let pairs = entries.map { (key: json($0.key), value: json($0.value)) }.sorted { $0.key < $1.key }
            return "{\"map\":[" + pairs.map { "[\($0.key),\($0.value)]" }.joined(separator: ",") + "]}"
        }
    }
}
