/// The delimiters a message declares in MSH-1 and MSH-2 (any choice is allowed; `|^~\&` is only the usual one).
public struct HL7Delimiters: Sendable, Hashable {
    public let field: UInt8
    public let component: UInt8
    public let repetition: UInt8
    /// Nil when MSH-2 declares no escape character: then nothing is unescaped.
    public let escape: UInt8?
    public let subcomponent: UInt8
    /// The truncation character of v2.7 and later (`#`), when MSH-2 declares one.
    public let truncation: UInt8?
    /// MSH-2 repeated a character (`^~\\&`) and it was read once.
    public let repaired: Bool

    public static let standard = HL7Delimiters(field: 0x7C, component: 0x5E, repetition: 0x7E, escape: 0x5C,
                                               subcomponent: 0x26, truncation: nil)

    public init(field: UInt8, component: UInt8, repetition: UInt8, escape: UInt8?, subcomponent: UInt8, truncation: UInt8?) {
        self.field = field
        self.component = component
        self.repetition = repetition
        self.escape = escape
        self.subcomponent = subcomponent
        self.truncation = truncation
        repaired = false
    }

    /// Reads MSH-1 (`field`) and MSH-2 (`encodingCharacters`, 1 to 5 bytes: component, repetition, escape,
    /// subcomponent and truncation, in that order; missing ones are unused and get a byte that cannot occur).
    init(field: UInt8, encodingCharacters declared: ArraySlice<UInt8>, at location: HL7Location) throws(HL7Error) {
        // A doubled character (`^~\\&`, as a source-code string literal leaves the escape character) is read once.
        var chars: [UInt8] = []
        for b in declared where chars.last != b { chars.append(b) }
        repaired = chars.count != declared.count
        guard (1...5).contains(chars.count) else {
            throw HL7Error(.badDelimiters, "MSH-2 must hold 1 to 5 encoding characters (component, repetition, escape, subcomponent, truncation); it holds \(chars.count)", at: location)
        }
        let all = [field] + chars
        for byte in all {
            let isAlphanumeric = (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
            if isAlphanumeric || byte == 0x0D || byte == 0x0A || byte == 0x20 || byte < 0x20 || byte >= 0x7F {
                throw HL7Error(.badDelimiters, "delimiter 0x\(String(byte, radix: 16)) is not allowed: delimiters are printable ASCII punctuation", at: location)
            }
        }
        guard Set(all).count == all.count else {
            throw HL7Error(.badDelimiters, "MSH-1 and MSH-2 declare the same delimiter twice (\(String(decoding: all, as: UTF8.self)))", at: location)
        }
        let c = chars
        self.field = field
        component = c[0]
        // An undeclared delimiter gets the field separator: it never appears inside a field, so splitting on it
        // finds nothing.
        repetition = c.count > 1 ? c[1] : field
        escape = c.count > 2 ? c[2] : nil
        subcomponent = c.count > 3 ? c[3] : field
        truncation = c.count > 4 ? c[4] : nil
    }

    /// MSH-2 as written by the encoder: the declared encoding characters.
    public var encodingCharacters: [UInt8] {
        var out = [component]
        if repetition != field { out.append(repetition) } else { return out }
        if let escape { out.append(escape) } else { return out }
        if subcomponent != field { out.append(subcomponent) } else { return out }
        if let truncation { out.append(truncation) }
        return out
    }
}

/// How a message's bytes become text: UTF-8, or ISO 8859-1 when MSH-18 says so or the bytes are not UTF-8.
public enum HL7Charset: String, Sendable, Hashable {
    case utf8 = "UTF-8"
    case latin1 = "ISO-8859-1"

    func decode(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        switch self {
        case .utf8: String(decoding: bytes, as: UTF8.self)
        case .latin1:
            // Each ISO 8859-1 byte is the Unicode scalar of the same number: ASCII as it is, the rest as two UTF-8
            // bytes.
            if !bytes.contains(where: { $0 >= 0x80 }) {
                String(decoding: bytes, as: UTF8.self)
            } else {
                String(unsafeUninitializedCapacity: bytes.count * 2) { out in
                    var n = 0
                    for b in bytes {
                        if b < 0x80 {
                            out[n] = b
                            n += 1
                        } else {
                            out[n] = 0xC0 | (b >> 6)
                            out[n + 1] = 0x80 | (b & 0x3F)
                            n += 2
                        }
                    }
                    return n
                }
            }
        }
    }

    func decode(_ bytes: [UInt8]) -> String {
        bytes.withUnsafeBufferPointer { decode($0) }
    }
}

/// An escape sequence of a value that is not read as HL7 defines it, by kind, at byte offsets of the value.
struct HL7EscapeProblem: Sendable, Hashable {
    let kind: HL7EscapeRepair.Kind
    /// The sequence as written: `bytes[start..<end]` of the value.
    let start: Int
    let end: Int
}

extension HL7Delimiters {
    /// The text of `bytes` with escape sequences resolved: `\F\ \S\ \T\ \R\ \E\` give the delimiters, `\P\` the
    /// truncation character, `\Xhh…\` the bytes it spells, `\.br\` (and `\.sp\`) a line break; highlighting
    /// (`\H\ \N\`), other formatting commands and character-set switches (`\C…\ \M…\`) are dropped. A `\X…\`
    /// that is not pairs of hex digits, or spells bytes that are not text in the message's character set, reads as
    /// U+FFFD; a sequence that is unterminated or unknown is kept as written, as other parsers do.
    /// ``HL7Message/escapeRepairs`` names each of these.
    func unescape(_ bytes: UnsafeBufferPointer<UInt8>, charset: HL7Charset) -> String {
        guard let escape, bytes.contains(escape) else { return charset.decode(bytes) }
        var ignored: [HL7EscapeProblem] = []
        return unescape(bytes, escape: escape, charset: charset, problems: &ignored)
    }

    /// ``unescape(_:charset:)`` that also lists the sequences it repaired or kept as written.
    func unescape(_ bytes: UnsafeBufferPointer<UInt8>, charset: HL7Charset, problems: inout [HL7EscapeProblem]) -> String {
        guard let escape, bytes.contains(escape) else { return charset.decode(bytes) }
        return unescape(bytes, escape: escape, charset: charset, problems: &problems)
    }

    private func unescape(_ bytes: UnsafeBufferPointer<UInt8>, escape: UInt8, charset: HL7Charset,
                          problems: inout [HL7EscapeProblem]) -> String {
        // The output is UTF-8 whatever the message's character set: ISO 8859-1 bytes are transcoded as they are
        // appended, so that U+FFFD can stand for what cannot be read.
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + 8)
        let latin1 = charset == .latin1
        func append(_ b: UInt8) {
            if latin1, b >= 0x80 {
                out.append(0xC0 | (b >> 6))
                out.append(0x80 | (b & 0x3F))
            } else {
                out.append(b)
            }
        }
        /// Where `\X…\` bytes went in `out`, and the sequence that spelled them, to name the one that is not text.
        var spelled: [(out: Range<Int>, source: Range<Int>)] = []
        var i = 0
        let n = bytes.count
        while i < n {
            let b = bytes[i]
            guard b == escape else { append(b); i += 1; continue }
            var j = i + 1
            while j < n, bytes[j] != escape { j += 1 }
            guard j < n, j > i + 1 else {
                // Unterminated (or `\\`): the escape character stands for itself.
                problems.append(HL7EscapeProblem(kind: .unterminated, start: i, end: i + 1))
                append(b)
                i += 1
                continue
            }
            let body = UnsafeBufferPointer(rebasing: bytes[(i + 1)..<j])
            if body[0] == 0x58 { // X: hexadecimal bytes
                if let spelledBytes = hexBytes(UnsafeBufferPointer(rebasing: body[1...])) {
                    let from = out.count
                    for s in spelledBytes { append(s) }
                    spelled.append((from..<out.count, i..<(j + 1)))
                } else {
                    problems.append(HL7EscapeProblem(kind: .invalidHex, start: i, end: j + 1))
                    out.append(contentsOf: [0xEF, 0xBF, 0xBD])
                }
            } else if let replacement = resolve(body) {
                for r in replacement { append(r) }
            } else {
                problems.append(HL7EscapeProblem(kind: .unknown, start: i, end: j + 1))
                for k in i...j { append(bytes[k]) }
            }
            i = j + 1
        }
        // The message's own bytes are text in its character set (or it would be read as ISO 8859-1, where every byte
        // is), so only bytes spelled by \X…\ can fail to decode.
        if !latin1, !spelled.isEmpty {
            for position in Self.invalidUTF8Positions(out) {
                let owner = spelled.last { $0.out.lowerBound <= position } ?? spelled[0]
                let problem = HL7EscapeProblem(kind: .notText, start: owner.source.lowerBound, end: owner.source.upperBound)
                if problems.last != problem { problems.append(problem) }
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The offsets where a UTF-8 decoder finds a byte sequence that is not a character.
    static func invalidUTF8Positions(_ bytes: [UInt8]) -> [Int] {
        var positions: [Int] = []
        var iterator = bytes.makeIterator()
        var parser = Unicode.UTF8.ForwardParser()
        var offset = 0
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let scalar): offset += scalar.count
            case .error(let length): positions.append(offset); offset += length
            case .emptyInput: return positions
            }
        }
    }

    /// The bytes of `digits` read as pairs of hex digits, or nil when they are not (none, an odd number, or a
    /// character that is not a hex digit).
    private func hexBytes(_ digits: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        guard !digits.isEmpty, digits.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        var k = 0
        while k < digits.count {
            guard let hi = hexValue(digits[k]), let lo = hexValue(digits[k + 1]) else { return nil }
            bytes.append(hi << 4 | lo)
            k += 2
        }
        return bytes
    }

    /// What a sequence other than `\X…\` stands for, or nil when HL7 defines no such sequence.
    private func resolve(_ body: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        guard let first = body.first else { return nil }
        if body.count == 1 {
            switch first {
            case 0x46: return [field]            // F
            case 0x53: return [component]        // S
            case 0x54: return [subcomponent]     // T
            case 0x52: return [repetition]       // R
            case 0x45: return escape.map { [$0] } // E
            case 0x50: return truncation.map { [$0] } ?? [] // P
            case 0x48, 0x4E: return []           // H, N: highlighting on and off
            default: return nil
            }
        }
        switch first {
        case 0x2E: // .br, .sp and the other formatted-text commands
            let command = Array(body.dropFirst())
            if command.starts(with: [0x62, 0x72]) { return [0x0A] }           // .br
            if command.starts(with: [0x73, 0x70]) { return [0x0A] }           // .sp
            return []
        case 0x43, 0x4D: // C, M: character-set escapes
            return []
        default:
            return nil
        }
    }

    private func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: byte - 0x30
        case 0x41...0x46: byte - 0x41 + 10
        case 0x61...0x66: byte - 0x61 + 10
        default: nil
        }
    }

    /// `text` as the bytes of a field value: delimiters become escape sequences, a line break `\.br\`, and other
    /// control characters `\Xhh\` (so no value can end a segment).
    public func escaped(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        var previousWasCR = false
        for b in text.utf8 {
            defer { previousWasCR = b == 0x0D }
            if b == 0x0A {
                if !previousWasCR { out.append(contentsOf: sequence(".br")) }
                continue
            }
            if b == 0x0D {
                out.append(contentsOf: sequence(".br"))
                continue
            }
            guard escape != nil else { out.append(b); continue }
            switch b {
            case field: out.append(contentsOf: sequence("F"))
            case component: out.append(contentsOf: sequence("S"))
            case subcomponent where subcomponent != field: out.append(contentsOf: sequence("T"))
            case repetition where repetition != field: out.append(contentsOf: sequence("R"))
            case escape: out.append(contentsOf: sequence("E"))
            case truncation: out.append(contentsOf: sequence("P"))
            default:
                if b < 0x20 {
                    let hex = Array("0123456789ABCDEF".utf8)
                    out.append(contentsOf: sequence("X" + String(decoding: [hex[Int(b >> 4)], hex[Int(b & 15)]], as: UTF8.self)))
                } else {
                    out.append(b)
                }
            }
        }
        return out
    }

    private func sequence(_ body: String) -> [UInt8] {
        guard let escape else { return Array(body.utf8) }
        return [escape] + Array(body.utf8) + [escape]
    }
}
