/// A file of HL7 v2 messages: one, many one after another, or batches (`FHS`/`BHS` … `BTS`/`FTS`). Each message
/// is parsed on its own, so a bad one is reported with its line and the others are still read.
public struct HL7File: Sendable {
    public struct Entry: Sendable {
        /// The line of the file where the message (its MSH) starts.
        public let line: Int
        /// Its 1-based position among the file's messages.
        public let number: Int
        public let result: Result<HL7Message, HL7Error>
        /// The message's bytes, for a dead letter when it is refused.
        public let bytes: [UInt8]
    }

    public let entries: [Entry]
    /// The batch envelope segments (FHS, BHS, BTS, FTS) as written, in order.
    public let envelope: [String]
    /// Problems with the envelope that do not stop the messages being read (a count in BTS-1 that does not match).
    public let warnings: [String]

    public var messages: [HL7Message] { entries.compactMap { try? $0.result.get() } }

    /// Splits `bytes` into messages at each line that starts with `MSH` and parses each. Throws only when the file
    /// as a whole cannot be read: empty, too large, or with text before its first message that is no envelope.
    public static func parse(_ bytes: [UInt8], limits: HL7Limits = .default) throws(HL7Error) -> HL7File {
        guard bytes.count <= limits.maxFileBytes else {
            throw HL7Error(.tooLarge, "the file has \(bytes.count) bytes; at most \(limits.maxFileBytes) are accepted")
        }
        let n = bytes.count
        var position = 0
        if n >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { position = 3 }
        var chunks: [(start: Int, line: Int)] = []
        var chunkEnds: [Int] = []
        var envelope: [String] = []
        var warnings: [String] = []
        var line = 1
        var inMessage = false
        var batchOpen = false
        var countedInBatch = 0
        var sawContent = false
        while position < n {
            // One line: [position, end), then its separator run.
            var end = position
            while end < n, bytes[end] != 0x0D, bytes[end] != 0x0A { end += 1 }
            // A line may start with an MLLP start byte or a byte order mark (files concatenated from others).
            var lineStart = position
            while lineStart < end {
                if bytes[lineStart] == 0x0B { lineStart += 1; continue }
                if end - lineStart >= 3, bytes[lineStart] == 0xEF, bytes[lineStart + 1] == 0xBB, bytes[lineStart + 2] == 0xBF { lineStart += 3; continue }
                break
            }
            let name = end - lineStart >= 3 ? String(decoding: bytes[lineStart..<(lineStart + 3)], as: UTF8.self) : ""
            let blank = bytes[lineStart..<end].allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x1C }
            if name == "MSH" {
                if inMessage { chunkEnds.append(position) }
                chunks.append((lineStart, line))
                inMessage = true
                sawContent = true
                if batchOpen { countedInBatch += 1 }
            } else if ["FHS", "BHS", "BTS", "FTS"].contains(name) {
                if inMessage { chunkEnds.append(position); inMessage = false }
                let text = String(decoding: bytes[lineStart..<end], as: UTF8.self)
                envelope.append(text)
                sawContent = true
                if name == "BHS" {
                    if batchOpen { warnings.append("line \(line): a BHS before the previous batch's BTS") }
                    batchOpen = true
                    countedInBatch = 0
                } else if name == "BTS" {
                    if !batchOpen { warnings.append("line \(line): a BTS without a BHS") }
                    let fields = text.split(separator: Character(UnicodeScalar(bytes[lineStart + 3])), omittingEmptySubsequences: false)
                    if fields.count > 1, let declared = Int(fields[1].split(separator: "^").first ?? ""), declared != countedInBatch {
                        warnings.append("line \(line): BTS-1 counts \(declared) messages; the batch holds \(countedInBatch)")
                    }
                    batchOpen = false
                }
            } else if !inMessage, !blank {
                let shown = String(decoding: bytes[lineStart..<min(end, lineStart + 20)], as: UTF8.self)
                throw HL7Error(.notHL7, "line \(line) starts \"\(shown)\": a file of HL7 v2 messages holds MSH segments (optionally in FHS/BHS batches)", at: HL7Location(line: line))
            }
            // The separator run.
            var next = end
            while next < n, bytes[next] == 0x0D || bytes[next] == 0x0A {
                if bytes[next] == 0x0A || next + 1 >= n || bytes[next + 1] != 0x0A { line += 1 }
                next += 1
            }
            position = next
        }
        if inMessage { chunkEnds.append(n) }
        if batchOpen { warnings.append("the file ends inside a batch (a BHS without its BTS)") }
        guard sawContent else { throw HL7Error(.empty, "the file holds no HL7 v2 message") }
        var entries: [Entry] = []
        entries.reserveCapacity(chunks.count)
        for (k, chunk) in chunks.enumerated() {
            let piece = Array(bytes[chunk.start..<chunkEnds[k]])
            let result: Result<HL7Message, HL7Error>
            do throws(HL7Error) {
                result = .success(try HL7Message.parse(piece, limits: limits))
            } catch {
                result = .failure(error.shifted(byLines: chunk.line - 1))
            }
            entries.append(Entry(line: chunk.line, number: k + 1, result: result, bytes: piece))
        }
        return HL7File(entries: entries, envelope: envelope, warnings: warnings)
    }
}

extension HL7Error {
    /// The same error with its line counted from the start of a file rather than of the message.
    func shifted(byLines offset: Int) -> HL7Error {
        guard var location, let line = location.line else { return self }
        location.line = line + offset
        return HL7Error(code, reason, at: location)
    }
}
