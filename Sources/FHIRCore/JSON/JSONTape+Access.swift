/// Reading a tape by node index, without building a tree: what the validator, the search index and the importer's
/// fast path use. A value is named by the index of its node (the root is 0); an object's members and an array's
/// items are walked with ``members(of:)`` and ``items(of:)``.
extension JSONTape {
    /// A tape of a tree: how a resource that did not come from JSON text (XML, or one the importer changed) reaches
    /// the code that reads tapes. Every scalar's bytes are written to the arena.
    public init(_ value: FHIRValue) {
        var builder = TapeFromTree()
        builder.add(value)
        self.init(source: [], nodes: builder.nodes, arena: builder.arena)
    }

    /// The tape of a resource's tree.
    public init(_ resource: Resource) {
        self.init(.object(resource.object))
    }

    /// Calls `body` with the bytes of the string (or member name) at `index`, as decoded.
    @inline(__always)
    public func withBytes<R>(at index: Int, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        let node = nodes[index]
        return (node.escaped ? arena : source).withUnsafeBufferPointer { b in
            body(UnsafeBufferPointer(rebasing: b[Int(node.start)..<Int(node.start) + Int(node.length)]))
        }
    }

    /// Whether the document's text (or decoded strings) may contain `byte`: false means no string holds it.
    public func mayContain(_ byte: UInt8) -> Bool {
        source.contains(byte) || arena.contains(byte)
    }

    /// The kind of the value at `index`.
    @inline(__always)
    public func kind(at index: Int) -> Kind { nodes[index].kind }

    /// The index just past the value at `index` and everything inside it.
    @inline(__always)
    public func end(of index: Int) -> Int { Int(nodes[index].end) }

    /// An object's member count or an array's item count.
    @inline(__always)
    public func count(of index: Int) -> Int { Int(nodes[index].length) }

    /// The string at `index`, nil for any other kind.
    public func string(at index: Int) -> String? {
        let node = nodes[index]
        guard node.kind == .string else { return nil }
        return string(node)
    }

    /// A number's lexeme, a string's text, or the literal `true`/`false`/`null`, as written.
    public func text(at index: Int) -> String {
        string(nodes[index])
    }

    /// Whether the string (or member name) at `index` spells `word`, compared byte for byte.
    public func spells(_ index: Int, _ word: String) -> Bool {
        let node = nodes[index]
        guard node.kind == .string else { return false }
        var word = word
        return word.withUTF8 { w in
            guard Int(node.length) == w.count else { return false }
            if w.isEmpty { return true }
            return (node.escaped ? arena : source).withUnsafeBufferPointer { b in
                let start = Int(node.start)
                for i in 0..<w.count where b[start + i] != w[i] { return false }
                return true
            }
        }
    }

    /// Whether the string at `index` holds the byte `byte`.
    public func stringContains(_ index: Int, _ byte: UInt8) -> Bool {
        let node = nodes[index]
        guard node.kind == .string else { return false }
        let bytes = node.escaped ? arena : source
        return bytes[Int(node.start)..<Int(node.start) + Int(node.length)].contains(byte)
    }

    /// The value of the member `name` of the object at `index`; nil if it has none or is not an object.
    public func member(_ name: String, of index: Int) -> Int? {
        guard nodes[index].kind == .object else { return nil }
        for m in members(of: index) where spells(m.name, name) { return m.value }
        return nil
    }

    /// The string member `name` of the object at `index`.
    public func stringMember(_ name: String, of index: Int) -> String? {
        member(name, of: index).flatMap { string(at: $0) }
    }

    /// The members of the object at `index`, in document order, as (name node, value node) pairs.
    public func members(of index: Int) -> Members {
        Members(nodes: nodes, position: index + 1, end: nodes[index].kind == .object ? Int(nodes[index].end) : index + 1)
    }

    /// The items of the array at `index`, in order.
    public func items(of index: Int) -> Items {
        Items(nodes: nodes, position: index + 1, end: nodes[index].kind == .array ? Int(nodes[index].end) : index + 1)
    }

    /// The objects a member holds: the object itself, or the objects among an array's items.
    public func objects(_ index: Int?) -> [Int] {
        guard let index else { return [] }
        switch nodes[index].kind {
        case .object: return [index]
        case .array: return items(of: index).filter { nodes[$0].kind == .object }
        default: return []
        }
    }

    /// A short name of the kind of the value at `index`, for messages (as ``FHIRValue/kindName``).
    public func kindName(at index: Int) -> String {
        Self.kindName(nodes[index].kind)
    }

    /// Holds only the node array: one reference to retain, not the tape's three.
    public struct Members: Sequence, IteratorProtocol {
        let nodes: [Node]
        var position: Int
        let end: Int

        public mutating func next() -> (name: Int, value: Int)? {
            guard position < end else { return nil }
            let name = position
            position = Int(nodes[name + 1].end)
            return (name, name + 1)
        }
    }

    public struct Items: Sequence, IteratorProtocol {
        let nodes: [Node]
        var position: Int
        let end: Int

        public mutating func next() -> Int? {
            guard position < end else { return nil }
            let item = position
            position = Int(nodes[item].end)
            return item
        }
    }
}

/// Builds a tape from a tree in document order; every scalar's bytes go to the arena.
private struct TapeFromTree {
    var nodes: [JSONTape.Node] = []
    var arena: [UInt8] = []

    mutating func scalar(_ kind: JSONTape.Kind, _ text: String) {
        let start = arena.count
        arena.append(contentsOf: text.utf8)
        nodes.append(JSONTape.Node(kind: kind, escaped: true, start: UInt32(start), length: UInt32(arena.count - start), end: UInt32(nodes.count + 1)))
    }

    mutating func add(_ value: FHIRValue) {
        switch value {
        case .null: scalar(.null, "null")
        case .bool(let b): scalar(b ? .true : .false, b ? "true" : "false")
        case .number(let n): scalar(.number, n.lexeme)
        case .string(let s): scalar(.string, s)
        case .array(let items):
            let index = nodes.count
            nodes.append(JSONTape.Node(kind: .array, escaped: false, start: 0, length: UInt32(items.count), end: 0))
            for item in items { add(item) }
            nodes[index].end = UInt32(nodes.count)
        case .object(let o):
            let index = nodes.count
            nodes.append(JSONTape.Node(kind: .object, escaped: false, start: 0, length: UInt32(o.members.count), end: 0))
            for m in o.members {
                scalar(.string, m.name)
                add(m.value)
            }
            nodes[index].end = UInt32(nodes.count)
        }
    }
}
