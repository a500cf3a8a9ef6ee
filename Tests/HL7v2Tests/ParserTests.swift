import Foundation
import HL7v2
import Testing
import TestSupport

@Suite struct ParserTests {
    static let adt = "MSH|^~\\&|SEND|FAC|RECV|RFAC|20240102030405-0500||ADT^A01^ADT_A01|CTRL1|P|2.5.1\r" +
        "PID|1||123^^^HOSP^MR~456^^^SSA^SS||Doe^Jane^Q^^Dr.||19800102|F|||1 Main St^Apt 2^Springfield^IL^62701^USA^H\r" +
        "OBX|1|TX|NOTE^Note^L||Line one\\.br\\Line two has a \\F\\ pipe, a \\S\\ hat, \\T\\ amp, \\R\\ tilde, \\E\\ backslash and \\X41\\\r"

    static func parse(_ text: String) throws -> HL7Message { try HL7Message.parse(Array(text.utf8)) }

    @Test func escapeSequencesResolveToText() throws {
        let message = try Self.parse(Self.adt)
        #expect(try message.string(at: "OBX-5") == "Line one\nLine two has a | pipe, a ^ hat, & amp, ~ tilde, \\ backslash and A")
        #expect(try message.string(at: "PID-3[2].4") == "SSA")
        // The encoder escapes what the parser unescapes.
        let text = "a|b^c&d~e\\f\nnext"
        let raw = HL7Delimiters.standard.escaped(text)
        #expect(String(decoding: raw, as: UTF8.self) == "a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f\\.br\\next")
        var builder = HL7MessageBuilder()
        let msh = builder.append("MSH")
        builder.set(msh, 9, component: 1, "ADT")
        builder.set(msh, 9, component: 2, "A01")
        builder.set(msh, 10, "X")
        builder.set(msh, 12, "2.5.1")
        let obx = builder.append("OBX")
        builder.set(obx, 5, text)
        let back = try HL7Message.parse(builder.encoded())
        #expect(try back.string(at: "OBX-5") == text)
        // Unknown and unterminated sequences stay as written; formatting and highlighting are dropped.
        let odd = try Self.parse("MSH|^~\\&|||||||ADT^A01|1|P|2.5\rNTE|1||\\Zfoo\\ \\H\\bold\\N\\ \\.in+4\\x \\unterminated\r")
        #expect(try odd.string(at: "NTE-3") == "\\Zfoo\\ bold x \\unterminated")
    }

    /// Any delimiters MSH declares work the same as the usual ones.
    @Test func delimitersAreTheOnesMSHDeclares() throws {
        let standard = try Self.parse(Self.adt)
        let mapping: [Character: Character] = ["|": "#", "^": "$", "~": "%", "\\": "!", "&": "@"]
        let translated = String(Self.adt.map { mapping[$0] ?? $0 })
        let custom = try Self.parse(translated)
        #expect(custom.delimiters.field == UInt8(ascii: "#"))
        #expect(custom.delimiters.escape == UInt8(ascii: "!"))
        for path in ["PID-3", "PID-3[2].1", "PID-3[2].4", "PID-5.2", "PID-11.3", "MSH-9.3", "MSH-10"] {
            #expect(try custom.string(at: path) == standard.string(at: path), "\(path)")
        }
        // Escapes name the message's own delimiters.
        #expect(try custom.string(at: "OBX-5") == "Line one\nLine two has a # pipe, a $ hat, @ amp, % tilde, ! backslash and A")
        #expect(try custom.string(at: "MSH-1") == "#")
        #expect(try custom.string(at: "MSH-2") == "$%!@")
        #expect(custom.encoded() == Array(translated.utf8))
        // v2.7's truncation character is the fifth.
        let truncating = try Self.parse("MSH|^~\\&#|A|B|||||ORU^R01|1|P|2.7\rNTE|1||a\\P\\b\r")
        #expect(truncating.delimiters.truncation == UInt8(ascii: "#"))
        #expect(try truncating.string(at: "NTE-3") == "a#b")
        // Delimiters that cannot work are refused.
        for bad in ["MSH|^~\\^|A", "MSH|A~\\&|A", "MSH||", "MSH|^~\\&#$|A"] {
            let error = #expect(throws: HL7Error.self) { try Self.parse(bad) }
            #expect(error?.code == .badDelimiters, "\(bad)")
        }
    }

    @Test func segmentSeparatorsCRLFAndCRLFAreAllAccepted() throws {
        let cr = try Self.parse(Self.adt)
        for separator in ["\n", "\r\n", "\n\n", "\r\n\r\n"] {
            let text = Self.adt.replacingOccurrences(of: "\r", with: separator)
            let message = try Self.parse(text)
            #expect(message.segmentCount == 3)
            #expect(try message.string(at: "PID-5") == cr.string(at: "PID-5"))
            #expect(message.encoded() == Array(text.utf8))
            #expect(message.encoded(segmentTerminator: [0x0D]) == Array(Self.adt.utf8))
        }
        // A byte order mark and blank lines before MSH are kept for the round trip but are not a segment.
        let withBOM: [UInt8] = [0xEF, 0xBB, 0xBF, 0x0A] + Array(Self.adt.utf8)
        let message = try HL7Message.parse(withBOM)
        #expect(message.segmentCount == 3)
        #expect(message.encoded() == withBOM)
    }

    @Test func structuralErrorsSayWhatAndWhere() throws {
        let empty = #expect(throws: HL7Error.self) { try HL7Message.parse([]) }
        #expect(empty?.code == .empty)
        let blank = #expect(throws: HL7Error.self) { try Self.parse("\r\n\r\n") }
        #expect(blank?.code == .empty)
        let notHL7 = #expect(throws: HL7Error.self) { try Self.parse("{\"resourceType\":\"Patient\"}") }
        #expect(notHL7?.code == .notHL7)
        #expect(notHL7?.acknowledgmentCode == .reject)
        let badSegment = #expect(throws: HL7Error.self) { try Self.parse("MSH|^~\\&|A|B|||||ADT^A01|1|P|2.5\rPID|1\rthis is not a segment\r") }
        #expect(badSegment?.code == .malformedSegment)
        #expect(badSegment?.location?.line == 3)
        #expect(badSegment?.location?.segmentIndex == 3)
        let two = #expect(throws: HL7Error.self) { try Self.parse(Self.adt + Self.adt) }
        #expect(two?.code == .segmentSequence)
        #expect(two?.location?.segmentIndex == 4)
        let oldVersion = try Self.parse("MSH|^~\\&|A|B|||||ADT^A01|1|P|2.2\r")
        let version = #expect(throws: HL7Error.self) { try oldVersion.validateHeader() }
        #expect(version?.code == .unsupportedVersion)
        #expect(version?.acknowledgmentCode == .reject)
        let noEvent = try Self.parse("MSH|^~\\&|A|B|||||ADT|1|P|2.5\r")
        #expect(throws: HL7Error.self) { try noEvent.validateHeader() }
    }

    @Test func limitsBoundSizeAndSegments() throws {
        let small = HL7Limits(maxMessageBytes: 100, maxSegments: 2)
        let large = #expect(throws: HL7Error.self) { try HL7Message.parse(Array(Self.adt.utf8), limits: HL7Limits(maxMessageBytes: 100)) }
        #expect(large?.code == .tooLarge)
        let many = #expect(throws: HL7Error.self) { try HL7Message.parse(Array("MSH|^~\\&|A\rPID|1\rPV1|1\r".utf8), limits: small) }
        #expect(many?.code == .tooLarge)
    }

    @Test func latin1IsReadWhenDeclaredOrWhenTheBytesAreNotUTF8() throws {
        // "José" in ISO 8859-1: é is the single byte 0xE9.
        let undeclared: [UInt8] = Array("MSH|^~\\&|A|B|||||ADT^A01|1|P|2.5\rPID|1||1||Jos".utf8) + [0xE9] + Array("^A\r".utf8)
        let guessed = try HL7Message.parse(undeclared)
        #expect(guessed.charset == .latin1)
        #expect(guessed.charsetWasGuessed)
        #expect(try guessed.string(at: "PID-5") == "José")
        let declared: [UInt8] = Array("MSH|^~\\&|A|B|||||ADT^A01|1|P|2.5||||||8859/1\rPID|1||1||Jos".utf8) + [0xE9] + Array("^A\r".utf8)
        let latin = try HL7Message.parse(declared)
        #expect(latin.charset == .latin1)
        #expect(!latin.charsetWasGuessed)
        #expect(try latin.string(at: "PID-5") == "José")
        let utf8 = try Self.parse("MSH|^~\\&|A|B|||||ADT^A01|1|P|2.5||||||UNICODE UTF-8\rPID|1||1||José^A\r")
        #expect(utf8.charset == .utf8)
        #expect(try utf8.string(at: "PID-5") == "José")
        // \X..\ spells bytes in the message's character set.
        let hex = try Self.parse("MSH|^~\\&|A|B|||||ADT^A01|1|P|2.5\rPID|1||1||Jos\\XC3A9\\\r")
        #expect(try hex.string(at: "PID-5") == "José")
    }

    @Test func pathsParseAndRefuseNonsense() throws {
        let path = try HL7Path("OBX[2]-5[3].1.2")
        #expect(path == HL7Path(segment: "OBX", occurrence: 2, field: 5, repetition: 3, component: 1, subcomponent: 2))
        #expect(path.description == "OBX[2]-5[3].1.2")
        #expect(try HL7Path("PID").field == nil)
        for bad in ["", "PI", "pid-3", "PID-", "PID-0", "PID-3[0]", "PID-3[", "PID-3.x", "PID-3.1.2.3", "PID3"] {
            let error = #expect(throws: HL7Error.self) { try HL7Path(bad) }
            #expect(error?.code == .invalidPath, "\(bad)")
        }
        let message = try Self.parse(Self.adt + "OBX|2|NM|X||42\r")
        #expect(try message.string(at: "OBX[2]-5") == "42")
        #expect(try message.string(at: "OBX[3]-5") == nil)
        #expect(message.segments(named: "OBX").count == 2)
        // Explicit null is told apart from absent.
        let null = try Self.parse("MSH|^~\\&|A|B|||||ADT^A08|1|P|2.5\rPID|1||1||\"\"\r")
        let value = try #require(null.value(at: try HL7Path("PID-5")))
        #expect(value.isExplicitNull)
        #expect(value.string == nil)
    }

    @Test func datesAndTimesBecomeFHIRDatesWithTimeZones() throws {
        func dt(_ text: String) throws -> HL7DateTime { try HL7DateTime(parsing: text) }
        #expect(try dt("2024").fhirDateTime() == "2024")
        #expect(try dt("202402").fhirDateTime() == "2024-02")
        #expect(try dt("20240229").fhirDateTime() == "2024-02-29")
        #expect(try dt("202402291230").fhirDateTime() == "2024-02-29")
        #expect(try dt("202402291230").hasTimeWithoutZone)
        #expect(try dt("202402291230").fhirDateTime(defaultOffsetMinutes: -300) == "2024-02-29T12:30:00-05:00")
        #expect(try dt("20240229123045.12-0500").fhirDateTime() == "2024-02-29T12:30:45.12-05:00")
        #expect(try dt("20240229123045+0000").fhirDateTime() == "2024-02-29T12:30:45Z")
        #expect(try dt("2024022912-0000").fhirDateTime() == "2024-02-29T12:00:00Z")
        for bad in ["", "24", "20240230", "20231301", "2024022925", "20240229123045.12345", "20240229+05", "2024-02-29", "20240229123045+1500"] {
            let error = #expect(throws: HL7Error.self) { try dt(bad) }
            #expect(error?.code == .dataType, "\(bad)")
        }
        #expect(try HL7Number(parsing: "+12.50").decimal == "12.50")
        #expect(try HL7Number(parsing: ".5").decimal == "0.5")
        #expect(try HL7Number(parsing: "-007").decimal == "-7")
        #expect(try HL7Number(parsing: "3.").decimal == "3")
        for bad in ["", "NOVALUE", "1.2.3", "+", "1e5"] {
            #expect(throws: HL7Error.self) { try HL7Number(parsing: bad) }
        }
    }

    @Test func batchFilesYieldEachMessageAndCheckTheCount() throws {
        let one = "MSH|^~\\&|A|B|||||ADT^A04|1|P|2.5\rPID|1||1||One^A\r"
        let two = "MSH|^~\\&|A|B|||||ADT^A04|2|P|2.5\rPID|1||2||Two^B\r"
        let batch = "FHS|^~\\&|A\rBHS|^~\\&|A\r" + one + two + "BTS|2\rFTS|1\r"
        let file = try HL7File.parse(Array(batch.utf8))
        #expect(file.entries.count == 2)
        #expect(file.warnings.isEmpty)
        #expect(file.envelope.count == 4)
        #expect(try file.messages.map { try $0.string(at: "PID-5") } == ["One", "Two"])
        #expect(file.entries.map(\.line) == [3, 5])
        let miscounted = try HL7File.parse(Array(("BHS|^~\\&|A\r" + one + two + "BTS|3\r").utf8))
        #expect(miscounted.entries.count == 2)
        #expect(miscounted.warnings.count == 1)
        // A bad message in the middle is reported with its line; the others are read.
        let mixed = one + "MSH|^~\\&|A\rnot a segment\r" + two.replacingOccurrences(of: "\r", with: "\n")
        let withBad = try HL7File.parse(Array(mixed.utf8))
        #expect(withBad.entries.count == 3)
        #expect(withBad.messages.count == 2)
        guard case .failure(let error) = withBad.entries[1].result else { Issue.record("the bad message parsed"); return }
        #expect(error.code == .malformedSegment)
        #expect(error.location?.line == 4)
        #expect(withBad.entries[2].line == 5)
        let notHL7 = #expect(throws: HL7Error.self) { try HL7File.parse(Array("hello\r".utf8)) }
        #expect(notHL7?.code == .notHL7)
        #expect(throws: HL7Error.self) { try HL7File.parse(Array("\n\n".utf8)) }
    }

    @Test func acknowledgmentsEchoTheControlIdAndDescribeErrors() throws {
        let message = try Self.parse(Self.adt)
        let ack = try HL7Message.parse(HL7Acknowledgment.build(for: message, code: .accept, controlId: "ACK1", timestamp: "20240102030406"))
        try ack.validateHeader()
        #expect(try ack.string(at: "MSA-1") == "AA")
        #expect(try ack.string(at: "MSA-2") == "CTRL1")
        #expect(try ack.string(at: "MSH-3") == "RECV")
        #expect(try ack.string(at: "MSH-5") == "SEND")
        #expect(try ack.string(at: "MSH-6") == "FAC")
        #expect(try ack.string(at: "MSH-9") == "ACK")
        #expect(try ack.string(at: "MSH-9.2") == "A01")
        #expect(try ack.string(at: "MSH-10") == "ACK1")
        #expect(try ack.string(at: "MSH-12") == "2.5.1")
        #expect(ack.segments(named: "ERR").isEmpty)

        let error = HL7Error(.dataType, "OBX-5 \"NOVALUE\" is not a number", at: HL7Location(segment: "OBX", segmentIndex: 3, field: 5, repetition: 1, component: 1))
        let ae = try HL7Message.parse(HL7Acknowledgment.build(for: message, code: .error, error: error, controlId: "ACK2", timestamp: "20240102030406"))
        #expect(try ae.string(at: "MSA-1") == "AE")
        #expect(try ae.string(at: "ERR-2") == "OBX")
        #expect(try ae.string(at: "ERR-2.2") == "3")
        #expect(try ae.string(at: "ERR-2.3") == "5")
        #expect(try ae.string(at: "ERR-3") == "102")
        #expect(try ae.string(at: "ERR-3.3") == "HL70357")
        #expect(try ae.string(at: "ERR-4") == "E")
        #expect(try ae.string(at: "ERR-8") == "OBX-5 \"NOVALUE\" is not a number")

        // Before v2.5 the location and code go in ERR-1.
        let old = try Self.parse(Self.adt.replacingOccurrences(of: "|2.5.1\r", with: "|2.3\r"))
        let ae23 = try HL7Message.parse(HL7Acknowledgment.build(for: old, code: .error, error: error, controlId: "ACK3", timestamp: "20240102030406"))
        #expect(try ae23.string(at: "MSH-12") == "2.3")
        #expect(try ae23.string(at: "ERR-1") == "OBX")
        #expect(try ae23.string(at: "ERR-1.4.1") == "102")
        // A message that could not be read still gets an AR.
        let unreadable = HL7Error(.notHL7, "not HL7")
        let ar = try HL7Message.parse(HL7Acknowledgment.build(for: nil, code: unreadable.acknowledgmentCode, error: unreadable, controlId: "ACK4", timestamp: "20240102030406"))
        #expect(try ar.string(at: "MSA-1") == "AR")
        #expect(try ar.string(at: "MSA-2") == nil)
    }
}

@Suite struct MLLPTests {
    static func drain(_ framer: inout MLLPFramer) -> [MLLPFramer.Event] {
        var events: [MLLPFramer.Event] = []
        while let e = framer.next() { events.append(e) }
        return events
    }

    /// Frames split at every possible place, and in random pieces, come out whole and in order.
    @Test func framesSurviveAnySplitting() {
        let payloads: [[UInt8]] = (0..<20).map { i in Array("MSH|^~\\&|A|B|||||ADT^A01|\(i)|P|2.5\rPID|1||\(i)\r".utf8) + (i % 3 == 0 ? [0x1C] : []) }
        let stream = payloads.flatMap(MLLPFramer.frame)
        var random = SplitMix64(seed: 7)
        for _ in 0..<50 {
            var framer = MLLPFramer()
            var events: [MLLPFramer.Event] = []
            var i = 0
            while i < stream.count {
                let n = Int(random.next() % 40) + 1
                framer.append(stream[i..<min(stream.count, i + n)])
                events += Self.drain(&framer)
                i += n
            }
            #expect(events == payloads.map { .frame($0) })
        }
        var byteByByte = MLLPFramer()
        var events: [MLLPFramer.Event] = []
        for b in stream { byteByByte.append([b]); events += Self.drain(&byteByByte) }
        #expect(events == payloads.map { .frame($0) })
    }

    @Test func garbageOversizedAndUnterminatedFramesAreReportedAndSkipped() {
        var framer = MLLPFramer(maxFrameBytes: 10)
        framer.append(Array("noise".utf8))
        framer.append(MLLPFramer.frame(Array("short".utf8)))
        framer.append(MLLPFramer.frame([UInt8](repeating: 0x41, count: 1_000)))
        framer.append([0x0B] + Array("cut".utf8))
        framer.append(MLLPFramer.frame(Array("next".utf8)))
        framer.append([0x0D, 0x0A])
        #expect(Self.drain(&framer) == [
            .garbage(count: 5), .frame(Array("short".utf8)), .oversized(count: 1_000), .unterminated(count: 3), .frame(Array("next".utf8)),
        ])
        #expect(framer.pendingBytes == 0)
    }
}
