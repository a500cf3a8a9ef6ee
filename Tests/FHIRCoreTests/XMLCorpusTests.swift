import Foundation
import Testing
@testable import FHIRCore

/// The FHIR R4 spec's own examples: each NAME.xml must read to the same tree as NAME.json, and each NAME.json
/// must survive JSON → XML → tree unchanged. Narrative divs compare by their Canonical XML form (the two
/// renderings spell the same XHTML differently).
@Suite("XML codec on the FHIR R4 examples")
struct XMLCorpusTests {
    /// Examples whose XML does not read to exactly the official JSON, and why. The tests check this list
    /// exactly: an example that starts passing must be removed from it.
    static let expectedXMLToJSONFailures: [String: String] = [
        "observation-decimal": "the spec's XML and JSON renderings spell four decimals differently (XML 1.0e0, 0.0000000000000000000001, 1.000000000000000000e-245, -1.000000000000000000e245; JSON 1.0, 1E-22, 1.000000000000000000E-245, -1.000000000000000000E+245): the reader keeps each lexeme as written, as FHIR requires",
    ]
    /// Examples that do not survive JSON → XML → tree, and why (none).
    static let expectedRoundTripFailures: [String: String] = [:]

    static let names: [String] = Corpus.examplePairs

    private static func load(_ name: String) throws -> (xml: [UInt8], json: Resource) {
        let xml = try Corpus.bytes(Corpus.fhirExamples.appendingPathComponent(name + ".xml"))
        let json = try JSONReader().read(Corpus.bytes(Corpus.fhirExamples.appendingPathComponent(name + ".json")))
        return (xml, json)
    }

    /// nil when XML → tree equals the official JSON, otherwise the differences.
    static func xmlToJSONDifferences(_ name: String) throws -> [String]? {
        let (xml, json) = try load(name)
        let fromXML = XMLTestSupport.canonicalizingDivs(.object(try XMLTestSupport.reader.read(xml).object))
        let expected = XMLTestSupport.canonicalizingDivs(.object(json.object))
        return fromXML == expected ? nil : XMLTestSupport.differences(fromXML, expected)
    }

    /// nil when JSON → XML → tree equals the JSON tree, otherwise the differences.
    static func roundTripDifferences(_ name: String) throws -> [String]? {
        let (_, json) = try load(name)
        let back = try XMLTestSupport.reader.read(XMLTestSupport.writer.write(json))
        let a = XMLTestSupport.canonicalizingDivs(.object(back.object))
        let b = XMLTestSupport.canonicalizingDivs(.object(json.object))
        return a == b ? nil : XMLTestSupport.differences(a, b)
    }

    @Test func corpusIsThere() {
        #expect(XMLCorpusTests.names.count == 250)
    }

    @Test("XML reads to the official JSON", arguments: XMLCorpusTests.names)
    func xmlReadsToOfficialJSON(_ name: String) throws {
        let differences = try XMLCorpusTests.xmlToJSONDifferences(name)
        if let reason = XMLCorpusTests.expectedXMLToJSONFailures[name] {
            #expect(differences != nil, "\(name) is listed as an expected failure (\(reason)) but now passes: remove it from the list")
        } else {
            #expect(differences == nil, "\(name): \(differences?.prefix(5).joined(separator: "; ") ?? "")")
        }
    }

    @Test("JSON survives JSON → XML → tree", arguments: XMLCorpusTests.names)
    func jsonRoundTripsThroughXML(_ name: String) throws {
        let differences = try XMLCorpusTests.roundTripDifferences(name)
        if let reason = XMLCorpusTests.expectedRoundTripFailures[name] {
            #expect(differences != nil, "\(name) is listed as an expected failure (\(reason)) but now passes: remove it from the list")
        } else {
            #expect(differences == nil, "\(name): \(differences?.prefix(5).joined(separator: "; ") ?? "")")
        }
    }

    @Test("pretty and compact XML read back to the same tree", arguments: XMLCorpusTests.names)
    func compactAndPrettyAgree(_ name: String) throws {
        let (_, json) = try XMLCorpusTests.load(name)
        let pretty = try XMLTestSupport.reader.read(XMLWriter(pretty: true).write(json))
        let compact = try XMLTestSupport.reader.read(XMLWriter(pretty: false).write(json))
        #expect(pretty == compact)
    }

    @Test func passCounts() throws {
        var xmlPass = 0
        var roundTripPass = 0
        var exactDivs = 0
        for name in XMLCorpusTests.names {
            if try XMLCorpusTests.xmlToJSONDifferences(name) == nil { xmlPass += 1 }
            if try XMLCorpusTests.roundTripDifferences(name) == nil { roundTripPass += 1 }
            // Without div canonicalization: how often the reader's XHTML spelling equals the official JSON's.
            let (xml, json) = try XMLCorpusTests.load(name)
            if try XMLTestSupport.reader.read(xml) == json { exactDivs += 1 }
        }
        let n = XMLCorpusTests.names.count
        print("XML→JSON: \(xmlPass)/\(n) (\(XMLCorpusTests.expectedXMLToJSONFailures.count) documented expected failure)")
        print("JSON→XML→JSON: \(roundTripPass)/\(n)")
        print("XML→JSON byte-identical narratives too: \(exactDivs)/\(n)")
        #expect(xmlPass == n - XMLCorpusTests.expectedXMLToJSONFailures.count)
        #expect(roundTripPass == n - XMLCorpusTests.expectedRoundTripFailures.count)
    }

    @Test func concurrentReadersAndWritersAgree() async throws {
        let names = Array(XMLCorpusTests.names.prefix(40))
        var documents: [[UInt8]] = []
        for name in names { documents.append(try XMLCorpusTests.load(name).xml) }
        let expected = try documents.map { try XMLTestSupport.reader.read($0) }
        let inputs = documents
        let results = await withTaskGroup(of: [Resource?].self) { group in
            for _ in 0..<6 {
                group.addTask {
                    // Fresh readers and writers share the process-wide schema; each parse has its own libxml2 context.
                    inputs.map { d in
                        guard let r = try? XMLReader().read(d), let xml = try? XMLWriter().write(r) else { return nil }
                        _ = try? XHTML.canonicalize("<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>x</p></div>")
                        return try? XMLReader().read(xml)
                    }
                }
            }
            var all: [[Resource?]] = []
            for await r in group { all.append(r) }
            return all
        }
        for run in results {
            #expect(run.count == expected.count)
            for (got, want) in zip(run, expected) {
                #expect(got.map { XMLTestSupport.canonicalizingDivs(.object($0.object)) } == XMLTestSupport.canonicalizingDivs(.object(want.object)))
            }
        }
    }

    @Test func locationsPointAtTheElementsInAnExample() throws {
        let url = Corpus.fhirExamples.appendingPathComponent("patient-example.xml")
        let bytes = try Corpus.bytes(url)
        let (resource, locations) = try XMLTestSupport.reader.readWithLocations(bytes)
        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        // Every located element's line holds its start tag, and every value in the tree has a location.
        for (pointer, location) in locations where !pointer.isEmpty {
            guard let line = location.line, let column = location.column, line <= lines.count else {
                Issue.record("\(pointer) has no line")
                continue
            }
            let text = Array(lines[line - 1].utf8)
            #expect(column >= 1 && column <= text.count && text[column - 1] == UInt8(ascii: "<"), "\(pointer) → \(location)")
        }
        #expect(locations.count > 40)
        guard case .array(let names)? = resource.object["name"], case .object(let first)? = names.first, case .array(let given)? = first["given"] else {
            Issue.record("no name[0].given")
            return
        }
        #expect(given.first == .string("Peter"))
        let at = try #require(locations["/name/0/given/0"])
        #expect(String(lines[(at.line ?? 1) - 1]).contains("<given value=\"Peter\"/>"))
    }
}
