/// Evaluates a ``FHIRPathExpression`` over a resource held in a ``JSONTape`` (its root object), without building
/// a tree: what the importer has in hand when it indexes.
///
/// Choice elements (`value[x]`) are reached by their stem (`Observation.value` finds `valueQuantity`) and remember
/// the type their member name spells, which `as`/`is`/`ofType` test. `resolve()` does not read other resources:
/// it yields the type a reference names (`Patient/1` → Patient), which is all `where(resolve() is T)` needs.
public struct FHIRPathEvaluator {
    /// One item of a FHIRPath collection.
    public enum Item: Sendable, Hashable {
        /// A tape node; `choice` is the type suffix of a choice element's member name (`Quantity` of `valueQuantity`).
        case node(Int, choice: String?)
        case boolean(Bool)
        case string(String)
        /// What `resolve()` gives for a reference: the type it names.
        case resolved(type: String)
    }

    public let tape: JSONTape
    /// `reference` strings to read as their replacement (the rewrites the store applies).
    public let rewrites: [String: String]
    private let resourceType: String

    public init(tape: JSONTape, rewrites: [String: String] = [:]) {
        self.tape = tape
        self.rewrites = rewrites
        self.resourceType = tape.resourceType ?? ""
    }

    /// The items `expression` selects in the resource.
    public func evaluate(_ expression: FHIRPathExpression) -> [Item] {
        evaluate(expression, focus: [.node(0, choice: nil)])
    }

    /// The reference string of a Reference object, read through ``rewrites``.
    public func reference(of index: Int) -> String? {
        guard let r = tape.stringMember("reference", of: index) else { return nil }
        return rewrites[r] ?? r
    }

    private func evaluate(_ e: FHIRPathExpression, focus: [Item]) -> [Item] {
        switch e {
        case .this: return focus
        case .typeRoot(let name):
            return name == resourceType || name == "Resource" || name == "DomainResource" ? [.node(0, choice: nil)] : []
        case .member(let base, let name):
            // Appended into one collection: no array per item (this is most of the work of indexing a resource).
            var out: [Item] = []
            for item in evaluate(base, focus: focus) { appendMembers(name, of: item, to: &out) }
            return out
        case .index(let base, let i):
            let items = evaluate(base, focus: focus)
            return i >= 0 && i < items.count ? [items[i]] : []
        case .union(let a, let b):
            var out = evaluate(a, focus: focus)
            for item in evaluate(b, focus: focus) where !out.contains(item) { out.append(item) }
            return out
        case .and(let a, let b):
            return [.boolean(isTrue(evaluate(a, focus: focus)) && isTrue(evaluate(b, focus: focus)))]
        case .or(let a, let b):
            return [.boolean(isTrue(evaluate(a, focus: focus)) || isTrue(evaluate(b, focus: focus)))]
        case .equals(let a, let b, let negated):
            let left = evaluate(a, focus: focus).map(text), right = evaluate(b, focus: focus).map(text)
            guard !left.isEmpty, !right.isEmpty else { return [] }
            return [.boolean((left == right) != negated)]
        case .typeFilter(let base, let type, let isTest):
            let items = evaluate(base, focus: focus)
            if isTest { return [.boolean(items.count == 1 && isOfType(items[0], type))] }
            return items.filter { isOfType($0, type) }
        case .function(let base, let name, let arguments):
            return call(name, arguments, on: evaluate(base, focus: focus))
        case .string(let s): return [.string(s)]
        case .boolean(let b): return [.boolean(b)]
        case .number(let n): return [.string(n)]
        }
    }

    private func call(_ name: String, _ arguments: [FHIRPathExpression], on items: [Item]) -> [Item] {
        switch name {
        case "where":
            guard let condition = arguments.first else { return items }
            return items.filter { isTrue(evaluate(condition, focus: [$0])) }
        case "exists":
            if let condition = arguments.first { return [.boolean(items.contains { isTrue(evaluate(condition, focus: [$0])) })] }
            return [.boolean(!items.isEmpty)]
        case "empty": return [.boolean(items.isEmpty)]
        case "not": return items.count == 1 ? [.boolean(!isTrue(items))] : []
        case "first": return Array(items.prefix(1))
        case "resolve":
            return items.compactMap { item in
                guard case .node(let i, _) = item, let r = reference(of: i), let type = Self.referencedType(r) else { return nil }
                return .resolved(type: type)
            }
        default: return []
        }
    }

    /// Appends the members `name` of an object item, arrays flattened; for a choice stem, the member it is spelled as.
    private func appendMembers(_ name: String, of item: Item, to out: inout [Item]) {
        guard case .node(let index, _) = item, tape.kind(at: index) == .object else { return }
        // One pass over the members, compared as bytes without making a string of any member name (most paths of
        // most parameters are absent from a given resource): the member spelled `name`, else the first choice
        // element spelled stem + capitalised type.
        var name = name
        var choice: (name: Int, value: Int)?
        let exact: Int? = name.withUTF8 { stem in
            for m in tape.members(of: index) {
                let match = tape.withBytes(at: m.name) { key -> Int in
                    guard key.count >= stem.count else { return 0 }
                    for i in 0..<stem.count where key[i] != stem[i] { return 0 }
                    if key.count == stem.count { return 1 }
                    return key[stem.count] >= 0x41 && key[stem.count] <= 0x5A ? 2 : 0
                }
                if match == 1 { return m.value }
                if match == 2 && choice == nil { choice = m }
            }
            return nil
        }
        if let exact {
            flatten(exact, choice: nil, to: &out)
        } else if let choice, let key = tape.string(at: choice.name) {
            flatten(choice.value, choice: String(key.dropFirst(name.count)), to: &out)
        }
    }

    /// Appends the value at `index` (an array's non-null items) as items.
    private func flatten(_ index: Int, choice: String?, to out: inout [Item]) {
        switch tape.kind(at: index) {
        case .array: for i in tape.items(of: index) where tape.kind(at: i) != .null { out.append(.node(i, choice: choice)) }
        case .null: break
        default: out.append(.node(index, choice: choice))
        }
    }

    /// FHIR type names compare without regard to the case of their first letter (`dateTime`, `DateTime`).
    private func isOfType(_ item: Item, _ type: String) -> Bool {
        switch item {
        case .resolved(let t): return t == type
        case .node(_, let choice?): return choice.lowercased() == type.lowercased()
        case .node(let i, nil):
            // Not a choice element: only the JSON kind can be checked.
            switch type {
            case "boolean", "Boolean": return tape.kind(at: i) == .true || tape.kind(at: i) == .false
            case "string", "String", "code", "uri", "date", "dateTime", "instant", "canonical": return tape.kind(at: i) == .string
            default: return tape.kind(at: i) == .object
            }
        case .boolean: return type.lowercased() == "boolean"
        case .string: return type.lowercased() == "string"
        }
    }

    /// A collection is true when it is the single value `true` (FHIRPath singleton evaluation of booleans), or
    /// holds any item that is not a boolean (`where(code)` keeps items whose `code` exists).
    private func isTrue(_ items: [Item]) -> Bool {
        guard !items.isEmpty else { return false }
        if items.count == 1, case .boolean(let b) = items[0] { return b }
        if items.count == 1, case .node(let i, _) = items[0], tape.kind(at: i) == .false { return false }
        return true
    }

    /// The text of a primitive item, for `=`: a string's text, a number's lexeme, `true`/`false`.
    private func text(_ item: Item) -> String {
        switch item {
        case .node(let i, _): tape.text(at: i)
        case .boolean(let b): b ? "true" : "false"
        case .string(let s): s
        case .resolved(let t): t
        }
    }

    /// The resource type a reference names: `Patient/1`, `Patient/1/_history/2`, `https://x/fhir/Patient/1` →
    /// Patient; nil for a contained (`#x`) or URN reference.
    public static func referencedType(_ reference: String) -> String? {
        if let ascii = ReferenceBytes(reference) {
            // The same rules over bytes (every `where(resolve() is T)` of every resource asks this).
            guard let type = ascii.typeAndId?.type, let first = ascii.bytes[type].first, first >= 0x41, first <= 0x5A,
                  ascii.all(type, { ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) }) else { return nil }
            return ascii.string(type)
        }
        return referencedTypeByCharacters(reference)
    }

    /// ``referencedType(_:)`` over Characters: the rule itself, and the answer for non-ASCII strings.
    static func referencedTypeByCharacters(_ reference: String) -> String? {
        var parts = reference.split(separator: "/", omittingEmptySubsequences: false)
        if parts.count >= 4, parts[parts.count - 2] == "_history" { parts.removeLast(2) }
        guard parts.count >= 2 else { return nil }
        let type = parts[parts.count - 2]
        guard let c = type.unicodeScalars.first, c.properties.isUppercase,
              type.unicodeScalars.allSatisfy({ $0.properties.isAlphabetic }) else { return nil }
        return String(type)
    }
}
