/// An escape sequence that was not read as HL7 v2 defines it (v2.5 §2.7): what was written, where, and what was
/// read in its place. Each becomes a warning of the conversion, so a repaired value is never silent.
public struct HL7EscapeRepair: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// `\X…\` without pairs of hex digits (none, an odd number, or a non-hex character): read as U+FFFD.
        case invalidHex
        /// `\X…\` spelling bytes that are not text in the message's character set: read as U+FFFD.
        case notText
        /// A sequence HL7 does not define (`\Zxx\` is site-defined): kept as written.
        case unknown
        /// An escape character that starts no complete sequence: read as itself.
        case unterminated
    }

    public let kind: Kind
    /// The segment, field, repetition, component and sub-component of the value holding it.
    public let location: HL7Location
    /// The sequence as written (at most ``shownLimit`` characters).
    public let sequence: String

    /// The longest sequence quoted in full.
    static let shownLimit = 16

    public var description: String {
        switch kind {
        case .invalidHex:
            "\(location): the escape \(sequence) is not pairs of hexadecimal digits; it was read as U+FFFD"
        case .notText:
            "\(location): the escape \(sequence) spells bytes that are not UTF-8 text; they were read as U+FFFD"
        case .unknown:
            "\(location): \(sequence) is not an escape sequence HL7 defines; it was kept as written"
        case .unterminated:
            "\(location): an escape character (\(sequence)) starts no complete sequence; it was read as itself"
        }
    }
}

extension HL7Message {
    /// Every escape sequence that is not read as HL7 defines it, in message order, with its location down to the
    /// sub-component (values are read leaf by leaf, as ``HL7Value/string`` reads them).
    public var escapeRepairs: [HL7EscapeRepair] {
        guard let escape = delimiters.escape else { return [] }
        var repairs: [HL7EscapeRepair] = []
        let bytes = buffer.bytes
        for (index, record) in buffer.segments.enumerated() {
            let segment = HL7Segment(buffer: buffer, index: index)
            // MSH-1 and MSH-2 are the delimiters themselves; the check starts after them.
            let firstField = segment.isHeader ? 3 : 1
            var from = record.start
            if segment.isHeader {
                guard let third = segment.field(3) else { continue }
                from = third.start
            }
            // Most segments hold no escape at all: one scan for the escape character rules them out.
            guard from < record.end, bytes[from..<record.end].contains(escape) else { continue }
            guard firstField <= segment.fieldCount else { continue }
            for f in firstField...segment.fieldCount {
                guard let field = segment.field(f), field.raw.contains(escape) else { continue }
                for (r, repetition) in field.repetitions.enumerated() {
                    let components = repetition.components
                    for (c, component) in components.enumerated() {
                        let subcomponents = component.subcomponents
                        for (s, leaf) in subcomponents.enumerated() where leaf.raw.contains(escape) {
                            var problems: [HL7EscapeProblem] = []
                            bytes.withUnsafeBufferPointer { p in
                                _ = delimiters.unescape(UnsafeBufferPointer(rebasing: p[leaf.start..<leaf.end]), charset: charset, problems: &problems)
                            }
                            guard !problems.isEmpty else { continue }
                            let hasSubcomponents = subcomponents.count > 1
                            let location = HL7Location(segment: record.name, segmentIndex: index + 1, line: record.line, field: f,
                                                       repetition: r + 1,
                                                       component: components.count > 1 || hasSubcomponents ? c + 1 : nil,
                                                       subcomponent: hasSubcomponents ? s + 1 : nil)
                            // Sequences that spell no text are found after the others: all in value order.
                            for problem in problems.sorted(by: { $0.start < $1.start }) {
                                let written = bytes[(leaf.start + problem.start)..<(leaf.start + problem.end)]
                                var shown = buffer.charset.decode(Array(written.prefix(HL7EscapeRepair.shownLimit)))
                                if written.count > HL7EscapeRepair.shownLimit { shown += "…" }
                                repairs.append(HL7EscapeRepair(kind: problem.kind, location: location, sequence: shown))
                            }
                        }
                    }
                }
            }
        }
        return repairs
    }
}
