/// A reference string that is all ASCII (as every `Type/id` reference is), read as bytes: the import asks of every
/// reference of every resource which type it names (`where(resolve() is T)`) and whether it names a Patient (the
/// compartment), and answering over Characters (grapheme breaking, Unicode properties) cost more than the rest of
/// the search extraction. Callers keep their Character-based rules for non-ASCII strings, where the two could
/// differ; over ASCII they agree (one byte is one Character, `/` is never part of a longer one).
struct ReferenceBytes {
    let bytes: [UInt8]

    /// Nil unless every byte of `reference` is ASCII.
    init?(_ reference: String) {
        let bytes = Array(reference.utf8)
        guard bytes.allSatisfy({ $0 < 0x80 }) else { return nil }
        self.bytes = bytes
    }

    /// The byte ranges of the type and id segments: the last two `/`-separated segments (empty ones counted),
    /// or the two before `_history/vid` when there are at least four segments; nil without a `/`.
    var typeAndId: (type: Range<Int>, id: Range<Int>)? {
        var slashes: [Int] = []  // the last four `/`, from the end
        slashes.reserveCapacity(4)
        var i = bytes.count - 1
        while i >= 0 && slashes.count < 4 {
            if bytes[i] == 0x2F { slashes.append(i) }
            i -= 1
        }
        guard !slashes.isEmpty else { return nil }
        // The segment k places from the end (0 is the last).
        func segment(_ k: Int) -> Range<Int> {
            let end = k == 0 ? bytes.count : slashes[k - 1]
            let start = k < slashes.count ? slashes[k] + 1 : 0
            return start..<end
        }
        if slashes.count >= 3, equals(segment(1), "_history") { return (segment(3), segment(2)) }
        return (segment(1), segment(0))
    }

    func equals(_ range: Range<Int>, _ word: StaticString) -> Bool {
        guard range.count == word.utf8CodeUnitCount else { return false }
        return word.withUTF8Buffer { w in bytes[range].elementsEqual(w) }
    }

    func all(_ range: Range<Int>, _ test: (UInt8) -> Bool) -> Bool {
        bytes[range].allSatisfy(test)
    }

    func string(_ range: Range<Int>) -> String {
        String(decoding: bytes[range], as: UTF8.self)
    }

    /// A byte of a FHIR R4 id: `[A-Za-z0-9\-\.]`.
    static func isIdByte(_ b: UInt8) -> Bool {
        (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39) || b == 0x2D || b == 0x2E
    }
}
