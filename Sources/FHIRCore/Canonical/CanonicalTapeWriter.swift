extension JSONTape {
    /// The canonical form (docs/canonical-form.md) of the document, written from the tape.
    ///
    /// It must give exactly the bytes ``CanonicalWriter`` gives for the tree of the same document; the
    /// conformance tests compare the two over the whole corpus.
    func canonicalBytes() throws(FHIRError) -> [UInt8] {
        try source.withUnsafeBufferPointer { (src) throws(FHIRError) in
            try arena.withUnsafeBufferPointer { (arena) throws(FHIRError) in
                try nodes.withUnsafeBufferPointer { (nodes) throws(FHIRError) in
                    var writer = TapeCanonicalWriter(source: src, arena: arena, nodes: nodes)
                    writer.out.reserveCapacity(src.count)
                    try writer.write(at: 0, isNarrative: false)
                    return writer.out
                }
            }
        }
    }
}

/// Changes the store makes to a resource while writing its canonical form from a tape, so that it never has to
/// build and edit a tree: reference rewriting, and the server-assigned `meta` fields.
public struct CanonicalEdits: Sendable {
    /// `reference` strings (anywhere in the resource) replaced by another: `urn:uuid:…` or
    /// `Practitioner?identifier=…` by the stored `Type/id`.
    public var references: [String: String]
    /// Leave out `meta.versionId` and `meta.lastUpdated` (and their `_` twins), and `meta` when nothing else is
    /// in it: the form whose hash detects no-op re-imports.
    public var dropServerMeta: Bool
    /// String members added to the root's `meta` (created when absent), e.g. the `versionId` and `lastUpdated`
    /// the store assigned. Names are ASCII and must not already be in `meta` (unless `dropServerMeta` drops them).
    public var addToMeta: [(name: String, value: String)]

    public init(references: [String: String] = [:], dropServerMeta: Bool = false, addToMeta: [(name: String, value: String)] = []) {
        self.references = references
        self.dropServerMeta = dropServerMeta
        self.addToMeta = addToMeta
    }
}

extension JSONTape {
    /// The canonical bytes of this resource (a JSON object) with `edits` applied: equal to the tree writer's bytes
    /// for the tree edited the same way.
    public func canonicalBytes(_ edits: CanonicalEdits) throws(FHIRError) -> [UInt8] {
        let extras = edits.addToMeta.map { (name: Array($0.name.utf8), value: $0.value) }.sorted { $0.name.lexicographicallyPrecedes($1.name) }
        return try source.withUnsafeBufferPointer { (src) throws(FHIRError) in
            try arena.withUnsafeBufferPointer { (arena) throws(FHIRError) in
                try nodes.withUnsafeBufferPointer { (nodes) throws(FHIRError) in
                    var writer = TapeCanonicalWriter(source: src, arena: arena, nodes: nodes)
                    writer.references = edits.references
                    writer.dropServerMeta = edits.dropServerMeta
                    writer.out.reserveCapacity(src.count + arena.count + 96)
                    try writer.writeObject(at: 0, isNarrative: false, extraMeta: extras)
                    return writer.out
                }
            }
        }
    }
}

/// Canonical JSON from a tape: members sorted by name in UTF-16 order, strings re-escaped the RFC 8785 way,
/// numbers and literals copied as written, the narrative div replaced by its Canonical XML.
struct TapeCanonicalWriter {
    let source: UnsafeBufferPointer<UInt8>
    let arena: UnsafeBufferPointer<UInt8>
    let nodes: UnsafeBufferPointer<JSONTape.Node>
    var out: [UInt8] = []
    /// A stack of (name prefix, name node) pairs: each object sorts its members in its own slice on top.
    var order: [(prefix: UInt64, name: Int)] = []
    /// See ``CanonicalEdits``.
    var references: [String: String] = [:]
    var dropServerMeta = false

    init(source: UnsafeBufferPointer<UInt8>, arena: UnsafeBufferPointer<UInt8>, nodes: UnsafeBufferPointer<JSONTape.Node>) {
        self.source = source
        self.arena = arena
        self.nodes = nodes
        order.reserveCapacity(256)
    }

    @inline(__always)
    func bytes(_ node: JSONTape.Node) -> UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(rebasing: (node.escaped ? arena : source)[Int(node.start)..<Int(node.start) + Int(node.length)])
    }

    @inline(__always)
    mutating func writeString(_ node: JSONTape.Node) {
        out.append(UInt8(ascii: "\""))
        if node.escaped {
            JSONStringEscaper.appendEscaped(bytes(node), to: &out)
        } else {
            // Unescaped source strings hold no quote, backslash or control character: they are already canonical.
            out.append(contentsOf: bytes(node))
        }
        out.append(UInt8(ascii: "\""))
    }

    mutating func write(at index: Int, isNarrative: Bool) throws(FHIRError) {
        let node = nodes[index]
        switch node.kind {
        case .null, .false, .true, .number:
            out.append(contentsOf: bytes(node))
        case .string:
            writeString(node)
        case .array:
            out.append(UInt8(ascii: "["))
            var i = index + 1
            let end = Int(node.end)
            while i < end {
                if i > index + 1 { out.append(UInt8(ascii: ",")) }
                try write(at: i, isNarrative: false)
                i = Int(nodes[i].end)
            }
            out.append(UInt8(ascii: "]"))
        case .object:
            try writeObject(at: index, isNarrative: isNarrative)
        }
    }

    /// Writes an object; `extraMeta` (only for the root) adds string members to its `meta` object, and
    /// `extraMembers` (for that `meta` object) are merged among its own members in order. Added names are ASCII.
    mutating func writeObject(at index: Int, isNarrative: Bool, extraMeta: [(name: [UInt8], value: String)]? = nil,
                              extraMembers: [(name: [UInt8], value: String)] = [], isMeta: Bool = false) throws(FHIRError) {
        let node = nodes[index]
        let base = order.count
        var i = index + 1
        while i < Int(node.end) {
            order.append((prefix8(bytes(nodes[i])), i))
            i = Int(nodes[i + 1].end)
        }
        let n = order.count - base
        // Insertion sort by name: FHIR objects are small.
        var k = base + 1
        while k < base + n {
            let key = order[k]
            var j = k - 1
            while j >= base && precedes(key, order[j]) {
                order[j + 1] = order[j]
                j -= 1
            }
            order[j + 1] = key
            k += 1
        }
        out.append(UInt8(ascii: "{"))
        // Synthetic members to merge: the extra meta members here, or a whole `meta` object at the root when the
        // resource has none.
        var pending = extraMembers[...]
        var metaPending = false
        // The root's `meta`, when it is written with edits; nil when it is absent or left out (all of it dropped).
        var metaIndex: Int?
        if let extraMeta {
            for k in base..<base + n where isName(nodes[order[k].name], "meta") {
                let value = order[k].name + 1
                guard nodes[value].kind == .object else {
                    throw FHIRError(.wrongValueKind, "meta must be a JSON object", at: SourceLocation(pointer: "/meta"))
                }
                if !dropServerMeta || hasMemberKept(value) { metaIndex = value }
            }
            metaPending = metaIndex == nil && !extraMeta.isEmpty
        }
        var wrote = false
        func separator(_ out: inout [UInt8]) {
            if wrote { out.append(UInt8(ascii: ",")) }
            wrote = true
        }
        for k in base..<base + n {
            let nameNode = nodes[order[k].name]
            let name = bytes(nameNode)
            while let extra = pending.first, extra.name.lexicographicallyPrecedes(name) {
                separator(&out)
                writeSynthetic(extra.name, extra.value)
                pending = pending.dropFirst()
            }
            if metaPending && TapeCanonicalWriter.metaName.lexicographicallyPrecedes(name) {
                separator(&out)
                writeSyntheticMeta(extraMeta ?? [])
                metaPending = false
            }
            let valueIndex = order[k].name + 1
            if extraMeta != nil && isName(nameNode, "meta") {
                // The root's meta: written with the added members, or left out when nothing of it is kept.
                guard metaIndex == valueIndex else { continue }
                separator(&out)
                writeString(nameNode)
                out.append(UInt8(ascii: ":"))
                try writeObject(at: valueIndex, isNarrative: false, extraMembers: extraMeta ?? [], isMeta: true)
                continue
            }
            if isMeta && dropServerMeta && isServerMetaName(nameNode) { continue }
            separator(&out)
            writeString(nameNode)
            out.append(UInt8(ascii: ":"))
            if !references.isEmpty && nodes[valueIndex].kind == .string && isName(nameNode, "reference"),
               let target = references[String(decoding: bytes(nodes[valueIndex]), as: UTF8.self)] {
                JSONStringEscaper.append(target, to: &out)
            } else if isNarrative && nodes[valueIndex].kind == .string && isName(nameNode, "div") {
                let xhtml = String(decoding: bytes(nodes[valueIndex]), as: UTF8.self)
                JSONStringEscaper.append(try CanonicalWriter.canonicalNarrative(xhtml), to: &out)
            } else {
                try write(at: valueIndex, isNarrative: isName(nameNode, "text"))
            }
        }
        for extra in pending {
            separator(&out)
            writeSynthetic(extra.name, extra.value)
        }
        if metaPending {
            separator(&out)
            writeSyntheticMeta(extraMeta ?? [])
        }
        out.append(UInt8(ascii: "}"))
        order.removeLast(n)
    }

    static let metaName: [UInt8] = Array("meta".utf8)

    /// `versionId`, `lastUpdated` or their `_` twins: what the store assigns.
    func isServerMetaName(_ node: JSONTape.Node) -> Bool {
        isName(node, "versionId") || isName(node, "lastUpdated") || isName(node, "_versionId") || isName(node, "_lastUpdated")
    }

    /// Whether the meta object at `index` has a member that ``dropServerMeta`` keeps.
    func hasMemberKept(_ index: Int) -> Bool {
        var i = index + 1
        while i < Int(nodes[index].end) {
            if !isServerMetaName(nodes[i]) { return true }
            i = Int(nodes[i + 1].end)
        }
        return false
    }

    /// `"name":"value"` for an added member (an ASCII name; the value escaped the canonical way).
    mutating func writeSynthetic(_ name: [UInt8], _ value: String) {
        out.append(UInt8(ascii: "\""))
        out.append(contentsOf: name)
        out.append(contentsOf: Array("\":".utf8))
        JSONStringEscaper.append(value, to: &out)
    }

    /// `"meta":{…}` holding only the added members (already in order).
    mutating func writeSyntheticMeta(_ members: [(name: [UInt8], value: String)]) {
        out.append(contentsOf: Array("\"meta\":{".utf8))
        for (i, m) in members.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            writeSynthetic(m.name, m.value)
        }
        out.append(UInt8(ascii: "}"))
    }

    /// Whether a name node spells `word` (ASCII).
    @inline(__always)
    func isName(_ node: JSONTape.Node, _ word: StaticString) -> Bool {
        guard Int(node.length) == word.utf8CodeUnitCount else { return false }
        let name = bytes(node)
        let w = word.utf8Start
        for i in 0..<name.count where name[i] != w[i] { return false }
        return true
    }

    /// The first 8 bytes of a name, big-endian, zero-padded.
    @inline(__always)
    func prefix8(_ name: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var p: UInt64 = 0
        var shift: UInt64 = 56
        for b in name.prefix(8) {
            p |= UInt64(b) << shift
            shift &-= 8
        }
        return p
    }

    /// Member order: by packed prefix when that decides it for sure, else by full UTF-16 comparison.
    @inline(__always)
    func precedes(_ a: (prefix: UInt64, name: Int), _ b: (prefix: UInt64, name: Int)) -> Bool {
        if a.prefix != b.prefix && (a.prefix | b.prefix) & 0x8080_8080_8080_8080 == 0 {
            return a.prefix < b.prefix
        }
        let x = bytes(nodes[a.name])
        let y = bytes(nodes[b.name])
        let n = min(x.count, y.count)
        var i = 0
        while i < n && x[i] == y[i] { i += 1 }
        if i == n { return x.count < y.count }
        // Byte order is UTF-16 order except between supplementary characters and U+E000–U+FFFF.
        if x[i] < 0x80 || y[i] < 0x80 { return x[i] < y[i] }
        return String(decoding: x, as: UTF8.self).utf16.lexicographicallyPrecedes(String(decoding: y, as: UTF8.self).utf16)
    }
}
