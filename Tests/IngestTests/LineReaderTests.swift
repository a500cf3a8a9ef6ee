import Foundation
import TestSupport
import Testing
@testable import Ingest

/// Bulk files are read a chunk at a time: lines split right whatever the chunking, gzip members follow one
/// another, and bad input is refused with a message rather than read whole.
@Suite("Streaming NDJSON and gzip")
struct LineReaderTests {
    static func lines(_ reader: LineReader) throws -> [String] {
        var out: [String] = []
        while let next = try reader.next() {
            switch next {
            case .line(let b): out.append(String(decoding: b, as: UTF8.self))
            case .tooLong(let prefix, let length): out.append("TOO LONG \(length) \(String(decoding: prefix.prefix(3), as: UTF8.self))")
            }
        }
        return out
    }

    static func temp(_ bytes: [UInt8], name: String) throws -> String {
        let path = try Repository.temporaryDirectory("careledger-lines").appendingPathComponent(name).path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    static func gzip(_ path: String) throws -> String { try Repository.gzip(path) }

    @Test func splitsLinesWithCRLFAndNoFinalNewline() throws {
        let reader = LineReader(bytes: Array("a\r\nbb\n\nccc".utf8), maxLine: 100)
        #expect(try Self.lines(reader) == ["a", "bb", "", "ccc"])
    }

    @Test func aLineOverTheLimitIsReportedNotBuffered() throws {
        let long = String(repeating: "x", count: 50)
        let reader = LineReader(bytes: Array("ok\n\(long)\nafter\n".utf8), maxLine: 10)
        #expect(try Self.lines(reader) == ["ok", "TOO LONG 50 xxx", "after"])
    }

    @Test func largeFilesStreamAcrossChunksAndGzipMembersConcatenate() throws {
        // 12 MB: three 4 MB chunks, lines straddling every boundary.
        var text: [UInt8] = []
        var expected: [String] = []
        var i = 0
        while text.count < 12 << 20 {
            let line = "{\"n\":\(i),\"pad\":\"\(String(repeating: "p", count: i % 997))\"}"
            expected.append(line)
            text += Array(line.utf8)
            text.append(0x0A)
            i += 1
        }
        let path = try Self.temp(text, name: "big.ndjson")
        #expect(try Self.lines(LineReader(path: path, gzip: false, maxLine: 1 << 20)) == expected)
        let gz = try Self.gzip(path)
        #expect(try Self.lines(LineReader(path: gz, gzip: true, maxLine: 1 << 20)) == expected)
        // Two gzip members back to back read as one stream.
        let twice = try Data(contentsOf: URL(fileURLWithPath: gz)) + Data(contentsOf: URL(fileURLWithPath: gz))
        let twoMembers = try Self.temp([UInt8](twice), name: "two.ndjson.gz")
        #expect(try Self.lines(LineReader(path: twoMembers, gzip: true, maxLine: 1 << 20)).count == expected.count * 2)
    }

    @Test func truncatedOrCorruptGzipIsAnError() throws {
        let path = try Self.temp(Array(String(repeating: "{\"a\":1}\n", count: 5000).utf8), name: "t.ndjson")
        let gz = try [UInt8](Data(contentsOf: URL(fileURLWithPath: try Self.gzip(path))))
        let truncated = try Self.temp(Array(gz.prefix(gz.count / 2)), name: "truncated.ndjson.gz")
        let e1 = try #require(throws: ImportError.self) { try Self.lines(LineReader(path: truncated, gzip: true, maxLine: 1 << 20)) }
        #expect(e1.message.contains("truncated"))
        var corrupt = gz
        for k in 20..<60 { corrupt[k] ^= 0x5A }
        let bad = try Self.temp(corrupt, name: "corrupt.ndjson.gz")
        let e2 = try #require(throws: ImportError.self) { try Self.lines(LineReader(path: bad, gzip: true, maxLine: 1 << 20)) }
        #expect(e2.message.contains("corrupt") || e2.message.contains("truncated"))
    }
}
