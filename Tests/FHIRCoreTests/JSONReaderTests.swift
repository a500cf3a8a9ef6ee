import Foundation
import Testing
@testable import FHIRCore

@Suite("JSON reader and writer")
struct JSONReaderTests {
    let reader = JSONReader()

    func parse(_ text: String) throws(FHIRError) -> FHIRValue {
        try reader.readValue(Array(text.utf8))
    }

    @Test func keepsDecimalLexemesAndBigIntegers() throws {
        let v = try parse(#"{"a":1.50,"b":12345678901234567890123,"c":-0.0,"d":1e-7,"e":4.50E+2}"#)
        let o = try #require(v.objectValue)
        #expect(o["a"] == .number(FHIRNumber(uncheckedLexeme: "1.50")))
        #expect(o["b"] == .number(FHIRNumber(uncheckedLexeme: "12345678901234567890123")))
        #expect(o["c"] == .number(FHIRNumber(uncheckedLexeme: "-0.0")))
        #expect(o["d"] == .number(FHIRNumber(uncheckedLexeme: "1e-7")))
        #expect(o["e"] == .number(FHIRNumber(uncheckedLexeme: "4.50E+2")))
        #expect(String(decoding: JSONWriter(style: .compact).write(v), as: UTF8.self) == #"{"a":1.50,"b":12345678901234567890123,"c":-0.0,"d":1e-7,"e":4.50E+2}"#)
    }

    @Test func keepsMemberOrderUnknownMembersAndPrimitiveExtensions() throws {
        let text = #"{"resourceType":"Patient","zzUnknown":{"x":[1,null,true]},"birthDate":"1970","_birthDate":{"id":"b","extension":[{"url":"http://e","valueString":"s"}]}}"#
        let v = try parse(text)
        #expect(v.objectValue?.names == ["resourceType", "zzUnknown", "birthDate", "_birthDate"])
        #expect(String(decoding: JSONWriter(style: .compact).write(v), as: UTF8.self) == text)
    }

    @Test func decodesEscapesAndSurrogatePairs() throws {
        let v = try parse(#"["a\"b\\c\/d\b\f\n\r\t\u00e9\ud83d\ude00", "é😀"]"#)
        let a = try #require(v.arrayValue)
        #expect(a[0] == .string("a\"b\\c/d\u{08}\u{0C}\n\r\té😀"))
        #expect(a[1] == .string("é😀"))
        // The writer escapes only what JCS escapes.
        #expect(String(decoding: JSONWriter(style: .compact).write(a[0]), as: UTF8.self) == #""a\"b\\c/d\b\f\n\r\té😀""#)
        #expect(String(decoding: JSONWriter(style: .compact).write(.string("\u{01}\u{1F}")), as: UTF8.self) == #""\u0001\u001f""#)
    }

    @Test func refusesDuplicateMembersWithPointer() throws {
        let error = try #require(throws: FHIRError.self) { try parse(#"{"name":[{"given":"a","given":"b"}]}"#) }
        #expect(error.code == .duplicateMember)
        #expect(error.location?.pointer == "/name/0")
        #expect(error.location?.line == 1)
        #expect(error.location?.column == 23)
    }

    @Test(arguments: [
        (#"{"a":1"#, FHIRError.Code.malformedJSON),
        (#"{"a":[1,2"#, .malformedJSON),
        (#"{"a":"abc"#, .malformedJSON),
        (#"{"a":tru}"#, .malformedJSON),
        (#"{"a":01}"#, .malformedJSON),
        (#"{"a":1.}"#, .malformedJSON),
        (#"{"a":+1}"#, .malformedJSON),
        (#"{a:1}"#, .malformedJSON),
        (#"{"a":1,}"#, .malformedJSON),
        (#"[1,]"#, .malformedJSON),
        (#"{"a":1} x"#, .malformedJSON),
        ("", .malformedJSON),
        (#"{"a":"\x"}"#, .malformedJSON),
        (#"{"a":"\ud800"}"#, .invalidUTF8),
        (#"{"a":"\udc00x"}"#, .invalidUTF8),
        ("{\"a\":\"tab\there\"}", .malformedJSON),
    ])
    func refusesMalformedJSON(text: String, code: FHIRError.Code) throws {
        let error = try #require(throws: FHIRError.self) { try parse(text) }
        #expect(error.code == code)
        #expect(error.location?.line == 1)
    }

    @Test func reportsLineAndColumnAndPointerOfTruncation() throws {
        let text = "{\n  \"resourceType\": \"Patient\",\n  \"name\": [\n    {\"family\": \"Chalmers\", \"given\": [\"Peter\", "
        let error = try #require(throws: FHIRError.self) { try parse(text) }
        #expect(error.code == .malformedJSON)
        #expect(error.location?.line == 4)
        #expect(error.location?.pointer == "/name/0/given/1")
    }

    @Test(arguments: [
        [0x22, 0xC3, 0x28, 0x22],             // bad continuation
        [0x22, 0xC0, 0xAF, 0x22],             // overlong '/'
        [0x22, 0xED, 0xA0, 0x80, 0x22],       // UTF-8 encoded surrogate
        [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], // above U+10FFFF
        [0x22, 0xE2, 0x82],                   // cut off
        [0x22, 0xFF, 0x22],
    ] as [[UInt8]])
    func refusesInvalidUTF8(bytes: [UInt8]) throws {
        let error = try #require(throws: FHIRError.self) { try reader.readValue(bytes) }
        #expect(error.code == .invalidUTF8)
    }

    @Test func refusesDeepNestingQuickly() throws {
        let deep = [UInt8](repeating: UInt8(ascii: "["), count: 100_000) + [UInt8](repeating: UInt8(ascii: "]"), count: 100_000)
        let error = try #require(throws: FHIRError.self) { try reader.readValue(deep) }
        #expect(error.code == .tooDeep)
        let deepObjects = Array(String(repeating: #"{"a":"#, count: 100_000).utf8)
        let error2 = try #require(throws: FHIRError.self) { try reader.readValue(deepObjects) }
        #expect(error2.code == .tooDeep)
        #expect(error2.location?.pointer?.hasPrefix("/a/a/a") == true)
    }

    @Test func refusesOversizedInputAndStrings() throws {
        // {"resourceType":"Binary","data":"AAAA…(100 MB)…"}
        let head = Array(#"{"resourceType":"Binary","data":""#.utf8)
        var big = [UInt8](repeating: UInt8(ascii: "A"), count: head.count + (100 << 20) + 2)
        big.replaceSubrange(0..<head.count, with: head)
        big[big.count - 2] = UInt8(ascii: "\"")
        big[big.count - 1] = UInt8(ascii: "}")
        let error = try #require(throws: FHIRError.self) { try reader.readValue(big) }
        #expect(error.code == .tooLarge)
        // Within the document limit, a single string over the string limit is refused too.
        let strict = JSONReader(limits: FHIRLimits(maxDocumentBytes: 200 << 20, maxDepth: 128, maxStringBytes: 1 << 20))
        let error2 = try #require(throws: FHIRError.self) { try strict.readValue(big) }
        #expect(error2.code == .tooLarge)
        #expect(error2.location?.pointer == "/data")
    }

    @Test func everyExampleRoundTripsThroughTheWriter() throws {
        var count = 0
        for name in Corpus.files(in: Corpus.fhirExamples, ext: "json") {
            let bytes = try Corpus.bytes(Corpus.fhirExamples.appendingPathComponent(name))
            let tree = try reader.readValue(bytes)
            for style in [JSONWriter.Style.compact, .pretty] {
                let again = try reader.readValue(JSONWriter(style: style).write(tree))
                #expect(again == tree, "\(name) did not round-trip (\(style))")
            }
            count += 1
        }
        print("JSON writer round trip: \(count) FHIR examples")
        #expect(count == 250)
    }
}
