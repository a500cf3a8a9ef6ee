import FHIRCore
import Foundation
import HL7v2
import Mapping
import Testing
import TestSupport

/// Issue 16 item 13: an escape sequence that is not read as HL7 defines it is never repaired silently, and a segment
/// name that is not three characters is refused like any other malformed segment.
@Suite struct EscapeRepairTests {
    static let header = "MSH|^~\\&|SEND|FAC|RECV|RFAC|20240102030405-0500||ADT^A01^ADT_A01|CTRL1|P|2.5.1\r"
    static let seeds = Repository.root.appendingPathComponent("Fuzz/seeds/hl7-er7")

    static func parse(_ text: String) throws -> HL7Message { try HL7Message.parse(Array(text.utf8)) }

    /// The hostile input of a test, as the fuzzers' seed of the same name.
    static func seed(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: seeds.appendingPathComponent(name)))
    }

    @Test func invalidHexEscapesAreReadAsReplacementCharactersAndEachIsNamed() throws {
        let message = try HL7Message.parse(try Self.seed("invalid-hex-escapes.hl7"))
        // \XZZ\ (not hex), \X414\ (odd), \X\ (no digits) and \XFFFE\ (bytes that are not UTF-8); \X41\ is fine.
        #expect(try message.string(at: "OBX-5") == "a\u{FFFD}b\u{FFFD}c\u{FFFD}d\u{FFFD}\u{FFFD}eA")
        let repairs = message.escapeRepairs
        #expect(repairs.map(\.kind) == [.invalidHex, .invalidHex, .invalidHex, .notText])
        #expect(repairs.map(\.sequence) == ["\\XZZ\\", "\\X414\\", "\\X\\", "\\XFFFE\\"])
        #expect(repairs.allSatisfy { $0.location.segment == "OBX" && $0.location.field == 5 && $0.location.segmentIndex == 3 })
        #expect(repairs.allSatisfy { $0.location.line == 3 })
        #expect(repairs[0].description == "OBX-5 (segment 3, line 3): the escape \\XZZ\\ is not pairs of hexadecimal digits; it was read as U+FFFD")
        #expect(repairs[3].description.contains("not UTF-8 text"))
        // In value order, whichever check finds them.
        let mixed = try Self.parse(Self.header + "OBX|1|TX|N||\\XC3\\ then \\XZZ\\\r")
        #expect(mixed.escapeRepairs.map(\.kind) == [.notText, .invalidHex])
    }

    @Test func unknownAndUnterminatedEscapesAreKeptAndNamedDownToTheSubcomponent() throws {
        let message = try Self.parse(Self.header + "PID|1||123^^^HOSP&\\Zsite\\&L^MR||Do\\e^Jane\r")
        // Kept as written, as other parsers do, but not silently.
        #expect(try message.string(at: "PID-3.4.2") == "\\Zsite\\")
        #expect(try message.string(at: "PID-5.1") == "Do\\e")
        let repairs = message.escapeRepairs
        #expect(repairs.map(\.kind) == [.unknown, .unterminated])
        #expect(repairs[0].location.description == "PID-3.4.2 (segment 2, line 2)")
        #expect(repairs[1].location.description == "PID-5.1 (segment 2, line 2)")
        #expect(repairs[1].sequence == "\\")
    }

    @Test func validEscapesAndLatin1BytesAreNotRepairs() throws {
        let valid = try Self.parse(Self.header + "OBX|1|TX|N||\\F\\\\S\\\\T\\\\R\\\\E\\\\X41C3A9\\\\.br\\\\H\\x\\N\\\\Cxxyy\\\r")
        #expect(try valid.string(at: "OBX-5") == "|^&~\\Aé\nx")
        #expect(valid.escapeRepairs.isEmpty)
        // In ISO 8859-1 every byte is a character: \XFFFE\ is ÿþ, not a repair.
        let latin1 = try Self.parse("MSH|^~\\&|A|B|||20240101||ADT^A01|1|P|2.5.1||||||8859/1\rOBX|1|TX|N||\\XFFFE\\\r")
        #expect(try latin1.string(at: "OBX-5") == "ÿþ")
        #expect(latin1.escapeRepairs.isEmpty)
        // MSH-2 holds the escape character itself: it is no sequence.
        #expect(try Self.parse(Self.header).escapeRepairs.isEmpty)
    }

    /// Through the converter: every repair is a warning of the conversion, with its segment and field.
    @Test func everyRepairIsAWarningOfTheConversion() throws {
        let message = try Self.parse(Self.header + "EVN|A01|20240102030405\rPID|1||NG-1^^^HOSP^MR||Sm\\XZZ\\ith^Jo\\Zq\\e||19800102|F\r" +
                                     "PV1|1|I\r")
        let conversion = try MappingTests.converter().convert(message)
        let warnings = conversion.warnings.map(\.diagnostics)
        #expect(warnings.contains("PID-5.1 (segment 3, line 3): the escape \\XZZ\\ is not pairs of hexadecimal digits; it was read as U+FFFD"))
        #expect(warnings.contains { $0.hasPrefix("PID-5.2 (segment 3, line 3): \\Zq\\ is not an escape sequence HL7 defines") })
        let patient = try #require(MappingTests.resources(conversion, "Patient").first)
        #expect(patient["name"]?.arrayValue?.first?.objectValue?["family"]?.stringValue == "Sm\u{FFFD}ith")
    }

    @Test(arguments: [
        ("PV1XYZ|1|I\r", "PV1XYZ"),       // a name too long: once read as an unknown segment, its Encounter lost
        ("PV|1|I\r", "PV"),               // too short
        ("pv1|1|I\r", "pv1"),             // lower case
        ("PV1XYZ\r", "PV1XYZ"),           // too long, with no fields
    ])
    func aSegmentNameThatIsNotThreeCapitalsOrDigitsIsRefusedWithWhereItIs(line: String, shown: String) throws {
        let error = #expect(throws: HL7Error.self) { try Self.parse(Self.header + "PID|1||1^^^H^MR\r" + line) }
        #expect(error?.code == .malformedSegment)
        #expect(error?.location?.segmentIndex == 3)
        #expect(error?.location?.line == 3)
        #expect(error?.reason.contains("exactly three capitals or digits") == true)
        #expect(error?.reason.contains("\"\(shown)\"") == true)
        #expect(error?.location?.description == "segment 3, line 3")
    }

    @Test func threeCharacterNamesOfCapitalsAndDigitsAreSegments() throws {
        let message = try Self.parse(Self.header + "PID\rZA1|x\rPV1|1|I\r")
        #expect(message.segments.map(\.name) == ["MSH", "PID", "ZA1", "PV1"])
        let seeded = #expect(throws: HL7Error.self) { try HL7Message.parse(try Self.seed("segment-name-six-characters.hl7")) }
        #expect(seeded?.code == .malformedSegment)
    }

    /// A file of messages: the one with a bad segment name is refused with its line, the others are read.
    @Test func inAFileOnlyTheMessageWithTheBadNameIsRefused() throws {
        let text = Self.header + "PID|1\r" + Self.header + "PID|1\rPV1XYZ|1\r" + Self.header + "PID|1\r"
        let file = try HL7File.parse(Array(text.utf8))
        #expect(file.entries.count == 3)
        #expect(file.messages.count == 2)
        guard case .failure(let error) = file.entries[1].result else { Issue.record("the bad message parsed"); return }
        #expect(error.code == .malformedSegment)
        #expect(error.location?.line == 5)
    }
}
