/// A parsed JSON document as one flat array of nodes over its bytes: the fast representation that
/// ``JSONReader`` produces.
///
/// Each value is one 16-byte ``Node`` in document order. An object's node is followed by its members, each
/// a string node (the name) then the value's nodes; an array's node is followed by its items. A container
/// node records where its subtree ends, so any value can be skipped in one step. Strings without escapes
/// point straight into ``source``; strings that had escapes are decoded into ``arena``. Nothing is
/// allocated per value, which is what makes hashing a document straight from its tape fast
/// (``CanonicalForm/bytes(of:)-(JSONTape)``).
///
/// A tape only comes from the parser, so it always holds a well-formed document: UTF-8 checked, names
/// unique within each object, limits enforced.
public struct JSONTape: Sendable {
    /// The kind of a node.
    public enum Kind: UInt8, Sendable {
        case null, `false`, `true`, number, string, array, object
    }

    /// One value.
    struct Node: Sendable {
        var kind: Kind
        /// For strings: the bytes are in ``JSONTape/arena`` (decoded), not in ``JSONTape/source``.
        var escaped: Bool
        /// Byte offset of the value in ``JSONTape/source`` (or, if `escaped`, in the arena).
        var start: UInt32
        /// Scalars: length in bytes. Objects: number of members. Arrays: number of items.
        var length: UInt32
        /// Index of the first node after this value's subtree.
        var end: UInt32
    }

    /// The document's bytes.
    let source: [UInt8]
    /// All values in document order; the root is node 0.
    let nodes: [Node]
    /// Decoded bytes of strings that contained escapes.
    let arena: [UInt8]

    init(source: [UInt8], nodes: [Node], arena: [UInt8]) {
        self.source = source
        self.nodes = nodes
        self.arena = arena
    }

    /// The kind of the root value.
    public var rootKind: Kind { nodes[0].kind }

    /// The root's `resourceType`, if the document is an object with a non-empty string one.
    public var resourceType: String? {
        guard nodes[0].kind == .object, let value = member("resourceType", of: 0), nodes[value].kind == .string,
              nodes[value].length > 0 else { return nil }
        return string(nodes[value])
    }

    /// Fails with ``FHIRError/Code/notAResource``, as ``Resource/init(_:)-(FHIRValue)`` does, unless the document
    /// is a resource.
    public func requireResource() throws(FHIRError) {
        guard nodes[0].kind == .object else {
            throw FHIRError(.notAResource, "expected a JSON object with a resourceType, found \(Self.kindName(nodes[0].kind))", at: SourceLocation(pointer: ""))
        }
        guard resourceType != nil else {
            throw FHIRError(.notAResource, "the object has no resourceType, so it is not a FHIR resource", at: SourceLocation(pointer: ""))
        }
    }

    static func kindName(_ kind: Kind) -> String {
        switch kind {
        case .null: "null"
        case .false, .true: "boolean"
        case .number: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }

    func string(_ node: Node) -> String {
        let bytes = node.escaped ? arena : source
        return String(decoding: bytes[Int(node.start)..<Int(node.start) + Int(node.length)], as: UTF8.self)
    }

    /// The resource tree of the whole document.
    public func value() -> FHIRValue {
        source.withUnsafeBufferPointer { src in
            arena.withUnsafeBufferPointer { arena in
                nodes.withUnsafeBufferPointer { nodes in
                    var builder = TreeBuilder(source: src, arena: arena, nodes: nodes)
                    return builder.value(at: 0)
                }
            }
        }
    }

    /// Builds ``FHIRValue``s from the tape.
    private struct TreeBuilder {
        let source: UnsafeBufferPointer<UInt8>
        let arena: UnsafeBufferPointer<UInt8>
        let nodes: UnsafeBufferPointer<Node>

        func string(_ node: Node) -> String {
            let bytes = node.escaped ? arena : source
            return String(decoding: UnsafeBufferPointer(rebasing: bytes[Int(node.start)..<Int(node.start) + Int(node.length)]), as: UTF8.self)
        }

        mutating func value(at index: Int) -> FHIRValue {
            let node = nodes[index]
            switch node.kind {
            case .null: return .null
            case .false: return .bool(false)
            case .true: return .bool(true)
            case .number: return .number(FHIRNumber(uncheckedLexeme: string(node)))
            case .string: return .string(string(node))
            case .array:
                var items: [FHIRValue] = []
                items.reserveCapacity(Int(node.length))
                var i = index + 1
                while i < Int(node.end) {
                    items.append(value(at: i))
                    i = Int(nodes[i].end)
                }
                return .array(items)
            case .object:
                var members: [FHIRObject.Member] = []
                members.reserveCapacity(Int(node.length))
                var i = index + 1
                while i < Int(node.end) {
                    let name = string(nodes[i])
                    members.append(FHIRObject.Member(name: name, value: value(at: i + 1)))
                    i = Int(nodes[i + 1].end)
                }
                return .object(FHIRObject(members: members))
            }
        }
    }
}
