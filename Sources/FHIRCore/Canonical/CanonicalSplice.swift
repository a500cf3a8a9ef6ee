extension CanonicalForm {
    /// The canonical bytes of a resource with string members added to its `meta` (created when absent), made by
    /// splicing them into the resource's canonical bytes `content` instead of writing the whole form again: how
    /// the store turns a record's content into the form it serves for each new version.
    ///
    /// `members` have ASCII names. The result equals ``JSONTape/canonicalBytes(_:)`` with
    /// ``CanonicalEdits/addToMeta`` on the same resource. Nil when `content` is not a canonical object the splice
    /// handles (a `meta` that is not an object, a member name with an escape, or one of `members` already in
    /// `meta`): the caller then writes the form in full.
    public static func splicingMeta(into content: [UInt8], _ members: [(name: String, value: String)]) -> [UInt8]? {
        let extras = members.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
        return content.withUnsafeBufferPointer { bytes -> [UInt8]? in
            let scan = SpliceScanner(bytes: bytes)
            guard let root = scan.members(ofObjectAt: 0) else { return nil }
            var out: [UInt8] = []
            out.reserveCapacity(content.count + 96)
            if let meta = root.first(where: { scan.keyEquals($0.key, "meta") }) {
                guard bytes[meta.value] == UInt8(ascii: "{"), let inner = scan.members(ofObjectAt: meta.value) else { return nil }
                // Each added member goes before the first member whose name sorts after it, or before the `}`.
                var cursor = 0
                var pending = extras[...]
                for m in inner {
                    var texts: [(name: String, value: String)] = []
                    while let e = pending.first {
                        let order = scan.compareKey(m.key, e.name)
                        if order == 0 { return nil }
                        guard order > 0 else { break }
                        texts.append(e)
                        pending = pending.dropFirst()
                    }
                    guard !texts.isEmpty else { continue }
                    out.append(contentsOf: bytes[cursor..<m.key.lowerBound - 1])
                    for t in texts { appendMember(t, to: &out); out.append(UInt8(ascii: ",")) }
                    cursor = m.key.lowerBound - 1
                }
                let close = scan.end(ofValueAt: meta.value) - 1
                out.append(contentsOf: bytes[cursor..<close])
                for (n, t) in pending.enumerated() {
                    if n > 0 || !inner.isEmpty { out.append(UInt8(ascii: ",")) }
                    appendMember(t, to: &out)
                }
                out.append(contentsOf: bytes[close..<bytes.count])
                return out
            }
            // No meta: a new one, before the first root member whose name sorts after "meta", or before the `}`.
            if let next = root.first(where: { scan.compareKey($0.key, "meta") > 0 }) {
                out.append(contentsOf: bytes[0..<next.key.lowerBound - 1])
                appendMeta(extras, to: &out)
                out.append(UInt8(ascii: ","))
                out.append(contentsOf: bytes[(next.key.lowerBound - 1)...])
            } else {
                out.append(contentsOf: bytes[0..<bytes.count - 1])
                if !root.isEmpty { out.append(UInt8(ascii: ",")) }
                appendMeta(extras, to: &out)
                out.append(UInt8(ascii: "}"))
            }
            return out
        }
    }

    private static func appendMember(_ m: (name: String, value: String), to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        out.append(contentsOf: m.name.utf8)
        out.append(UInt8(ascii: "\""))
        out.append(UInt8(ascii: ":"))
        JSONStringEscaper.append(m.value, to: &out)
    }

    private static func appendMeta(_ members: [(name: String, value: String)], to out: inout [UInt8]) {
        out.append(contentsOf: "\"meta\":{".utf8)
        for (n, m) in members.enumerated() {
            if n > 0 { out.append(UInt8(ascii: ",")) }
            appendMember(m, to: &out)
        }
        out.append(UInt8(ascii: "}"))
    }
}

/// Walks canonical (compact) JSON by bytes: the members of an object, and where a value ends.
private struct SpliceScanner {
    let bytes: UnsafeBufferPointer<UInt8>

    /// The members of the object whose `{` is at `start`: each name's bytes (between its quotes) and where its
    /// value starts. Nil for anything that is not compact JSON with escape-free names.
    func members(ofObjectAt start: Int) -> [(key: Range<Int>, value: Int)]? {
        guard start < bytes.count, bytes[start] == UInt8(ascii: "{") else { return nil }
        var out: [(key: Range<Int>, value: Int)] = []
        var i = start + 1
        if i < bytes.count && bytes[i] == UInt8(ascii: "}") { return out }
        while i < bytes.count {
            guard bytes[i] == UInt8(ascii: "\"") else { return nil }
            var j = i + 1
            while j < bytes.count && bytes[j] != UInt8(ascii: "\"") {
                if bytes[j] == UInt8(ascii: "\\") { return nil }
                j += 1
            }
            guard j + 1 < bytes.count, bytes[j + 1] == UInt8(ascii: ":") else { return nil }
            out.append((i + 1..<j, j + 2))
            i = end(ofValueAt: j + 2)
            guard i < bytes.count else { return nil }
            if bytes[i] == UInt8(ascii: "}") { return out }
            guard bytes[i] == UInt8(ascii: ",") else { return nil }
            i += 1
        }
        return nil
    }

    /// The index just past the value starting at `start`.
    func end(ofValueAt start: Int) -> Int {
        var i = start
        var depth = 0
        var inString = false
        while i < bytes.count {
            let b = bytes[i]
            if inString {
                if b == UInt8(ascii: "\\") { i += 1 } else if b == UInt8(ascii: "\"") {
                    inString = false
                    if depth == 0 { return i + 1 }
                }
            } else {
                switch b {
                case UInt8(ascii: "\""): inString = true
                case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    if depth == 0 { return i }
                    depth -= 1
                    if depth == 0 { return i + 1 }
                case UInt8(ascii: ","):
                    if depth == 0 { return i }
                default: break
                }
            }
            i += 1
        }
        return i
    }

    /// Byte order of a member name against an ASCII name: the canonical order (UTF-16) agrees with it whenever
    /// one side is ASCII.
    func compareKey(_ key: Range<Int>, _ name: String) -> Int {
        var k = key.lowerBound
        for c in name.utf8 {
            if k == key.upperBound { return -1 }
            if bytes[k] != c { return bytes[k] < c ? -1 : 1 }
            k += 1
        }
        return k == key.upperBound ? 0 : 1
    }

    func keyEquals(_ key: Range<Int>, _ name: String) -> Bool { compareKey(key, name) == 0 }
}
