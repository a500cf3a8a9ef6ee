/// Where in a message a problem is: the segment (its name and 1-based position among all segments), and the
/// field, repetition and component when known. ``HL7Acknowledgment`` writes it into the ERR segment.
public struct HL7Location: Sendable, Hashable, CustomStringConvertible {
    public var segment: String?
    /// 1-based position of the segment in the message (MSH is 1).
    public var segmentIndex: Int?
    /// 1-based line in the input, counting every separator run as one break (for files of many messages).
    public var line: Int?
    public var field: Int?
    public var repetition: Int?
    public var component: Int?
    public var subcomponent: Int?

    public init(segment: String? = nil, segmentIndex: Int? = nil, line: Int? = nil, field: Int? = nil, repetition: Int? = nil,
                component: Int? = nil, subcomponent: Int? = nil) {
        self.segment = segment
        self.segmentIndex = segmentIndex
        self.line = line
        self.field = field
        self.repetition = repetition
        self.component = component
        self.subcomponent = subcomponent
    }

    /// `PID-3[2].1` style, with the segment's position: `PID-3[2].1 (segment 2, line 2)`; a segment whose name could
    /// not be read is `segment 3, line 3`.
    public var description: String {
        if segment == nil, field == nil, let segmentIndex {
            return "segment \(segmentIndex)" + (line.map { ", line \($0)" } ?? "")
        }
        var text = segment ?? "message"
        if let field {
            text += "-\(field)"
            if let repetition, repetition > 1 { text += "[\(repetition)]" }
            if let component { text += ".\(component)" }
            if let subcomponent { text += ".\(subcomponent)" }
        }
        var notes: [String] = []
        if let segmentIndex { notes.append("segment \(segmentIndex)") }
        if let line { notes.append("line \(line)") }
        return notes.isEmpty ? text : "\(text) (\(notes.joined(separator: ", ")))"
    }
}

/// Why an HL7 v2 input was refused: what went wrong, where, and the HL7 condition code (table 0357) an ACK carries.
public struct HL7Error: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        /// No bytes, or only separators.
        case empty
        /// The input does not start with an MSH (or FHS/BHS) segment.
        case notHL7
        /// MSH-1/MSH-2 declare delimiters that cannot work (repeated, letters or digits, CR or LF).
        case badDelimiters
        /// A line that is not a segment (its name is not three letters or digits).
        case malformedSegment
        /// Segments out of order: a batch trailer without its header, a second MSH where one message was expected.
        case segmentSequence
        /// A field the standard requires is empty (MSH-9, MSH-10, MSH-12, …).
        case requiredFieldMissing
        /// A value that does not parse as its datatype (a date, a number).
        case dataType
        /// A coded value that is not in its table.
        case tableValue
        /// MSH-9 names a message type or event that no mapping handles.
        case unsupportedMessageType
        /// MSH-9 names an event no mapping handles.
        case unsupportedEvent
        /// MSH-11 is not a processing id this node accepts.
        case unsupportedProcessingId
        /// MSH-12 names a version outside 2.3–2.8.
        case unsupportedVersion
        /// The input is larger than ``HL7Limits`` allow.
        case tooLarge
        /// A path such as `PID-3[2].1` that does not parse.
        case invalidPath
        /// Anything else that stopped processing inside this node.
        case internalError
    }

    public let code: Code
    public let reason: String
    public let location: HL7Location?

    public init(_ code: Code, _ reason: String, at location: HL7Location? = nil) {
        self.code = code
        self.reason = reason
        self.location = location
    }

    public var description: String {
        if let location { return "\(reason) (at \(location))" }
        return reason
    }

    /// HL7 table 0357, message error condition codes.
    public var conditionCode: String {
        switch code {
        case .segmentSequence, .malformedSegment, .notHL7, .empty, .badDelimiters: "100"
        case .requiredFieldMissing: "101"
        case .dataType: "102"
        case .tableValue: "103"
        case .unsupportedMessageType: "200"
        case .unsupportedEvent: "201"
        case .unsupportedProcessingId: "202"
        case .unsupportedVersion: "203"
        case .tooLarge, .invalidPath, .internalError: "207"
        }
    }

    /// The words of table 0357 for ``conditionCode``.
    public var conditionText: String {
        switch conditionCode {
        case "100": "Segment sequence error"
        case "101": "Required field missing"
        case "102": "Data type error"
        case "103": "Table value not found"
        case "200": "Unsupported message type"
        case "201": "Unsupported event code"
        case "202": "Unsupported processing id"
        case "203": "Unsupported version id"
        default: "Application internal error"
        }
    }

    /// `AR` when the message is refused as a whole (it cannot be read, or its type, version or processing id is not
    /// accepted here): sending it again unchanged will not help. `AE` when its content is wrong.
    public var acknowledgmentCode: HL7AcknowledgmentCode {
        switch code {
        case .empty, .notHL7, .badDelimiters, .unsupportedMessageType, .unsupportedEvent, .unsupportedProcessingId,
             .unsupportedVersion, .tooLarge:
            .reject
        case .malformedSegment, .segmentSequence, .requiredFieldMissing, .dataType, .tableValue, .invalidPath, .internalError:
            .error
        }
    }
}

/// Bounds on what the parser accepts, so that one hostile input cannot take the node's memory or time.
public struct HL7Limits: Sendable, Hashable {
    /// The most bytes in one message.
    public var maxMessageBytes: Int
    /// The most segments in one message.
    public var maxSegments: Int
    /// The most bytes in a file of messages (``HL7File``).
    public var maxFileBytes: Int

    public init(maxMessageBytes: Int = 16 << 20, maxSegments: Int = 100_000, maxFileBytes: Int = 1 << 30) {
        self.maxMessageBytes = maxMessageBytes
        self.maxSegments = maxSegments
        self.maxFileBytes = maxFileBytes
    }

    public static let `default` = HL7Limits()
}
