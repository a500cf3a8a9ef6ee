/// The organization identifiers (`system|value`, as FHIR Identifier) by which Consents name a participant as an
/// actor: a Consent's `provision.actor.reference.identifier` or `organization.identifier`. A partner's token carries
/// its participant, and the gateway matches consent actors to it through these.
///
/// The list is canonical so that it has one encoding: printable ASCII, each `system|value` with exactly one `|` and
/// both sides non-empty, at most ``maxLength`` bytes, at most ``maxCount`` of them, in strictly increasing byte order
/// (so no duplicates). ASCII keeps comparison and ordering byte-wise on every validator (no Unicode equivalence).
public struct ParticipantIdentifiers: LedgerEncodable, Hashable {
    public static let maxCount = 16
    public static let maxLength = 256

    public var identifiers: [String]

    public init(_ identifiers: [String]) {
        self.identifiers = identifiers
    }

    /// `identifiers` in the canonical order (sorted byte-wise, duplicates removed); ``problem(_:)`` still checks them.
    public static func canonical(_ identifiers: [String]) -> [String] {
        var out: [String] = []
        for s in identifiers.sorted(by: { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }) where out.last != s { out.append(s) }
        return out
    }

    /// Why `identifiers` is not a valid list, or nil.
    public static func problem(_ identifiers: [String]) -> String? {
        guard identifiers.count <= maxCount else { return "at most \(maxCount) identifiers, found \(identifiers.count)" }
        var previous: [UInt8]?
        for s in identifiers {
            if let reason = identifierProblem(s) { return "'\(s.prefix(300))': \(reason)" }
            let bytes = Array(s.utf8)
            if let previous, !previous.lexicographicallyPrecedes(bytes) {
                return "identifiers are listed once each, in increasing byte order ('\(s)' follows '\(String(decoding: previous, as: UTF8.self))')"
            }
            previous = bytes
        }
        return nil
    }

    /// Why one `system|value` is not an identifier, or nil.
    public static func identifierProblem(_ s: String) -> String? {
        let bytes = Array(s.utf8)
        guard !bytes.isEmpty, bytes.count <= maxLength else { return "an identifier is 1 to \(maxLength) bytes" }
        guard bytes.allSatisfy({ (0x20...0x7E).contains($0) }) else { return "an identifier is printable ASCII" }
        let bars = bytes.indices.filter { bytes[$0] == UInt8(ascii: "|") }
        guard bars.count == 1, let bar = bars.first else { return "an identifier is SYSTEM|VALUE with one '|'" }
        let system = bytes[..<bar], value = bytes[(bar + 1)...]
        guard !system.isEmpty, !system.contains(0x20) else { return "the system before '|' is a URI (not empty, no spaces)" }
        guard let first = value.first, let last = value.last, first != 0x20, last != 0x20 else {
            return "the value after '|' is not empty and has no leading or trailing space"
        }
        return nil
    }

    public func encode(to w: inout LedgerWriter) { w.strings(identifiers) }

    public static func decode(from r: inout LedgerReader) throws(LedgerDecodingError) -> ParticipantIdentifiers {
        ParticipantIdentifiers(try r.strings())
    }
}
