import FHIRCore
import Foundation

/// An RFC 6902 JSON Patch document (`application/json-patch+json`) applied to a resource's JSON: add, remove,
/// replace, move, copy and test, with RFC 6901 pointers. Numbers compare by their lexical form, as FHIR keeps it.
struct JSONPatch: Sendable {
    struct Operation: Sendable {
        var op: String
        var path: [String]
        var from: [String]?
        var value: FHIRValue?
        /// The operation's index in the document, for messages (`/3`).
        var index: Int
    }

    /// Why a patch was not applied.
    enum Failure: Error {
        /// The document is not a JSON Patch: 400.
        case malformed(String)
        /// An operation cannot apply to this resource (a missing path, a failed `test`): 422.
        case unprocessable(String, operation: Int)
    }

    var operations: [Operation]

    /// Reads a patch document.
    init(_ bytes: [UInt8]) throws(Failure) {
        let value: FHIRValue
        do {
            value = try JSONReader().readValue(bytes)
        } catch {
            throw .malformed("the JSON Patch is not JSON: \(error.description)")
        }
        guard let array = value.arrayValue else { throw .malformed("a JSON Patch is an array of operations") }
        operations = []
        for (i, item) in array.enumerated() {
            guard let o = item.objectValue, let op = o["op"]?.stringValue, let path = o["path"]?.stringValue else {
                throw .malformed("operation \(i) needs op and path")
            }
            let from = try o["from"]?.stringValue.map { p throws(Failure) in try Self.pointer(p, i) }
            if ["move", "copy"].contains(op), from == nil { throw .malformed("operation \(i) (\(op)) needs from") }
            if ["add", "replace", "test"].contains(op), o["value"] == nil { throw .malformed("operation \(i) (\(op)) needs value") }
            guard ["add", "remove", "replace", "move", "copy", "test"].contains(op) else { throw .malformed("operation \(i): unknown op '\(op)'") }
            operations.append(Operation(op: op, path: try Self.pointer(path, i), from: from, value: o["value"], index: i))
        }
    }

    static func pointer(_ text: String, _ i: Int) throws(Failure) -> [String] {
        if text.isEmpty { return [] }
        guard text.hasPrefix("/") else { throw .malformed("operation \(i): '\(text)' is not a JSON pointer") }
        return text.dropFirst().split(separator: "/", omittingEmptySubsequences: false).map {
            $0.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
        }
    }

    /// The document with every operation applied in order; the first that cannot apply fails the whole patch.
    func apply(to document: FHIRValue) throws(Failure) -> FHIRValue {
        var doc = document
        for o in operations {
            switch o.op {
            case "add": doc = try Self.add(o.value ?? .null, at: o.path[...], in: doc, o.index)
            case "remove": doc = try Self.remove(o.path[...], in: doc, o.index).rest
            case "replace":
                doc = try Self.remove(o.path[...], in: doc, o.index).rest
                doc = try Self.add(o.value ?? .null, at: o.path[...], in: doc, o.index)
            case "move":
                let from = o.from ?? []
                if o.path.count > from.count, Array(o.path.prefix(from.count)) == from {
                    throw .unprocessable("operation \(o.index): cannot move a value into itself", operation: o.index)
                }
                let (value, rest) = try Self.remove(from[...], in: doc, o.index)
                doc = try Self.add(value, at: o.path[...], in: rest, o.index)
            case "copy": doc = try Self.add(try Self.get(o.from ?? [], in: doc, o.index), at: o.path[...], in: doc, o.index)
            default:
                let found = try Self.get(o.path, in: doc, o.index)
                guard found == o.value else {
                    throw .unprocessable("operation \(o.index): test failed at /\(o.path.joined(separator: "/"))", operation: o.index)
                }
            }
        }
        return doc
    }

    static func get(_ path: [String], in value: FHIRValue, _ i: Int) throws(Failure) -> FHIRValue {
        var current = value
        for token in path {
            switch current {
            case .object(let o):
                guard let next = o[token] else { throw missing(path, i) }
                current = next
            case .array(let a):
                guard let n = Int(token), n >= 0, n < a.count else { throw missing(path, i) }
                current = a[n]
            default:
                throw missing(path, i)
            }
        }
        return current
    }

    static func add(_ new: FHIRValue, at path: ArraySlice<String>, in value: FHIRValue, _ i: Int) throws(Failure) -> FHIRValue {
        guard let token = path.first else { return new }
        let rest = path.dropFirst()
        switch value {
        case .object(var o):
            if rest.isEmpty {
                o[token] = new
            } else {
                guard let child = o[token] else { throw missing(Array(path), i) }
                o[token] = try add(new, at: rest, in: child, i)
            }
            return .object(o)
        case .array(var a):
            if rest.isEmpty {
                if token == "-" { a.append(new); return .array(a) }
                guard let n = Int(token), n >= 0, n <= a.count else { throw missing(Array(path), i) }
                a.insert(new, at: n)
            } else {
                guard let n = Int(token), n >= 0, n < a.count else { throw missing(Array(path), i) }
                a[n] = try add(new, at: rest, in: a[n], i)
            }
            return .array(a)
        default:
            throw missing(Array(path), i)
        }
    }

    static func remove(_ path: ArraySlice<String>, in value: FHIRValue, _ i: Int) throws(Failure) -> (removed: FHIRValue, rest: FHIRValue) {
        guard let token = path.first else { throw .unprocessable("operation \(i): cannot remove the whole resource", operation: i) }
        let rest = path.dropFirst()
        switch value {
        case .object(var o):
            guard let child = o[token] else { throw missing(Array(path), i) }
            if rest.isEmpty {
                o[token] = nil
                return (child, .object(o))
            }
            let (removed, changed) = try remove(rest, in: child, i)
            o[token] = changed
            return (removed, .object(o))
        case .array(var a):
            guard let n = Int(token), n >= 0, n < a.count else { throw missing(Array(path), i) }
            if rest.isEmpty {
                let removed = a.remove(at: n)
                return (removed, .array(a))
            }
            let (removed, changed) = try remove(rest, in: a[n], i)
            a[n] = changed
            return (removed, .array(a))
        default:
            throw missing(Array(path), i)
        }
    }

    static func missing(_ path: [String], _ i: Int) -> Failure {
        .unprocessable("operation \(i): the path /\(path.joined(separator: "/")) does not exist in the resource", operation: i)
    }
}
