/// Where in the input something was found: a JSON pointer (RFC 6901) into the resource tree, and/or the
/// line and column (1-based) in the source text.
public struct SourceLocation: Sendable, Hashable, CustomStringConvertible {
    /// 1-based line in the source text, if known.
    public var line: Int?
    /// 1-based column (in bytes) in the source text, if known.
    public var column: Int?
    /// RFC 6901 JSON pointer into the resource tree (`/entry/0/resource/birthDate`), if known.
    public var pointer: String?

    public init(line: Int? = nil, column: Int? = nil, pointer: String? = nil) {
        self.line = line
        self.column = column
        self.pointer = pointer
    }

    /// `line 12, column 5`, `/name/0/given`, or both joined by ` at `.
    public var description: String {
        var parts: [String] = []
        if let pointer { parts.append(pointer) }
        if let line {
            parts.append(column.map { "line \(line), column \($0)" } ?? "line \(line)")
        }
        return parts.isEmpty ? "(unknown location)" : parts.joined(separator: " at ")
    }

    /// Escapes one reference token for a JSON pointer (RFC 6901 §3: `~` → `~0`, `/` → `~1`).
    public static func escapePointerToken(_ token: String) -> String {
        guard token.utf8.contains(where: { $0 == UInt8(ascii: "~") || $0 == UInt8(ascii: "/") }) else { return token }
        return token.replacingAll("~", with: "~0").replacingAll("/", with: "~1")
    }

    /// Computes the 1-based line and column of `offset` in `bytes`.
    public static func lineAndColumn(of offset: Int, in bytes: UnsafeBufferPointer<UInt8>) -> (line: Int, column: Int) {
        var line = 1
        var lineStart = 0
        let end = min(offset, bytes.count)
        var i = 0
        while i < end {
            if bytes[i] == 0x0A {
                line += 1
                lineStart = i + 1
            }
            i += 1
        }
        return (line, end - lineStart + 1)
    }
}

extension String {
    /// Replaces every occurrence of `target` (Foundation-free).
    func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var result = ""
        var rest = self[...]
        while let r = rest.range(of: target) {
            result += rest[..<r.lowerBound]
            result += replacement
            rest = rest[r.upperBound...]
        }
        result += rest
        return result
    }
}

extension Substring {
    /// The first range of `target` (Foundation-free).
    func range(of target: String) -> Range<Index>? {
        let t = Array(target.utf8)
        guard let first = t.first else { return nil }
        var i = startIndex
        let u = utf8
        while i < endIndex {
            if u[i] == first {
                var j = i
                var k = 0
                while k < t.count, j < endIndex, u[j] == t[k] {
                    j = u.index(after: j)
                    k += 1
                }
                if k == t.count { return i..<j }
            }
            i = u.index(after: i)
        }
        return nil
    }
}
