import Foundation
import Testing
@testable import FHIRCore

/// The record core's promise on real data: XML and JSON are the same resource, nothing is lost either way,
/// and both give the same canonical hash (docs/canonical-form.md).
@Suite("Conformance over ../shared/corpus")
struct ConformanceTests {
    /// The JSON and XML renderings of each official FHIR R4 example give identical canonical bytes, except the
    /// examples whose two renderings really differ (``XMLCorpusTests/expectedXMLToJSONFailures``, with the
    /// reason); that list is checked exactly. JSON → XML → JSON keeps the canonical hash of every example.
    @Test func everyExamplePairHasOneCanonicalHash() throws {
        var passed = 0
        var roundTrips = 0
        var failing: Set<String> = []
        let pairs = Corpus.examplePairs
        for name in pairs {
            let json = try JSONReader().read(Corpus.bytes(Corpus.fhirExamples.appendingPathComponent(name + ".json")))
            let xml = try XMLReader().read(Corpus.bytes(Corpus.fhirExamples.appendingPathComponent(name + ".xml")))
            let hj = try CanonicalForm.hash(of: json)
            if try CanonicalForm.hash(of: xml) == hj { passed += 1 } else { failing.insert(name) }
            let back = try XMLReader().read(XMLWriter().write(json))
            #expect(try CanonicalForm.hash(of: back) == hj, "\(name): JSON → XML → JSON changed the canonical hash")
            if try CanonicalForm.hash(of: back) == hj { roundTrips += 1 }
        }
        print("conformance: same canonical hash from XML and JSON for \(passed)/\(pairs.count) FHIR R4 example pairs; expected failures: \(failing.sorted()) (\(failing.map { XMLCorpusTests.expectedXMLToJSONFailures[$0] ?? "UNEXPECTED" }.joined(separator: "; ")))")
        print("conformance: JSON → XML → JSON keeps the canonical hash for \(roundTrips)/\(pairs.count) FHIR R4 examples")
        #expect(failing == Set(XMLCorpusTests.expectedXMLToJSONFailures.keys), "XML and JSON canonical hashes differ")
        #expect(pairs.count == 250)
    }

    /// Every Synthea transaction Bundle and every bulk-export NDJSON line survives JSON → XML → JSON unchanged,
    /// with the same canonical hash.
    @Test func everySyntheaResourceRoundTripsThroughXML() throws {
        var documents: [(String, [UInt8])] = []
        for name in Corpus.files(in: Corpus.syntheaBundles, ext: "json") {
            documents.append((name, try Corpus.bytes(Corpus.syntheaBundles.appendingPathComponent(name))))
        }
        var lines = 0
        for name in Corpus.files(in: Corpus.syntheaBulk, ext: "ndjson") where name != "log.ndjson" {
            let data = try Corpus.bytes(Corpus.syntheaBulk.appendingPathComponent(name))
            for (i, line) in data.split(separator: 0x0A).enumerated() where !line.isEmpty {
                documents.append(("\(name):\(i + 1)", Array(line)))
                lines += 1
            }
        }
        var passed = 0
        for (name, bytes) in documents {
            let original = try JSONReader().read(bytes)
            let xml = try XMLWriter().write(original)
            let back = try XMLReader().read(xml)
            let same = back == original
            let sameHash = try CanonicalForm.hash(of: back) == CanonicalForm.hash(of: original)
            #expect(same, "\(name): JSON → XML → JSON changed the resource")
            #expect(sameHash, "\(name): canonical hash changed through XML")
            if same && sameHash { passed += 1 }
        }
        let bundles = documents.count - lines
        print("conformance: \(passed)/\(documents.count) Synthea documents round-trip JSON → XML → JSON with the same canonical hash (\(bundles) bundles, \(lines) bulk NDJSON lines)")
        #expect(bundles == 12)
    }

    /// Hashing straight from the JSON tape gives exactly the bytes of the tree's canonical form, for every
    /// JSON document in the corpus: the official examples, the Synthea bundles and every bulk NDJSON line.
    @Test func tapeAndTreeGiveTheSameCanonicalBytes() throws {
        var documents: [(String, [UInt8])] = []
        for name in Corpus.examplePairs {
            documents.append((name, try Corpus.bytes(Corpus.fhirExamples.appendingPathComponent(name + ".json"))))
        }
        for name in Corpus.files(in: Corpus.syntheaBundles, ext: "json") {
            documents.append((name, try Corpus.bytes(Corpus.syntheaBundles.appendingPathComponent(name))))
        }
        for name in Corpus.files(in: Corpus.syntheaBulk, ext: "ndjson") where name != "log.ndjson" {
            let data = try Corpus.bytes(Corpus.syntheaBulk.appendingPathComponent(name))
            for (i, line) in data.split(separator: 0x0A).enumerated() where !line.isEmpty {
                documents.append(("\(name):\(i + 1)", Array(line)))
            }
        }
        var same = 0
        for (name, bytes) in documents {
            let tape = try JSONReader().readTape(bytes)
            let fromTape = try CanonicalForm.bytes(of: tape)
            let fromTree = try CanonicalForm.bytes(of: Resource(tape.value()))
            #expect(fromTape == fromTree, "\(name): the tape's canonical bytes differ from the tree's")
            if fromTape == fromTree { same += 1 }
        }
        print("conformance: the JSON tape and the tree give the same canonical bytes for \(same)/\(documents.count) corpus documents")
        #expect(documents.count > 2500)
    }

    /// What the store serves — a resource's canonical form with `meta.versionId` and `meta.lastUpdated` added — is
    /// the same whether written from a tree or spliced into the content's canonical bytes, for every corpus
    /// resource (with and without a `meta` of its own, with and without existing server fields).
    @Test func addingServerMetaToCanonicalBytesMatchesTheTree() throws {
        let documents = try Self.resourceDocuments()
        var same = 0
        var withMeta = 0
        for bytes in documents {
            var resource = try JSONReader().read(bytes)
            if case .object(var meta)? = resource.object["meta"] {
                meta["versionId"] = nil
                meta["lastUpdated"] = nil
                resource.object["meta"] = meta.isEmpty ? nil : .object(meta)
                withMeta += resource.object["meta"] == nil ? 0 : 1
            }
            let content = try CanonicalForm.bytes(of: resource)
            let spliced = try JSONReader().readTape(content).canonicalBytes(CanonicalEdits(addToMeta: [("versionId", "12"), ("lastUpdated", "2026-11-30T12:00:00.000Z")]))
            var served = resource
            var meta = served.object["meta"]?.objectValue ?? FHIRObject()
            meta["versionId"] = .string("12")
            meta["lastUpdated"] = .string("2026-11-30T12:00:00.000Z")
            served.object["meta"] = .object(meta)
            let expected = try CanonicalForm.bytes(of: served)
            #expect(spliced == expected)
            if spliced == expected { same += 1 }
        }
        print("conformance: served canonical bytes spliced from content bytes equal the tree's for \(same)/\(documents.count) resources (\(withMeta) with a meta of their own)")
        #expect(withMeta > 100 && documents.count > 2500)
    }

    /// The importer writes a record's stored forms straight from the tape it parsed, with its references rewritten
    /// and the server's meta fields dropped (then added back with the store's values, by splicing them into the
    /// content bytes). All must equal the tree edited the same way, for every corpus resource, parsed tapes and
    /// tapes of trees alike.
    @Test func canonicalEditsOnTheTapeMatchTheEditedTree() throws {
        let documents = try Self.resourceDocuments()
        var same = 0
        var rewritten = 0
        for bytes in documents {
            let resource = try JSONReader().read(bytes)
            // Every other reference string is rewritten (to a target with characters that need escaping).
            var all: [String] = []
            Self.references(.object(resource.object), into: &all)
            var map: [String: String] = [:]
            for (n, r) in Set(all).sorted().enumerated() where n % 2 == 0 { map[r] = "Rewritten/\(n)\"x\"" }
            if !map.isEmpty { rewritten += 1 }
            var tree = FHIRValue.object(resource.object)
            Self.rewrite(&tree, map)
            guard case .object(var edited) = tree else { continue }
            if case .object(var meta)? = edited["meta"] {
                for name in ["versionId", "lastUpdated", "_versionId", "_lastUpdated"] { meta[name] = nil }
                edited["meta"] = meta.isEmpty ? nil : .object(meta)
            }
            let content = try CanonicalForm.bytes(of: FHIRValue.object(edited))
            var meta = edited["meta"]?.objectValue ?? FHIRObject()
            meta["versionId"] = .string("3")
            meta["lastUpdated"] = .string("2026-11-30T12:00:00.000Z")
            edited["meta"] = .object(meta)
            let served = try CanonicalForm.bytes(of: FHIRValue.object(edited))
            var ok = true
            for tape in [try JSONReader().readTape(bytes), JSONTape(resource)] {
                let c = try tape.canonicalBytes(CanonicalEdits(references: map, dropServerMeta: true))
                let s = try tape.canonicalBytes(CanonicalEdits(references: map, dropServerMeta: true,
                                                               addToMeta: [("versionId", "3"), ("lastUpdated", "2026-11-30T12:00:00.000Z")]))
                let spliced = CanonicalForm.splicingMeta(into: c, [("versionId", "3"), ("lastUpdated", "2026-11-30T12:00:00.000Z")])
                #expect(c == content)
                #expect(s == served)
                #expect(spliced == served, "the served form spliced into the content bytes")
                ok = ok && c == content && s == served && spliced == served
            }
            if ok { same += 1 }
        }
        print("conformance: canonical edits on the tape equal the edited tree for \(same)/\(documents.count) resources (\(rewritten) with references rewritten)")
        #expect(documents.count > 2500 && rewritten > 1000)
    }

    /// The splice on its edges: meta created first, last or between members; added around, before and after a
    /// meta's own members; declined where it cannot be exact.
    @Test func splicingMetaOnItsEdges() {
        let add = [("versionId", "7"), ("lastUpdated", "2026-11-30T12:00:00.000Z")]
        func splice(_ s: String) -> String? { CanonicalForm.splicingMeta(into: Array(s.utf8), add).map { String(decoding: $0, as: UTF8.self) } }
        let m = #""lastUpdated":"2026-11-30T12:00:00.000Z","versionId":"7""#
        #expect(splice(#"{"a":1}"#) == #"{"a":1,"meta":{"# + m + "}}")
        #expect(splice(#"{"z":[1,{"b":"}"}]}"#) == #"{"meta":{"# + m + #"},"z":[1,{"b":"}"}]}"#)
        #expect(splice(#"{"id":"x","resourceType":"Patient"}"#) == #"{"id":"x","meta":{"# + m + #"},"resourceType":"Patient"}"#)
        #expect(splice(#"{"meta":{"extension":[{"url":"u"}]},"x":true}"#) == #"{"meta":{"extension":[{"url":"u"}],"# + m + #"},"x":true}"#)
        #expect(splice(#"{"meta":{"source":"s\"q"}}"#) == #"{"meta":{"lastUpdated":"2026-11-30T12:00:00.000Z","source":"s\"q","versionId":"7"}}"#)
        #expect(splice(#"{"meta":{"tag":[{"code":"a"}],"zz":1}}"#) == #"{"meta":{"lastUpdated":"2026-11-30T12:00:00.000Z","tag":[{"code":"a"}],"versionId":"7","zz":1}}"#)
        #expect(splice(#"{"meta":{"versionId":"1"}}"#) == nil, "an existing versionId is not overwritten")
        #expect(splice(#"{"meta":"x"}"#) == nil)
        #expect(splice(#"{"a\u0001":1}"#) == nil, "names with escapes are left to the full writer")
        #expect(splice("[1]") == nil)
    }

    /// Every official JSON example and every line of the Synthea bulk export: one resource each.
    static func resourceDocuments() throws -> [[UInt8]] {
        var documents: [[UInt8]] = []
        for name in Corpus.examplePairs {
            documents.append(try Corpus.bytes(Corpus.fhirExamples.appendingPathComponent(name + ".json")))
        }
        for name in Corpus.files(in: Corpus.syntheaBulk, ext: "ndjson") where name != "log.ndjson" {
            let data = try Corpus.bytes(Corpus.syntheaBulk.appendingPathComponent(name))
            documents += data.split(separator: 0x0A).filter { !$0.isEmpty }.map(Array.init)
        }
        return documents
    }

    static func references(_ value: FHIRValue, into out: inout [String]) {
        switch value {
        case .object(let o):
            for m in o.members {
                if m.name == "reference", case .string(let s) = m.value { out.append(s) } else { references(m.value, into: &out) }
            }
        case .array(let a):
            for v in a { references(v, into: &out) }
        default:
            break
        }
    }

    static func rewrite(_ value: inout FHIRValue, _ map: [String: String]) {
        switch value {
        case .object(var o):
            for i in o.members.indices {
                if o.members[i].name == "reference", case .string(let s) = o.members[i].value {
                    if let t = map[s] { o.members[i].value = .string(t) }
                } else {
                    rewrite(&o.members[i].value, map)
                }
            }
            value = .object(o)
        case .array(var a):
            for i in a.indices { rewrite(&a[i], map) }
            value = .array(a)
        default:
            break
        }
    }
}
