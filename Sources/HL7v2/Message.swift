/// The parsed bytes of one message, shared by its segments and values. Immutable once built.
final class HL7Buffer: Sendable {
    struct SegmentRecord: Sendable {
        let name: String
        /// The segment's bytes (without its terminator).
        let start: Int
        let end: Int
        /// The separator run after it (CR, LF, CRLF, blank lines), kept so that encoding reproduces the input.
        let terminatorEnd: Int
        /// The positions of its field separators, in ``HL7Buffer/separators``.
        let firstSeparator: Int
        let separatorCount: Int
        let line: Int
    }

    let bytes: [UInt8]
    let delimiters: HL7Delimiters
    let charset: HL7Charset
    let segments: [SegmentRecord]
    let separators: [Int]

    init(bytes: [UInt8], delimiters: HL7Delimiters, charset: HL7Charset, segments: [SegmentRecord], separators: [Int]) {
        self.bytes = bytes
        self.delimiters = delimiters
        self.charset = charset
        self.segments = segments
        self.separators = separators
    }

    func text(_ start: Int, _ end: Int, unescaped: Bool = true) -> String {
        bytes.withUnsafeBufferPointer { all in
            let slice = UnsafeBufferPointer(rebasing: all[start..<end])
            return unescaped ? delimiters.unescape(slice, charset: charset) : charset.decode(slice)
        }
    }
}

/// One HL7 v2 message in ER7 (pipe-and-hat) form: its segments, read by path (`PID-3[2].1`) or by datatype.
///
/// Parsing finds the segments and their fields in one pass over the bytes and keeps them; repetitions,
/// components and sub-components are split, and escapes resolved, only when a value is read.
/// ``encoded(segmentTerminator:)`` writes the message back: with the input's own separators it gives the input's
/// bytes exactly.
public struct HL7Message: Sendable {
    let buffer: HL7Buffer
    /// Bytes before MSH (a UTF-8 byte order mark, blank lines), kept for an exact round trip.
    let leading: Range<Int>

    public var delimiters: HL7Delimiters { buffer.delimiters }
    /// How the message's bytes are read as text.
    public var charset: HL7Charset { buffer.charset }
    /// True when the bytes were not UTF-8 and MSH-18 did not declare ISO 8859-1: they were read as ISO 8859-1.
    public let charsetWasGuessed: Bool

    public var segments: [HL7Segment] { buffer.segments.indices.map { HL7Segment(buffer: buffer, index: $0) } }
    public var segmentCount: Int { buffer.segments.count }
    public func segment(at index: Int) -> HL7Segment { HL7Segment(buffer: buffer, index: index) }

    /// The segments named `name`, in order.
    public func segments(named name: String) -> [HL7Segment] {
        buffer.segments.indices.lazy.filter { buffer.segments[$0].name == name }.map { HL7Segment(buffer: buffer, index: $0) }
    }

    /// The `occurrence`-th (1-based) segment named `name`.
    public func segment(_ name: String, occurrence: Int = 1) -> HL7Segment? {
        var seen = 0
        for (i, record) in buffer.segments.enumerated() where record.name == name {
            seen += 1
            if seen == occurrence { return HL7Segment(buffer: buffer, index: i) }
        }
        return nil
    }

    public var header: HL7Segment { HL7Segment(buffer: buffer, index: 0) }

    // MARK: Parsing

    /// Parses one message. Leading byte order mark and blank lines are allowed; so is any choice of delimiters in
    /// MSH-1/MSH-2 and CR, LF or CRLF between segments. A second MSH is an error (``HL7File`` reads files of
    /// many messages).
    public static func parse(_ bytes: [UInt8], limits: HL7Limits = .default) throws(HL7Error) -> HL7Message {
        guard bytes.count <= limits.maxMessageBytes else {
            throw HL7Error(.tooLarge, "the message has \(bytes.count) bytes; at most \(limits.maxMessageBytes) are accepted")
        }
        var start = 0
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { start = 3 }
        while start < bytes.count, isSeparatorByte(bytes[start]) { start += 1 }
        guard start < bytes.count else { throw HL7Error(.empty, "the input holds no message (no bytes, or only line breaks)") }
        let header = HL7Location(segment: "MSH", segmentIndex: 1, line: 1)
        guard bytes.count >= start + 4, bytes[start] == 0x4D, bytes[start + 1] == 0x53, bytes[start + 2] == 0x48 else {
            let shown = String(decoding: bytes[start..<min(bytes.count, start + 3)], as: UTF8.self)
            throw HL7Error(.notHL7, "an HL7 v2 message starts with an MSH segment; this one starts with \"\(shown)\"", at: HL7Location(line: 1))
        }
        let delimiters = try readDelimiters(bytes, at: start, location: header)
        var records: [HL7Buffer.SegmentRecord] = []
        var separators: [Int] = []
        separators.reserveCapacity(bytes.count / 6)
        var line = 1
        var position = start
        let n = bytes.count
        let fieldSeparator = delimiters.field
        try bytes.withUnsafeBufferPointer { (p: UnsafeBufferPointer<UInt8>) throws(HL7Error) in
            while position < n {
                let segmentStart = position
                let firstSeparator = separators.count
                var i = position
                while i < n {
                    let b = p[i]
                    if b == fieldSeparator { separators.append(i) } else if b == 0x0D || b == 0x0A { break }
                    i += 1
                }
                let segmentEnd = i
                let segmentLine = line
                // The separator run: CR, LF, and lines that hold only blanks.
                var j = i
                while j < n {
                    let b = p[j]
                    if b == 0x0A { line += 1; j += 1; continue }
                    if b == 0x0D { if j + 1 >= n || p[j + 1] != 0x0A { line += 1 }; j += 1; continue }
                    if b == 0x20 || b == 0x09 || b == 0x0B || b == 0x1C {
                        var k = j
                        while k < n, p[k] == 0x20 || p[k] == 0x09 || p[k] == 0x0B || p[k] == 0x1C { k += 1 }
                        if k == n || p[k] == 0x0D || p[k] == 0x0A { j = k; continue }
                    }
                    break
                }
                let location = HL7Location(segmentIndex: records.count + 1, line: segmentLine)
                let name = try segmentName(p, segmentStart, segmentEnd, fieldSeparator: fieldSeparator, location: location)
                if name == "MSH", !records.isEmpty {
                    throw HL7Error(.segmentSequence, "a second MSH segment: this input holds more than one message (import it as a file of messages)", at: HL7Location(segment: "MSH", segmentIndex: records.count + 1, line: segmentLine))
                }
                records.append(.init(name: name, start: segmentStart, end: segmentEnd, terminatorEnd: j, firstSeparator: firstSeparator,
                                     separatorCount: separators.count - firstSeparator, line: segmentLine))
                guard records.count <= limits.maxSegments else {
                    throw HL7Error(.tooLarge, "the message has more than \(limits.maxSegments) segments")
                }
                position = j
            }
        }
        // MSH-18 may declare ISO 8859-1; otherwise the bytes must be UTF-8 (ASCII is), or they are read as 8859-1.
        let draft = HL7Buffer(bytes: bytes, delimiters: delimiters, charset: .utf8, segments: records, separators: separators)
        let declared = HL7Segment(buffer: draft, index: 0).field(18)?.repetitions.first?.text(unescaped: false) ?? ""
        var charset = HL7Charset.utf8
        var guessed = false
        if declared.contains("8859/1") || declared.uppercased().contains("LATIN") {
            charset = .latin1
        } else if !isValidUTF8(bytes) {
            charset = .latin1
            guessed = true
        }
        let buffer = charset == .utf8 ? draft : HL7Buffer(bytes: bytes, delimiters: delimiters, charset: charset, segments: records, separators: separators)
        return HL7Message(buffer: buffer, leading: 0..<start, charsetWasGuessed: guessed)
    }

    static func isSeparatorByte(_ b: UInt8) -> Bool { b == 0x0D || b == 0x0A }

    /// Segment ids are exactly this many characters (HL7 v2.5 §2.5: three, capitals or digits, such as PID or ZA1).
    static let segmentNameLength = 3

    static func readDelimiters(_ bytes: [UInt8], at start: Int, location: HL7Location) throws(HL7Error) -> HL7Delimiters {
        let field = bytes[start + 3]
        var end = start + 4
        while end < bytes.count, bytes[end] != field, !isSeparatorByte(bytes[end]) { end += 1 }
        return try HL7Delimiters(field: field, encodingCharacters: bytes[(start + 4)..<end], at: location)
    }

    static func segmentName(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, fieldSeparator: UInt8,
                            location: HL7Location) throws(HL7Error) -> String {
        // A name of another length (`PV1XYZ|`, `PV|`) or in lower case is not a segment this node can read: taking it
        // as an unknown segment would lose what it holds (an Encounter) behind a warning, so the message is refused.
        func isNameByte(_ b: UInt8) -> Bool { (0x41...0x5A).contains(b) || (0x30...0x39).contains(b) }
        let nameEnd = start + segmentNameLength
        guard nameEnd <= end, isNameByte(p[start]), isNameByte(p[start + 1]), isNameByte(p[start + 2]),
              nameEnd == end || p[nameEnd] == fieldSeparator else {
            var shownEnd = start
            while shownEnd < end, shownEnd - start < 20, p[shownEnd] != fieldSeparator { shownEnd += 1 }
            let shown = String(decoding: UnsafeBufferPointer(rebasing: p[start..<shownEnd]), as: UTF8.self)
            throw HL7Error(.malformedSegment, "a segment starts with its name, exactly three capitals or digits (such as PID or ZA1), and the field separator; this one starts \"\(shown)\"", at: location)
        }
        return String(decoding: UnsafeBufferPointer(rebasing: p[start..<nameEnd]), as: UTF8.self)
    }

    static func isValidUTF8(_ bytes: [UInt8]) -> Bool {
        var iterator = bytes.makeIterator()
        var parser = Unicode.UTF8.ForwardParser()
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid: continue
            case .emptyInput: return true
            case .error: return false
            }
        }
    }

    // MARK: Encoding

    /// The message's bytes: its segments, each with its fields joined by the field separator, and each followed by
    /// `segmentTerminator`, or by the separators it had in the input when nil (then the result is the input).
    public func encoded(segmentTerminator: [UInt8]? = nil) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(buffer.bytes.count)
        if segmentTerminator == nil { out.append(contentsOf: buffer.bytes[leading]) }
        for index in buffer.segments.indices {
            let segment = HL7Segment(buffer: buffer, index: index)
            segment.encode(into: &out)
            if let segmentTerminator {
                out.append(contentsOf: segmentTerminator)
            } else {
                let record = buffer.segments[index]
                out.append(contentsOf: buffer.bytes[record.end..<record.terminatorEnd])
            }
        }
        return out
    }

    // MARK: Header

    /// MSH-9.1, such as `ADT`.
    public var messageType: String? { header.field(9)?.string(component: 1) }
    /// MSH-9.2, such as `A01`.
    public var triggerEvent: String? { header.field(9)?.string(component: 2) }
    /// MSH-9.3, such as `ADT_A01`.
    public var messageStructure: String? { header.field(9)?.string(component: 3) }
    /// MSH-10, the message control id an ACK echoes in MSA-2.
    public var controlId: String? { header.field(10)?.string }
    /// MSH-11.1: P (production), T (training) or D (debugging).
    public var processingId: String? { header.field(11)?.string }
    /// MSH-12.1, such as `2.5.1`.
    public var versionId: String? { header.field(12)?.string }
    public var version: HL7Version? { versionId.flatMap(HL7Version.init) }
    /// MSH-3 and MSH-4, as written (all components).
    public var sendingApplication: String? { header.field(3)?.text() }
    public var sendingFacility: String? { header.field(4)?.text() }
    public var receivingApplication: String? { header.field(5)?.text() }
    public var receivingFacility: String? { header.field(6)?.text() }
    /// MSH-7, the time the message was created, as written.
    public var timestamp: String? { header.field(7)?.string }

    /// Checks what every message needs before it can be processed: MSH-9 (type and event), MSH-10 (control id),
    /// MSH-12 (a version from 2.3 to 2.8). The first problem is thrown.
    public func validateHeader() throws(HL7Error) {
        func missing(_ field: Int, _ what: String) -> HL7Error {
            HL7Error(.requiredFieldMissing, "MSH-\(field) (\(what)) is required and empty", at: HL7Location(segment: "MSH", segmentIndex: 1, line: buffer.segments[0].line, field: field))
        }
        guard let type = messageType, !type.isEmpty else { throw missing(9, "message type") }
        if type != "ACK", (triggerEvent ?? "").isEmpty { throw missing(9, "trigger event, MSH-9.2") }
        guard let control = controlId, !control.isEmpty else { throw missing(10, "message control id") }
        guard let versionText = versionId, !versionText.isEmpty else { throw missing(12, "version id") }
        guard let version = HL7Version(versionText), version.isSupported else {
            throw HL7Error(.unsupportedVersion, "MSH-12 names version \(versionText); versions 2.3 to 2.8 are accepted", at: HL7Location(segment: "MSH", segmentIndex: 1, line: buffer.segments[0].line, field: 12))
        }
    }

    // MARK: Paths

    /// The element `path` addresses (`PID-3`, `PID-3[2]`, `OBX[2]-5.1`, `PID-5.1.1`), or nil when the message does
    /// not have it.
    public func value(at path: HL7Path) -> HL7Value? {
        guard let segment = segment(path.segment, occurrence: path.occurrence) else { return nil }
        return segment.value(at: path)
    }

    /// The text at `path`: the first sub-component of the first component of the first repetition under it (as
    /// HAPI's Terser reads), unescaped; nil when absent or empty.
    public func string(at path: String) throws(HL7Error) -> String? {
        value(at: try HL7Path(path))?.string
    }

    /// The value at `path` read as a datatype (`CX`, `XPN`, `TS`, …).
    public func get<T: HL7Datatype>(_ type: T.Type, at path: String) throws(HL7Error) -> T? {
        guard let value = value(at: try HL7Path(path)), !value.isEmpty else { return nil }
        return try T(value)
    }
}

/// An HL7 v2 version, such as 2.5.1.
public struct HL7Version: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let major: Int
    public let minor: Int
    public let patch: Int

    public init?(_ text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard (2...3).contains(parts.count), let major = Int(parts[0]), let minor = Int(parts[1]) else { return nil }
        self.major = major
        self.minor = minor
        if parts.count == 3 { guard let patch = Int(parts[2]) else { return nil }; self.patch = patch } else { patch = 0 }
    }

    public init(_ major: Int, _ minor: Int, _ patch: Int = 0) {
        self.major = major
        self.minor = minor
        self.patch = patch
    }

    /// 2.3 through 2.8.x.
    public var isSupported: Bool { self >= HL7Version(2, 3) && self < HL7Version(2, 9) }

    public static func < (a: HL7Version, b: HL7Version) -> Bool { (a.major, a.minor, a.patch) < (b.major, b.minor, b.patch) }

    public var description: String { patch == 0 ? "\(major).\(minor)" : "\(major).\(minor).\(patch)" }
}
