import Synchronization

/// The XML view of a ``TypeTable``: for each type, how each child element name maps onto the resource tree.
///
/// Resolved lazily, once per (type, element name), and shared by every parse and write made with the same
/// reader or writer. Nodes and child infos are immutable once published; the caches grow under a lock.
final class XMLSchema: Sendable {
    let table: TypeTable
    private let state = Mutex<[String: XMLTypeNode]>([:])

    init(table: TypeTable) {
        self.table = table
    }

    /// The process-wide view of ``TypeTable/r4``, shared by readers and writers made without a table.
    static let r4 = XMLSchema(table: .r4)

    /// The node for a type name (`Patient`, `HumanName`, `Patient.contact`, `string`), nil when unknown.
    func node(_ typeName: String) -> XMLTypeNode? {
        if let n = state.withLock({ $0[typeName] }) { return n }
        guard let def = table.type(typeName) else { return nil }
        let made = XMLTypeNode(definition: def, schema: self)
        return state.withLock { nodes in
            if let existing = nodes[typeName] { return existing }
            nodes[typeName] = made
            return made
        }
    }

    func isResourceType(_ name: String) -> Bool {
        table.isResourceType(name)
    }
}

/// One type of the table as the XML codec sees it.
final class XMLTypeNode: Sendable {
    let name: String
    let definition: TypeDefinition
    /// Primitive types carry `value`/`id` attributes and `extension` children, and map to a JSON scalar.
    let isPrimitive: Bool
    /// How a primitive's `value` attribute becomes JSON (string when not a primitive).
    let jsonKind: TypeDefinition.JSONKind
    /// Whether this type is a resource (its object gets a `resourceType` member).
    let isResource: Bool
    /// Element definitions represented as XML attributes (`Element.id`, `Extension.url`), by name.
    let attributeNames: [String]
    private unowned let schema: XMLSchema
    private let children = Mutex<[String: XMLChildInfo]>([:])

    init(definition: TypeDefinition, schema: XMLSchema) {
        self.name = definition.name
        self.definition = definition
        self.isPrimitive = definition.kind == .primitive
        self.jsonKind = definition.jsonKind ?? .string
        self.isResource = definition.kind == .resource
        self.attributeNames = definition.elements.filter { $0.representation == .xmlAttribute }.map(\.name)
        self.schema = schema
    }

    /// The child info for an element (or JSON member) name; unknown names get an `.unknown` info.
    func child(_ name: String) -> XMLChildInfo {
        if let c = children.withLock({ $0[name] }) { return c }
        let made = resolve(name)
        // Unknown names are not cached: hostile input must not grow a shared cache.
        if made.isUnknown { return made }
        return children.withLock { map in
            if let existing = map[name] { return existing }
            map[name] = made
            return made
        }
    }

    private func resolve(_ name: String) -> XMLChildInfo {
        guard let match = definition.element(named: name) else {
            // Every primitive carries Element.id (an attribute) and Element.extension, whether or not the table
            // lists them for primitive types.
            if isPrimitive && name == "id" {
                return XMLChildInfo(name: name, elementName: name, isChoice: false, isArray: false, order: 0, kind: .attribute)
            }
            if isPrimitive && name == "extension", let ext = schema.node("Extension") {
                return XMLChildInfo(name: name, elementName: name, isChoice: false, isArray: true, order: 1, kind: .complex, node: ext)
            }
            return XMLChildInfo(unknown: name)
        }
        let element = match.element
        let order = match.position
        if element.representation == .xmlAttribute {
            return XMLChildInfo(name: name, element: element, order: order, kind: .attribute)
        }
        if element.representation == .xhtml || match.type == "xhtml" {
            return XMLChildInfo(name: name, element: element, order: order, kind: .xhtml)
        }
        if match.type == "Resource" || match.type == "DomainResource" || schema.isResourceType(match.type) {
            return XMLChildInfo(name: name, element: element, order: order, kind: .resource)
        }
        guard let node = schema.node(match.type) else {
            return XMLChildInfo(name: name, element: element, order: order, kind: .unknown)
        }
        return XMLChildInfo(name: name, element: element, order: order, kind: node.isPrimitive ? .primitive : .complex, node: node)
    }
}

/// How one child element name of one type maps onto the tree.
final class XMLChildInfo: Sendable {
    enum Kind: Sendable {
        /// A primitive: `value` and `id` attributes, `extension` children; JSON `name` plus `_name`.
        case primitive
        /// A complex type or backbone element: a JSON object.
        case complex
        /// A resource wrapped in its element (`contained`, `Bundle.entry.resource`).
        case resource
        /// The narrative div, captured as an XHTML string.
        case xhtml
        /// An element definition represented as an XML attribute (`id`, `url`).
        case attribute
        /// Not in the type table: kept best effort.
        case unknown
    }

    /// The JSON member name, which is also the XML element name (`valueQuantity`, `given`).
    let jsonName: String
    /// The `_name` twin holding a primitive's id and extensions.
    let extraName: String
    /// The element definition's name (`value[x]` for every choice variant); the JSON name when unknown.
    let elementName: String
    let isChoice: Bool
    /// Whether the element repeats (JSON array even with one occurrence). Unknown elements repeat when they do.
    let isArray: Bool
    /// Position in the type's definition order (unknown elements come last).
    let order: Int
    let kind: Kind
    /// The type of a primitive or complex element (kept alive by the schema, which owns every node).
    unowned(unsafe) let node: XMLTypeNode?
    /// The same, as a plain reference for the reader's hot path (no reference counting).
    let nodeRef: Unmanaged<XMLTypeNode>?
    /// How a primitive's `value` attribute becomes JSON (string for everything else).
    let valueKind: TypeDefinition.JSONKind
    /// The UTF-8 bytes of the XML name, for comparing with libxml2's names and for writing.
    let nameBytes: [UInt8]

    convenience init(name: String, element: ElementDefinition, order: Int, kind: Kind, node: XMLTypeNode? = nil) {
        self.init(name: name, elementName: element.name, isChoice: element.isChoice, isArray: element.isArray, order: order, kind: kind, node: node)
    }

    init(name: String, elementName: String, isChoice: Bool, isArray: Bool, order: Int, kind: Kind, node: XMLTypeNode? = nil) {
        self.jsonName = name
        self.extraName = "_" + name
        self.elementName = elementName
        self.isChoice = isChoice
        self.isArray = isArray
        self.order = order
        self.kind = kind
        self.node = node
        self.nodeRef = node.map { Unmanaged.passUnretained($0) }
        self.valueKind = node?.jsonKind ?? .string
        self.nameBytes = Array(name.utf8)
    }

    init(unknown name: String) {
        self.jsonName = name
        self.extraName = "_" + name
        self.elementName = name
        self.isChoice = false
        self.isArray = false
        self.order = Int.max
        self.kind = .unknown
        self.node = nil
        self.nodeRef = nil
        self.valueKind = .string
        self.nameBytes = Array(name.utf8)
    }

    var isUnknown: Bool { kind == .unknown }
}
