/// Writes a message segment by segment: values set by path are escaped, and encoding joins them with the
/// delimiters. ``HL7Acknowledgment`` builds ACKs with it.
public struct HL7MessageBuilder: Sendable {
    public let delimiters: HL7Delimiters
    /// Each segment: its name, then fields → repetitions → components → sub-components, as raw (escaped) bytes.
    private var segments: [(name: String, fields: [[[[[UInt8]]]]])] = []

    public init(delimiters: HL7Delimiters = .standard) {
        self.delimiters = delimiters
    }

    /// Appends an empty segment named `name` and returns its index.
    @discardableResult
    public mutating func append(_ name: String) -> Int {
        segments.append((name, []))
        return segments.count - 1
    }

    /// Sets the text at `field[repetition].component.subcomponent` of segment `index`, escaping it.
    public mutating func set(_ index: Int, _ field: Int, repetition: Int = 1, component: Int = 1, subcomponent: Int = 1, _ text: String?) {
        guard let text, !text.isEmpty else { return }
        setRaw(index, field, repetition: repetition, component: component, subcomponent: subcomponent, delimiters.escaped(text))
    }

    /// Sets raw (already escaped) bytes at a position. MSH-1 comes from ``delimiters``; MSH-2 too, unless set.
    public mutating func setRaw(_ index: Int, _ field: Int, repetition: Int = 1, component: Int = 1, subcomponent: Int = 1, _ raw: [UInt8]) {
        guard field >= 1, repetition >= 1, component >= 1, subcomponent >= 1 else { return }
        var fields = segments[index].fields
        while fields.count < field { fields.append([]) }
        while fields[field - 1].count < repetition { fields[field - 1].append([]) }
        while fields[field - 1][repetition - 1].count < component { fields[field - 1][repetition - 1].append([]) }
        while fields[field - 1][repetition - 1][component - 1].count < subcomponent { fields[field - 1][repetition - 1][component - 1].append([]) }
        fields[field - 1][repetition - 1][component - 1][subcomponent - 1] = raw
        segments[index].fields = fields
    }

    /// Copies a whole field as written (its repetitions and components) from a parsed message with the same
    /// delimiters.
    public mutating func copy(_ index: Int, _ field: Int, from value: HL7Value?) {
        guard let value, !value.isEmpty else { return }
        setRaw(index, field, Array(value.raw))
    }

    /// The message, each segment followed by `segmentTerminator` (CR, as the standard and MLLP expect).
    public func encoded(segmentTerminator: [UInt8] = [0x0D]) -> [UInt8] {
        var out: [UInt8] = []
        for segment in segments {
            out.append(contentsOf: segment.name.utf8)
            let isHeader = segment.name == "MSH" || segment.name == "FHS" || segment.name == "BHS"
            var fields = segment.fields
            if isHeader {
                out.append(delimiters.field)
                // MSH-2 as set (a copy of a parsed header keeps what it declared), or the delimiters'.
                let declared = fields.count >= 2 ? fields[1].first?.first?.first ?? [] : []
                out.append(contentsOf: declared.isEmpty ? delimiters.encodingCharacters : declared)
                fields = Array(fields.dropFirst(2))
            }
            for field in fields {
                out.append(delimiters.field)
                for (r, repetition) in field.enumerated() {
                    if r > 0 { out.append(delimiters.repetition) }
                    for (c, component) in repetition.enumerated() {
                        if c > 0 { out.append(delimiters.component) }
                        for (s, sub) in component.enumerated() {
                            if s > 0 { out.append(delimiters.subcomponent) }
                            out.append(contentsOf: sub)
                        }
                    }
                }
            }
            out.append(contentsOf: segmentTerminator)
        }
        return out
    }
}

/// MSA-1: AA (accepted), AE (error: correct and resend), AR (rejected).
public enum HL7AcknowledgmentCode: String, Sendable, Hashable {
    case accept = "AA"
    case error = "AE"
    case reject = "AR"
}

/// Builds the ACK a receiver returns for a message (original mode).
public enum HL7Acknowledgment {
    /// The ACK for `message` (nil when it could not be parsed at all): MSH with sender and receiver swapped,
    /// `ACK^<event>^ACK`, `controlId` and `timestamp` (the caller's clock, as HL7 DTM), then MSA with MSA-2 =
    /// the message's MSH-10, and an ERR segment for `error` (ERR-2/3/4/8 from v2.5, ERR-1 before).
    public static func build(for message: HL7Message?, code: HL7AcknowledgmentCode, error: HL7Error? = nil, text: String? = nil,
                             controlId: String, timestamp: String, receivingApplication: String = "CARELEDGER") -> [UInt8] {
        let delimiters = message?.delimiters ?? .standard
        var b = HL7MessageBuilder(delimiters: delimiters)
        let msh = b.append("MSH")
        let header = message?.header
        if let sender = header?.field(5), !sender.isEmpty { b.copy(msh, 3, from: sender) } else { b.set(msh, 3, receivingApplication) }
        b.copy(msh, 4, from: header?.field(6))
        b.copy(msh, 5, from: header?.field(3))
        b.copy(msh, 6, from: header?.field(4))
        b.set(msh, 7, timestamp)
        b.set(msh, 9, component: 1, "ACK")
        b.set(msh, 9, component: 2, message?.triggerEvent)
        b.set(msh, 9, component: 3, "ACK")
        b.set(msh, 10, controlId)
        b.set(msh, 11, message?.processingId ?? "P")
        let version = message?.version.flatMap { $0.isSupported ? $0 : nil }
        b.set(msh, 12, version != nil ? message?.versionId : "2.5.1")
        let msa = b.append("MSA")
        b.set(msa, 1, code.rawValue)
        b.set(msa, 2, message?.controlId)
        b.set(msa, 3, text ?? error?.reason)
        if let error {
            let err = b.append("ERR")
            let location = error.location
            if let version, version < HL7Version(2, 5) {
                // ERR-1 (CM_ELD): segment ^ sequence ^ field position ^ code & text & table.
                b.set(err, 1, component: 1, location?.segment)
                b.set(err, 1, component: 2, location?.segmentIndex.map(String.init))
                b.set(err, 1, component: 3, location?.field.map(String.init))
                b.set(err, 1, component: 4, subcomponent: 1, error.conditionCode)
                b.set(err, 1, component: 4, subcomponent: 2, error.conditionText)
                b.set(err, 1, component: 4, subcomponent: 3, "HL70357")
            } else {
                b.set(err, 2, component: 1, location?.segment)
                b.set(err, 2, component: 2, location?.segmentIndex.map(String.init))
                b.set(err, 2, component: 3, location?.field.map(String.init))
                b.set(err, 2, component: 4, location?.repetition.map(String.init))
                b.set(err, 2, component: 5, location?.component.map(String.init))
                b.set(err, 2, component: 6, location?.subcomponent.map(String.init))
                b.set(err, 3, component: 1, error.conditionCode)
                b.set(err, 3, component: 2, error.conditionText)
                b.set(err, 3, component: 3, "HL70357")
                b.set(err, 4, "E")
                b.set(err, 8, error.reason)
            }
        }
        return b.encoded()
    }
}
