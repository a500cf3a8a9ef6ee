/// Writes the resource tree as FHIR JSON, members in tree order, numbers as their lexemes.
public struct JSONWriter: Sendable {
    /// Layout of the output.
    public enum Style: Sendable, Hashable {
        /// No whitespace at all (one line: the NDJSON form).
        case compact
        /// Two-space indentation, one member per line.
        case pretty
    }

    public var style: Style

    public init(style: Style = .pretty) {
        self.style = style
    }

    /// The JSON bytes of a value.
    public func write(_ value: FHIRValue) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(4096)
        append(value, indent: 0, to: &out)
        if style == .pretty { out.append(0x0A) }
        return out
    }

    /// The JSON bytes of a resource.
    public func write(_ resource: Resource) -> [UInt8] {
        write(.object(resource.object))
    }

    private func newline(_ indent: Int, _ out: inout [UInt8]) {
        guard style == .pretty else { return }
        out.append(0x0A)
        out.append(contentsOf: repeatElement(UInt8(ascii: " "), count: indent * 2))
    }

    private func append(_ value: FHIRValue, indent: Int, to out: inout [UInt8]) {
        switch value {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .number(let n): out.append(contentsOf: n.lexeme.utf8)
        case .string(let s): JSONStringEscaper.append(s, to: &out)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                newline(indent + 1, &out)
                append(item, indent: indent + 1, to: &out)
            }
            if !items.isEmpty { newline(indent, &out) }
            out.append(UInt8(ascii: "]"))
        case .object(let object):
            out.append(UInt8(ascii: "{"))
            for (i, m) in object.members.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                newline(indent + 1, &out)
                JSONStringEscaper.append(m.name, to: &out)
                out.append(UInt8(ascii: ":"))
                if style == .pretty { out.append(UInt8(ascii: " ")) }
                append(m.value, indent: indent + 1, to: &out)
            }
            if !object.members.isEmpty { newline(indent, &out) }
            out.append(UInt8(ascii: "}"))
        }
    }
}
