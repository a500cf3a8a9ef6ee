/// The FHIR R4 type system as the readers, writers and the validator need it: for every type (resource, complex
/// type, primitive, and every backbone element such as `Patient.contact`) its elements in definition order, with
/// cardinality, choice types, XML representation, and for primitives the JSON kind and the lexical pattern.
///
/// ``TypeTable/r4`` is generated from the official StructureDefinitions by `scripts/generate-type-table.py` into
/// `TypeTable+R4.swift` and parsed once, on first use.
///
/// The generated text has one line per type and per element, fields separated by tabs:
///
///     T  name  kind(p|c|r|b)  abstract(A|-)  jsonKind(string|number|bool|-)  pattern
///     E  name  choice(1|0)    min  max(n|*)  representation(e|a|x)  type,type,…  summary(S|-)
///
/// `E` lines belong to the last `T` line before them. An element's type is a type name, a backbone path
/// (`Patient.contact`), a content reference target (`Questionnaire.item`), `Resource`, or `xhtml`.
public struct TypeTable: Sendable {
    /// FHIR R4 4.0.1.
    public static let r4: TypeTable = TypeTable(generated: TypeTable.r4Source)

    private let types: [String: TypeDefinition]
    /// The same definitions by position, for ``ElementMatch/typeIndex``.
    private let definitions: [TypeDefinition]
    private let concreteResources: Set<String>

    /// The definition an ``ElementMatch/typeIndex`` names (no lookup by name).
    public func definition(at index: Int) -> TypeDefinition {
        definitions[index]
    }

    /// The type named `name` (`Patient`, `HumanName`, `string`, `Patient.contact`), nil when unknown.
    public func type(_ name: String) -> TypeDefinition? {
        types[name]
    }

    /// Whether `name` is a concrete resource type (what a `resourceType` member may say).
    public func isResourceType(_ name: String) -> Bool {
        concreteResources.contains(name)
    }

    /// Every concrete resource type, sorted.
    public var resourceTypeNames: [String] {
        concreteResources.sorted()
    }

    /// Every type name (including abstract types and backbone paths), sorted.
    public var typeNames: [String] {
        types.keys.sorted()
    }

    /// Parses the generated text. The text is produced by the generator and checked in CI, so a malformed line
    /// is a build defect: it is skipped rather than trusted, and the type table tests catch it.
    init(generated text: String) {
        var types: [String: TypeDefinition] = [:]
        var definitions: [TypeDefinition] = []
        var resources = Set<String>()
        let lines = text.split(separator: "\n", omittingEmptySubsequences: true)
        // Every type's position first, so elements can point at their types by index.
        var position: [String: Int] = [:]
        for line in lines where line.hasPrefix("T\t") {
            let name = line.split(separator: "\t", omittingEmptySubsequences: false)[1]
            if position[String(name)] == nil { position[String(name)] = position.count }
        }
        var current: (name: String, kind: TypeDefinition.Kind, abstract: Bool, json: TypeDefinition.JSONKind?, pattern: String?)?
        var elements: [ElementDefinition] = []

        func flush() {
            guard let c = current else { return }
            let definition = TypeDefinition(
                name: c.name, kind: c.kind, isAbstract: c.abstract, elements: elements, jsonKind: c.json, pattern: c.pattern,
                typeIndex: { position[$0] }
            )
            if types[c.name] == nil { definitions.append(definition) }
            types[c.name] = definition
            if c.kind == .resource && !c.abstract { resources.insert(c.name) }
            elements = []
        }

        for line in lines {
            let f = line.split(separator: "\t", omittingEmptySubsequences: false)
            if f.first == "T", f.count == 6 {
                flush()
                let kind: TypeDefinition.Kind
                switch f[2] {
                case "p": kind = .primitive
                case "r": kind = .resource
                case "b": kind = .backbone
                default: kind = .complex
                }
                let json: TypeDefinition.JSONKind? =
                    switch f[4] {
                    case "string": .string
                    case "number": .number
                    case "bool": .bool
                    default: nil
                    }
                current = (String(f[1]), kind, f[3] == "A", json, f[5].isEmpty ? nil : String(f[5]))
            } else if f.first == "E", f.count == 8, current != nil, let min = Int(f[3]) {
                let rep: ElementDefinition.Representation =
                    switch f[5] {
                    case "a": .xmlAttribute
                    case "x": .xhtml
                    default: .element
                    }
                elements.append(ElementDefinition(
                    name: String(f[1]),
                    isChoice: f[2] == "1",
                    types: f[6].split(separator: ",").map(String.init),
                    min: min,
                    max: f[4] == "*" ? nil : Int(f[4]),
                    representation: rep,
                    isSummary: f[7] == "S"
                ))
            }
        }
        flush()
        self.types = types
        self.definitions = definitions
        self.concreteResources = resources
    }
}

/// One type of the table (a class for the same reason as ``ElementDefinition``).
public final class TypeDefinition: Sendable {
    public enum Kind: Sendable, Hashable {
        case primitive, complex, resource, backbone
    }

    /// How a primitive's value is written in JSON.
    public enum JSONKind: Sendable, Hashable {
        case string, number, bool
    }

    /// The type name, or the element path of a backbone element (`Patient.contact`).
    public let name: String
    public let kind: Kind
    /// Abstract types (`Element`, `Resource`, `DomainResource`, `BackboneElement`) are never instantiated.
    public let isAbstract: Bool
    /// Elements in definition order, inherited ones included (`id`, `meta`, `extension`, …).
    public let elements: [ElementDefinition]
    /// For primitives: how the value appears in JSON.
    public let jsonKind: JSONKind?
    /// For primitives: the regular expression of the value's lexical form, as the specification gives it.
    public let pattern: String?
    private let byJSONName: [String: ElementMatch]
    /// The same lookup keyed by the name's UTF-8 bytes (``element(named:)-(UnsafeBufferPointer<UInt8>)``): open
    /// addressing over an FNV-1a hash, so a reader of raw bytes finds an element without making a String.
    private let byteSlots: [Int32]
    /// Every entry's name bytes, one after another (entry `n`'s from `byteNameStarts[n]` to `byteNameStarts[n + 1]`),
    /// and its match: flat arrays, so a probe compares bytes without copying an entry.
    private let byteNames: [UInt8]
    private let byteNameStarts: [Int32]
    private let byteMatches: [ElementMatch]
    /// Per element, its cardinality as integers (max `Int.max` when unbounded, and for a choice element, whose
    /// types are counted together): the validator's check of every object reads these, not the elements.
    let cardinality: [(min: Int, max: Int)]

    init(name: String, kind: Kind, isAbstract: Bool, elements: [ElementDefinition], jsonKind: JSONKind?, pattern: String?,
         typeIndex: (String) -> Int? = { _ in nil }) {
        self.name = name
        self.kind = kind
        self.isAbstract = isAbstract
        self.elements = elements
        self.jsonKind = jsonKind
        self.pattern = pattern
        var index: [String: ElementMatch] = [:]
        for (position, element) in elements.enumerated() {
            if element.isChoice {
                for type in element.types {
                    index[element.jsonName(for: type)] = ElementMatch(element: element, type: type, position: position, typeIndex: typeIndex(type))
                }
            } else {
                let type = element.types.first ?? ""
                index[element.name] = ElementMatch(element: element, type: type, position: position, typeIndex: typeIndex(type))
            }
        }
        self.byJSONName = index
        let entries = index.map { (name: Array($0.key.utf8), match: $0.value) }.sorted { $0.name.lexicographicallyPrecedes($1.name) }
        var capacity = 8
        while capacity < entries.count * 2 { capacity *= 2 }
        var slots = [Int32](repeating: -1, count: capacity)
        for (n, entry) in entries.enumerated() {
            var slot = Int(TypeDefinition.fnv1a(entry.name) & UInt64(capacity - 1))
            while slots[slot] >= 0 { slot = (slot + 1) & (capacity - 1) }
            slots[slot] = Int32(n)
        }
        self.byteSlots = slots
        var names: [UInt8] = []
        var starts: [Int32] = [0]
        for entry in entries {
            names += entry.name
            starts.append(Int32(names.count))
        }
        self.byteNames = names
        self.byteNameStarts = starts
        self.byteMatches = entries.map(\.match)
        self.cardinality = elements.map { (min: $0.min, max: $0.isChoice ? Int.max : ($0.max ?? Int.max)) }
    }

    @inline(__always)
    static func fnv1a(_ bytes: some Sequence<UInt8>) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes {
            h ^= UInt64(b)
            h = h &* 0x0000_0100_0000_01b3
        }
        return h
    }

    /// The element a member name given as UTF-8 bytes stands for; the same answer as the String lookup.
    public func element(named bytes: UnsafeBufferPointer<UInt8>) -> ElementMatch? {
        let mask = byteSlots.count - 1
        var slot = Int(TypeDefinition.fnv1a(bytes) & UInt64(mask))
        let found: Int? = byteSlots.withUnsafeBufferPointer { slots in
            byteNameStarts.withUnsafeBufferPointer { starts in
                byteNames.withUnsafeBufferPointer { names in
                    while true {
                        let n = Int(slots[slot])
                        if n < 0 { return nil }
                        let start = Int(starts[n])
                        let end = Int(starts[n + 1])
                        if end - start == bytes.count {
                            var k = 0
                            while k < bytes.count, names[start + k] == bytes[k] { k += 1 }
                            if k == bytes.count { return n }
                        }
                        slot = (slot + 1) & mask
                    }
                }
            }
        }
        return found.map { byteMatches[$0] }
    }

    /// The element a JSON member name (or XML element name) stands for: `valueQuantity` gives `value[x]` with
    /// type `Quantity`. Nil when the name is not an element of this type.
    public func element(named jsonName: String) -> ElementMatch? {
        byJSONName[jsonName]
    }
}

/// One element of a type.
///
/// A class, not a struct: the readers, writers and validator pass these around for every value they visit, and
/// one reference costs one retain where a struct's copy retained each of its fields.
public final class ElementDefinition: Sendable {
    public enum Representation: Sendable, Hashable {
        /// An XML child element.
        case element
        /// An XML attribute (`Element.id`, `Extension.url`).
        case xmlAttribute
        /// The narrative `div`: XHTML, a string in JSON.
        case xhtml
    }

    /// The element name, without `[x]` for choice elements.
    public let name: String
    /// Whether this is a choice element (`value[x]`): its JSON name carries the type (`valueString`).
    public let isChoice: Bool
    /// The allowed types, in the specification's order.
    public let types: [String]
    public let min: Int
    /// Nil for `*`.
    public let max: Int?
    public let representation: Representation
    /// Whether the base definition marks the element `isSummary`: what `_summary=true` keeps (FHIR R4 search).
    public let isSummary: Bool

    init(name: String, isChoice: Bool, types: [String], min: Int, max: Int?, representation: Representation, isSummary: Bool = false) {
        self.name = name
        self.isChoice = isChoice
        self.types = types
        self.min = min
        self.max = max
        self.representation = representation
        self.isSummary = isSummary
    }

    /// Whether the element repeats, so JSON carries it as an array even with one value.
    public var isArray: Bool {
        max != 1
    }

    /// The JSON member name for one of the element's types: `value` + `Quantity` for a choice, the name otherwise.
    public func jsonName(for type: String) -> String {
        guard isChoice, let first = type.first else { return name }
        return name + first.uppercased() + type.dropFirst()
    }
}

/// An element found by its JSON name, with the type that name selects.
///
/// A class: the readers and the validator look one up for every member they visit, and a reference is one retain.
public final class ElementMatch: Sendable {
    public let element: ElementDefinition
    public let type: String
    /// The element's index in its type's definition order (XML writes children in this order).
    public let position: Int
    /// Where `type` is in its table (``TypeTable/definition(at:)``), nil when the table has no such type.
    public let typeIndex: Int?

    init(element: ElementDefinition, type: String, position: Int, typeIndex: Int?) {
        self.element = element
        self.type = type
        self.position = position
        self.typeIndex = typeIndex
    }
}
