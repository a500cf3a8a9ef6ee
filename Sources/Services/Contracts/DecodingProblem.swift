import Contracts
import Foundation
import Yams

/// A contract file's decoding error as one line a policy committee can act on: the file, the place in it written as
/// a path (`claims.json: [2].units: …`, `max-min.yaml: mechanism.type: …`) and what was expected there.
enum DecodingProblem {
    /// The fields that hold amounts (``Rational``): they take an integer or a string "p/q" or "3.5".
    static let amountFields: Set<String> = ["units", "weight", "price", "capacity", "initialPrice", "step", "tolerance", "tick"]

    /// `[2].units`, `pool.owners[0]`: keys joined by dots, list positions in brackets.
    static func path(_ keys: [any CodingKey]) -> String {
        var out = ""
        for key in keys {
            if let index = key.intValue, key.stringValue == "Index \(index)" || key.stringValue == "\(index)" {
                out += "[\(index)]"
            } else {
                out += out.isEmpty ? key.stringValue : "." + key.stringValue
            }
        }
        return out
    }

    /// One line for `error` thrown while decoding `file`, naming the place.
    static func describe(_ error: any Error, file: String) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, let context):
            let place = path(context.codingPath + [key])
            return "\(file): \(place): missing (a required field)"
        case DecodingError.valueNotFound(let type, let context):
            return "\(file): \(at(context.codingPath))null where \(expected(type, context.codingPath)) is required"
        case DecodingError.typeMismatch(let type, let context):
            return "\(file): \(at(context.codingPath))expected \(expected(type, context.codingPath))"
        case DecodingError.dataCorrupted(let context):
            if context.codingPath.isEmpty {
                let cause = context.underlyingError.map { "\($0)" } ?? context.debugDescription
                return "\(file): not valid JSON or YAML: \(cause)"
            }
            return "\(file): \(at(context.codingPath))\(corrupted(context))"
        case let error as YamlError:
            return "\(file): not valid YAML: \(error)"
        default:
            return "\(file): \(error)"
        }
    }

    private static func at(_ keys: [any CodingKey]) -> String {
        keys.isEmpty ? "" : path(keys) + ": "
    }

    private static func expected(_ type: Any.Type, _ keys: [any CodingKey]) -> String {
        // A definition's top-level `weight` is an expression; a claim's `weight` ([i].weight) is an amount.
        if let last = keys.last?.stringValue, (amountFields.contains(last) && !(keys.count == 1 && last == "weight")) || type == Rational.self {
            return "a number: an integer, or a string \"7/2\" or \"3.5\""
        }
        switch type {
        case is String.Type: return "text"
        case is Bool.Type: return "true or false"
        case is Int64.Type, is UInt64.Type, is UInt32.Type, is Int.Type: return "a whole number"
        case is [Any].Type: return "a list"
        default:
            let name = "\(type)"
            if name.hasPrefix("Array") { return "a list" }
            if name.hasPrefix("Dictionary") { return "an object" }
            return "a value of type \(name)"
        }
    }

    /// What a value that did not fit says; the enumerations' raw-value failures are spelled out with the values
    /// that are accepted.
    private static func corrupted(_ context: DecodingError.Context) -> String {
        switch context.codingPath.last?.stringValue {
        case "type", "within":
            let kinds = MechanismSpec.Kind.allCases.map(\.rawValue).joined(separator: ", ")
            return "not a mechanism; one of \(kinds)"
        case "side":
            return "\"buy\" or \"sell\""
        default:
            return context.debugDescription
        }
    }
}
