/// One segment of a parsed message. Field numbers follow the standard: in MSH (and FHS, BHS) field 1 is the
/// field separator itself and field 2 the encoding characters; elsewhere field 1 is the first after the name.
public struct HL7Segment: Sendable {
    let buffer: HL7Buffer
    /// Position among the message's segments (0-based).
    public let index: Int

    var record: HL7Buffer.SegmentRecord { buffer.segments[index] }

    /// The three-character segment id, such as `PID`.
    public var name: String { record.name }
    /// The line in the input where the segment starts.
    public var line: Int { record.line }
    /// Whether fields 1 and 2 are the delimiters (MSH, FHS, BHS).
    var isHeader: Bool { let n = record.name; return n == "MSH" || n == "FHS" || n == "BHS" }

    /// The number of the last field present (trailing empty fields included, as written).
    public var fieldCount: Int {
        let count = record.separatorCount
        return isHeader ? count + 1 : count
    }

    /// Field `number` (1-based), or nil when the segment ends before it. A field present but empty is an empty
    /// value, not nil.
    public func field(_ number: Int) -> HL7Value? {
        guard number >= 1 else { return nil }
        let r = record
        if isHeader {
            if number == 1 {
                // MSH-1: the field separator.
                guard r.separatorCount >= 1 else { return nil }
                let at = buffer.separators[r.firstSeparator]
                return HL7Value(buffer: buffer, start: at, end: at + 1, level: .literal)
            }
            guard let (start, end) = bounds(ofSplit: number - 1) else { return nil }
            return HL7Value(buffer: buffer, start: start, end: end, level: number == 2 ? .literal : .field)
        }
        guard let (start, end) = bounds(ofSplit: number) else { return nil }
        return HL7Value(buffer: buffer, start: start, end: end, level: .field)
    }

    /// The bytes between the `k`-th field separator and the next one (or the segment's end).
    private func bounds(ofSplit k: Int) -> (Int, Int)? {
        let r = record
        guard k >= 1, k <= r.separatorCount else { return nil }
        let start = buffer.separators[r.firstSeparator + k - 1] + 1
        let end = k < r.separatorCount ? buffer.separators[r.firstSeparator + k] : r.end
        return (start, end)
    }

    /// All fields from 1 to ``fieldCount``.
    public var fields: [HL7Value] { fieldCount == 0 ? [] : (1...fieldCount).compactMap { field($0) } }

    /// The element a path addresses inside this segment (its segment part is not checked).
    public func value(at path: HL7Path) -> HL7Value? {
        guard let field = path.field else {
            return HL7Value(buffer: buffer, start: record.start, end: record.end, level: .literal)
        }
        guard var value = self.field(field) else { return nil }
        if let repetition = path.repetition {
            guard let r = value.repetition(repetition) else { return nil }
            value = r
        }
        if let component = path.component {
            guard let c = value.component(component) else { return nil }
            value = c
            if let sub = path.subcomponent {
                guard let s = value.subcomponent(sub) else { return nil }
                value = s
            }
        }
        return value
    }

    /// The segment's text, as written.
    public var text: String { buffer.text(record.start, record.end, unescaped: false) }

    /// Appends the segment: its name, then each field joined by the field separator (MSH-1 and MSH-2 are the
    /// delimiters themselves).
    func encode(into out: inout [UInt8]) {
        let bytes = buffer.bytes
        let r = record
        out.append(contentsOf: bytes[r.start..<(r.start + r.name.utf8.count)])
        let separator = buffer.delimiters.field
        for k in 0..<r.separatorCount {
            out.append(separator)
            guard let (start, end) = bounds(ofSplit: k + 1) else { continue }
            out.append(contentsOf: bytes[start..<end])
        }
    }
}

/// One element of a message: a field (with its repetitions), a repetition, a component or a sub-component.
/// Splitting and unescaping happen when it is read.
public struct HL7Value: Sendable {
    public enum Level: Sendable, Hashable {
        /// MSH-1 and MSH-2, and a whole segment: never split or unescaped.
        case literal
        case field, repetition, component, subcomponent
    }

    let buffer: HL7Buffer
    let start: Int
    let end: Int
    public let level: Level

    /// No bytes at all (an absent value).
    public var isEmpty: Bool { start == end }
    /// `""`: the sender says the value is now null (deletes it), as opposed to absent.
    public var isExplicitNull: Bool {
        end - start == 2 && buffer.bytes[start] == 0x22 && buffer.bytes[start + 1] == 0x22
    }

    /// The bytes as written (escapes and lower delimiters included).
    public var raw: ArraySlice<UInt8> { buffer.bytes[start..<end] }

    /// The whole element's text with escapes resolved (a field with components keeps its `^`).
    public func text(unescaped: Bool = true) -> String {
        buffer.text(start, end, unescaped: unescaped && level != .literal)
    }

    /// The first sub-component of the first component of the first repetition, unescaped; nil when that is empty
    /// or the explicit null `""` (``isExplicitNull`` tells the two apart).
    public var string: String? {
        // The leaf ends at the first delimiter of any level below this one: one scan, no intermediate values.
        let d = buffer.delimiters
        let leafEnd: Int = buffer.bytes.withUnsafeBufferPointer { p in
            var i = start
            switch level {
            case .literal, .subcomponent:
                return end
            case .field:
                while i < end, p[i] != d.repetition, p[i] != d.component, p[i] != d.subcomponent { i += 1 }
            case .repetition:
                while i < end, p[i] != d.component, p[i] != d.subcomponent { i += 1 }
            case .component:
                while i < end, p[i] != d.subcomponent { i += 1 }
            }
            return i
        }
        let leaf = HL7Value(buffer: buffer, start: start, end: leafEnd, level: level == .literal ? .literal : .subcomponent)
        if leaf.isEmpty || leaf.isExplicitNull { return nil }
        return leaf.text()
    }

    /// Component `n` of the first repetition as text (see ``string``).
    public func string(component n: Int) -> String? { component(n)?.string }

    /// The repetitions of a field (one for a field that does not repeat, none for an empty one).
    public var repetitions: [HL7Value] {
        guard level == .field else { return [self] }
        if isEmpty { return [] }
        return split(on: buffer.delimiters.repetition, as: .repetition)
    }

    /// Repetition `n` (1-based) of a field; the element itself for n = 1 below field level.
    public func repetition(_ n: Int) -> HL7Value? {
        guard level == .field else { return n == 1 ? self : nil }
        return nth(n, on: buffer.delimiters.repetition, as: .repetition)
    }

    /// The components of the first repetition (of this repetition or component).
    public var components: [HL7Value] {
        switch level {
        case .literal, .subcomponent: return [self]
        case .component: return [self]
        case .field: return repetition(1)?.components ?? []
        case .repetition: return split(on: buffer.delimiters.component, as: .component)
        }
    }

    /// Component `n` (1-based); for a component, `n` = 1 is itself.
    public func component(_ n: Int) -> HL7Value? {
        switch level {
        case .literal: return n == 1 ? self : nil
        case .field: return repetition(1)?.component(n)
        case .repetition: return nth(n, on: buffer.delimiters.component, as: .component)
        case .component, .subcomponent: return n == 1 ? self : nil
        }
    }

    /// The sub-components of a component.
    public var subcomponents: [HL7Value] {
        switch level {
        case .component: return split(on: buffer.delimiters.subcomponent, as: .subcomponent)
        case .field, .repetition: return component(1)?.subcomponents ?? []
        case .literal, .subcomponent: return [self]
        }
    }

    /// Sub-component `n` (1-based).
    public func subcomponent(_ n: Int) -> HL7Value? {
        switch level {
        case .component: return nth(n, on: buffer.delimiters.subcomponent, as: .subcomponent)
        case .field, .repetition: return component(1)?.subcomponent(n)
        case .literal, .subcomponent: return n == 1 ? self : nil
        }
    }

    private func split(on delimiter: UInt8, as level: Level) -> [HL7Value] {
        var parts: [HL7Value] = []
        var partStart = start
        buffer.bytes.withUnsafeBufferPointer { p in
            var i = start
            while i < end {
                if p[i] == delimiter {
                    parts.append(HL7Value(buffer: buffer, start: partStart, end: i, level: level))
                    partStart = i + 1
                }
                i += 1
            }
        }
        parts.append(HL7Value(buffer: buffer, start: partStart, end: end, level: level))
        return parts
    }

    private func nth(_ n: Int, on delimiter: UInt8, as level: Level) -> HL7Value? {
        guard n >= 1 else { return nil }
        return buffer.bytes.withUnsafeBufferPointer { p -> HL7Value? in
            var index = 1
            var partStart = start
            var i = start
            while i < end {
                if p[i] == delimiter {
                    if index == n { return HL7Value(buffer: buffer, start: partStart, end: i, level: level) }
                    index += 1
                    partStart = i + 1
                }
                i += 1
            }
            return index == n ? HL7Value(buffer: buffer, start: partStart, end: end, level: level) : nil
        }
    }
}

/// A path to an element: `SEG[occurrence]-field[repetition].component.subcomponent`, every part after the
/// segment optional (`PID`, `PID-3`, `PID-3[2]`, `PID-3[2].1`, `PID-3.4.2`, `OBX[3]-5`). Occurrences and
/// repetitions count from 1.
public struct HL7Path: Sendable, Hashable, CustomStringConvertible {
    public var segment: String
    public var occurrence: Int
    public var field: Int?
    public var repetition: Int?
    public var component: Int?
    public var subcomponent: Int?

    public init(segment: String, occurrence: Int = 1, field: Int? = nil, repetition: Int? = nil, component: Int? = nil,
                subcomponent: Int? = nil) {
        self.segment = segment
        self.occurrence = occurrence
        self.field = field
        self.repetition = repetition
        self.component = component
        self.subcomponent = subcomponent
    }

    public init(_ text: String) throws(HL7Error) {
        let bytes = Array(text.utf8)
        var i = 0
        func fail(_ why: String) -> HL7Error { HL7Error(.invalidPath, "\"\(text)\" is not a path such as PID-3[2].1: \(why)") }
        func number() -> Int? {
            var value = 0
            let begin = i
            while i < bytes.count, (0x30...0x39).contains(bytes[i]), i - begin < 6 { value = value * 10 + Int(bytes[i] - 0x30); i += 1 }
            return i > begin && value > 0 ? value : nil
        }
        func bracket() throws(HL7Error) -> Int? {
            guard i < bytes.count, bytes[i] == 0x5B else { return nil }
            i += 1
            guard let n = number() else { throw fail("a bracket holds a number from 1") }
            guard i < bytes.count, bytes[i] == 0x5D else { throw fail("a bracket is not closed") }
            i += 1
            return n
        }
        guard bytes.count >= 3, bytes[0..<3].allSatisfy({ (0x41...0x5A).contains($0) || (0x30...0x39).contains($0) }) else {
            throw fail("it starts with a three-character segment name")
        }
        segment = String(decoding: bytes[0..<3], as: UTF8.self)
        i = 3
        occurrence = try bracket() ?? 1
        field = nil
        repetition = nil
        component = nil
        subcomponent = nil
        if i < bytes.count {
            guard bytes[i] == 0x2D else { throw fail("a '-' and a field number follow the segment") }
            i += 1
            guard let f = number() else { throw fail("the field number is missing") }
            field = f
            repetition = try bracket()
            if i < bytes.count, bytes[i] == 0x2E {
                i += 1
                guard let c = number() else { throw fail("the component number is missing") }
                component = c
                if i < bytes.count, bytes[i] == 0x2E {
                    i += 1
                    guard let s = number() else { throw fail("the sub-component number is missing") }
                    subcomponent = s
                }
            }
        }
        guard i == bytes.count else { throw fail("unexpected text at character \(i + 1)") }
    }

    public var description: String {
        var text = segment
        if occurrence != 1 { text += "[\(occurrence)]" }
        guard let field else { return text }
        text += "-\(field)"
        if let repetition { text += "[\(repetition)]" }
        if let component { text += ".\(component)" }
        if let subcomponent { text += ".\(subcomponent)" }
        return text
    }
}
