import Foundation
public import HL7v2

/// One entry of a message structure: a segment or a group of them, each optional or required, once or repeating.
public indirect enum StructureItem: Sendable {
    case segment(name: String, optional: Bool, repeating: Bool)
    case group(GroupSpec)

    var name: String {
        switch self {
        case .segment(let name, _, _): name
        case .group(let group): group.name
        }
    }
    var optional: Bool {
        switch self {
        case .segment(_, let optional, _): optional
        case .group(let group): group.optional
        }
    }
    var repeating: Bool {
        switch self {
        case .segment(_, _, let repeating): repeating
        case .group(let group): group.repeating
        }
    }
}

/// A segment group (PATIENT, ORDER_OBSERVATION, …): its items in order.
public struct GroupSpec: Sendable {
    public let name: String
    public let optional: Bool
    public let repeating: Bool
    public let items: [StructureItem]
    /// The segment names that can begin an instance of this group.
    let firstSegments: Set<String>
    /// Every segment name anywhere in the group.
    let allSegments: Set<String>

    public init(name: String, optional: Bool, repeating: Bool, items: [StructureItem]) {
        self.name = name
        self.optional = optional
        self.repeating = repeating
        self.items = items
        firstSegments = Self.first(items)
        allSegments = Self.all(items)
    }

    private static func first(_ items: [StructureItem]) -> Set<String> {
        var out = Set<String>()
        for item in items {
            switch item {
            case .segment(let name, let optional, _):
                out.insert(name)
                if !optional { return out }
            case .group(let group):
                out.formUnion(group.firstSegments)
                if !group.optional { return out }
            }
        }
        return out
    }

    private static func all(_ items: [StructureItem]) -> Set<String> {
        var out = Set<String>()
        for item in items {
            switch item {
            case .segment(let name, _, _): out.insert(name)
            case .group(let group): out.formUnion(group.allSegments)
            }
        }
        return out
    }
}

/// One file under `Mappings/hl7v2/messages/`: the message types it handles, their structure, and which resource
/// templates run for which segments or groups.
public struct MessageMapping: Sendable {
    public let file: String
    /// `ADT^A01` style keys (MSH-9.1 ^ MSH-9.2).
    public let messages: [String]
    public let structure: GroupSpec
    public let resources: [ResourceUse]
    /// Segments (`SFT`) and fields (`PID-1`) deliberately not mapped: no warning for them.
    public let ignore: Set<String>
    /// ``ignore``'s fields by segment name.
    let ignoredFields: [String: Set<Int>]

    init(file: String, messages: [String], structure: GroupSpec, resources: [ResourceUse], ignore: Set<String>) {
        self.file = file
        self.messages = messages
        self.structure = structure
        self.resources = resources
        self.ignore = ignore
        var fields: [String: Set<Int>] = [:]
        for entry in ignore {
            if let path = try? HL7Path(entry), let field = path.field { fields[path.segment, default: []].insert(field) }
        }
        ignoredFields = fields
    }
}

/// "Make a resource with template T for each instance of segment or group S (when C holds)."
public struct ResourceUse: Sendable {
    public let template: String
    /// A segment name or a group name of the structure.
    public let scope: String
    public let condition: Condition?
}

/// A resource template of either engine: the resource type, the paths whose values make its id, and the rules.
///
/// A class: the engines look templates up by name for every resource they make, and a reference is one retain.
public final class MappingTemplate<Path: Sendable, TemplateRule: Sendable>: Sendable {
    public let name: String
    public let file: String
    public let resourceType: String
    /// Paths whose values are hashed, with the resource type (and for HL7 v2 the sending facility, MSH-4), into
    /// the id.
    public let idInputs: [Path]
    public let rules: [TemplateRule]

    init(name: String, file: String, resourceType: String, idInputs: [Path], rules: [TemplateRule]) {
        self.name = name
        self.file = file
        self.resourceType = resourceType
        self.idInputs = idInputs
        self.rules = rules
    }
}

/// A resource template under `Mappings/hl7v2/resources/`: its id inputs are HL7 paths (`PID-3`).
public typealias ResourceTemplate = MappingTemplate<HL7Path, Rule>

/// One rule: write one FHIR element from the message. A class: the engine reads rules many times per message,
/// and a reference costs one retain where a struct of this size costs one per field.
public final class Rule: Sendable {
    public enum Source: Sendable {
        /// A value read from the message at a path, as an HL7 datatype.
        case path(HL7Path, datatype: String)
        /// A constant.
        case constant(MappingNode)
        /// A reference to the resource made by a template of this message (nearest in scope).
        case reference(String)
        /// References to every resource made by a template inside this rule's scope (`*`: every resource).
        case references(String)
    }

    public let line: Int
    /// The FHIR path written, such as `identifier`, `valueQuantity` or `extension[url=…].valueString`.
    public let target: TargetPath
    public let source: Source
    /// One element per repetition (and per segment occurrence) instead of the first.
    public let each: Bool
    public let condition: Condition?
    /// A vocabulary table the text goes through.
    public let table: String?
    /// Extra inputs for a datatype template (`unit: OBX-6` for a quantity).
    public let with: [String: HL7Path]
    /// Used when the source is empty.
    public let fallback: MappingNode?
    /// All values found (every segment in scope, every repetition) joined by line breaks into one.
    public let join: Bool
    /// Which of the segments found contribute (checked on each: `OBX-2 in (TX, FT)`), for `each` and `join`.
    public let filter: Condition?
    /// Start a new element at the deepest repeating step (a second `participant`), instead of writing into the
    /// last one.
    public let startsElement: Bool
    /// ``target`` resolved against the resource type (whether each step repeats, and its type), once at load.
    let steps: [TypeNames.ResolvedStep]

    init(line: Int, target: TargetPath, source: Source, each: Bool, condition: Condition?, table: String?,
         with: [String: HL7Path], fallback: MappingNode?, join: Bool, filter: Condition?, startsElement: Bool,
         steps: [TypeNames.ResolvedStep]) {
        self.line = line
        self.target = target
        self.source = source
        self.each = each
        self.condition = condition
        self.table = table
        self.with = with
        self.fallback = fallback
        self.join = join
        self.filter = filter
        self.startsElement = startsElement
        self.steps = steps
    }
}

/// A FHIR element path: member names, each optionally selecting the array element with `[url=…]` or
/// `[system=…]` (created when missing).
public struct TargetPath: Sendable, Hashable, CustomStringConvertible {
    public struct Step: Sendable, Hashable {
        public let name: String
        /// `(member, value)`: the array element whose member has that value.
        public let selector: (key: String, value: String)?

        public static func == (a: Step, b: Step) -> Bool {
            a.name == b.name && a.selector?.key == b.selector?.key && a.selector?.value == b.selector?.value
        }
        public func hash(into hasher: inout Hasher) {
            hasher.combine(name)
            hasher.combine(selector?.key)
            hasher.combine(selector?.value)
        }
    }

    public let steps: [Step]
    public let text: String

    init(_ text: String) throws(MappingError) {
        self.text = text
        var steps: [Step] = []
        var rest = Substring(text)
        while !rest.isEmpty {
            var name = ""
            while let c = rest.first, c != ".", c != "[" { name.append(c); rest.removeFirst() }
            guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
                throw MappingError("", line: nil, "\"\(text)\" is not a FHIR path such as name.given or extension[url=…].valueString")
            }
            var selector: (String, String)?
            if rest.first == "[" {
                rest.removeFirst()
                guard let close = rest.firstIndex(of: "]"), let eq = rest[..<close].firstIndex(of: "=") else {
                    throw MappingError("", line: nil, "\"\(text)\": a selector is [member=value]")
                }
                selector = (String(rest[..<eq]), String(rest[rest.index(after: eq)..<close]))
                rest = rest[rest.index(after: close)...]
            }
            steps.append(Step(name: name, selector: selector))
            if rest.first == "." { rest.removeFirst(); if rest.isEmpty { throw MappingError("", line: nil, "\"\(text)\" ends with a dot") } }
            else if !rest.isEmpty { throw MappingError("", line: nil, "\"\(text)\" is not a FHIR path") }
        }
        guard !steps.isEmpty else { throw MappingError("", line: nil, "an empty FHIR path") }
        self.steps = steps
    }

    public var description: String { text }
}

/// A condition on the message: `PATH is present`, `PATH is empty`, `PATH = V`, `PATH != V`,
/// `PATH in (A, B)`, `PATH not in (A, B)`, joined by `and` / `or` (and binds first).
public indirect enum Condition: Sendable {
    case present(HL7Path)
    case empty(HL7Path)
    case equals(HL7Path, String)
    case notEquals(HL7Path, String)
    case oneOf(HL7Path, [String])
    case noneOf(HL7Path, [String])
    case all([Condition])
    case any([Condition])

    /// The paths it reads.
    var paths: [HL7Path] {
        switch self {
        case .present(let p), .empty(let p), .equals(let p, _), .notEquals(let p, _), .oneOf(let p, _), .noneOf(let p, _): [p]
        case .all(let cs), .any(let cs): cs.flatMap(\.paths)
        }
    }

    static func parse(_ text: String) throws(MappingError) -> Condition {
        let alternatives = text.components(separatedBy: " or ")
        if alternatives.count > 1 {
            var parts: [Condition] = []
            for a in alternatives { parts.append(try parse(a)) }
            return .any(parts)
        }
        let conjuncts = text.components(separatedBy: " and ")
        if conjuncts.count > 1 {
            var parts: [Condition] = []
            for c in conjuncts { parts.append(try parse(c)) }
            return .all(parts)
        }
        let t = text.trimming(" ")
        func path(_ s: Substring) throws(MappingError) -> HL7Path {
            do { return try HL7Path(String(s).trimming(" ")) } catch { throw MappingError("", line: nil, "condition \"\(text)\": \(error.reason)") }
        }
        func list(_ s: Substring) throws(MappingError) -> [String] {
            let inner = String(s).trimming(" ")
            guard inner.hasPrefix("("), inner.hasSuffix(")") else { throw MappingError("", line: nil, "condition \"\(text)\": a list is written (A, B, C)") }
            return inner.dropFirst().dropLast().split(separator: ",").map { String($0).trimming(" ") }
        }
        if t.hasSuffix(" is present") { return .present(try path(t.dropLast(" is present".count))) }
        if t.hasSuffix(" is empty") { return .empty(try path(t.dropLast(" is empty".count))) }
        if let r = t.range(of: " not in ") { return .noneOf(try path(t[..<r.lowerBound]), try list(t[r.upperBound...])) }
        if let r = t.range(of: " in ") { return .oneOf(try path(t[..<r.lowerBound]), try list(t[r.upperBound...])) }
        if let r = t.range(of: " != ") { return .notEquals(try path(t[..<r.lowerBound]), String(t[r.upperBound...]).trimming(" ")) }
        if let r = t.range(of: " = ") { return .equals(try path(t[..<r.lowerBound]), String(t[r.upperBound...]).trimming(" ")) }
        throw MappingError("", line: nil, "condition \"\(text)\" is not one of: PATH is present, PATH is empty, PATH = V, PATH != V, PATH in (A, B), PATH not in (A, B), joined by and / or")
    }
}

/// A vocabulary table: source codes to a FHIR code, or to a Coding.
public struct VocabularyTable: Sendable {
    public enum Entry: Sendable, Hashable {
        case code(String)
        case coding(system: String?, code: String, display: String?)
    }
    public let name: String
    public let entries: [String: Entry]
    /// Used for a code the table does not list (nil: the value is dropped with a warning).
    public let otherwise: Entry?
}

extension String {
    /// The text without leading and trailing `scalar` (ASCII); the string itself, not a copy, when there is none
    /// (the usual case for mapped values). Shared by the HL7 v2 and C-CDA engines.
    func trimming(_ scalar: Unicode.Scalar) -> String {
        let byte = UInt8(truncatingIfNeeded: scalar.value)
        let utf8 = self.utf8
        guard scalar.isASCII, utf8.first == byte || utf8.last == byte else { return self }
        var start = utf8.startIndex
        var end = utf8.endIndex
        while start < end, utf8[start] == byte { start = utf8.index(after: start) }
        while end > start, utf8[utf8.index(before: end)] == byte { end = utf8.index(before: end) }
        return String(self[start..<end])
    }
}
