import ArgumentParser
import CLibXML2
import FHIRCore
import Foundation

/// `careledger bench record-core`: parse + canonicalize + hash, JSON and XML, against raw references.
struct RecordCoreBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "record-core",
        abstract: "Parse + canonicalize + hash FHIR JSON and XML, beside SHA-256 alone, JSONSerialization alone and raw libxml2 SAX.",
        discussion: """
            Input: the Synthea transaction Bundles (JSON); their XML form is produced once with XMLWriter before \
            timing. Every figure is the median of --rounds timed passes over all files, so a noisy neighbour \
            shows up as spread rather than as a wrong ratio. Goals (issue 2): JSON ≥ 200 MB/s and ≥ 10 × \
            JSONSerialization; XML ≥ 0.5 × raw libxml2 SAX.
            """
    )

    @Option(help: "Folder of FHIR JSON Bundles.")
    var corpus: String = "../shared/corpus/synthea/bundles"

    @Option(help: "Timed passes per measurement; the median is reported.")
    var rounds: Int = 7

    @Option(help: "Measure only one format: json or xml (for profiling).")
    var only: String?

    @Flag(help: "Skip the reference measurements and the ratios (for profiling the pipeline alone).")
    var skipReferences = false

    func run() throws {
        let dir = URL(fileURLWithPath: corpus)
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).filter { $0.hasSuffix(".json") }.sorted()
        guard !names.isEmpty else {
            throw ValidationError("no .json files in \(corpus); pass --corpus DIR")
        }
        let jsonFiles = try names.map { [UInt8](try Data(contentsOf: dir.appendingPathComponent($0))) }
        var xmlFiles: [[UInt8]] = []
        var prettyXMLFiles: [[UInt8]] = []
        var resourceCount = 0
        for bytes in jsonFiles {
            let resource = try JSONReader().read(bytes)
            resourceCount += RecordCoreBenchCommand.countResources(.object(resource.object))
            xmlFiles.append(try XMLWriter(pretty: false).write(resource))
            prettyXMLFiles.append(try XMLWriter(pretty: true).write(resource))
        }
        let jsonBytes = jsonFiles.reduce(0) { $0 + $1.count }
        let xmlBytes = xmlFiles.reduce(0) { $0 + $1.count }
        print("record-core benchmark: \(names.count) Synthea bundles, \(resourceCount) resources, JSON \(mb(jsonBytes)) MB, XML \(mb(xmlBytes)) MB compact and \(mb(prettyXMLFiles.reduce(0) { $0 + $1.count })) MB pretty, median of \(rounds) rounds")
        print("")

        var sink = 0
        if let only, only != "json" && only != "xml" {
            throw ValidationError("--only takes json or xml")
        }
        let doJSON = only != "xml"
        let doXML = only != "json"
        let sha = !doJSON || skipReferences ? 1 : median { for f in jsonFiles { sink &+= Int(CanonicalForm.sha256(f)[0]) } }
        let foundation = !doJSON || skipReferences ? 1 : median {
            for f in jsonFiles {
                if let o = try? JSONSerialization.jsonObject(with: Data(f)) as? NSDictionary { sink &+= o.count }
            }
        }
        let json = !doJSON ? 1 : median {
            for f in jsonFiles {
                if let c = try? FHIRDocument.canonicalBytes(f) { sink &+= Int(CanonicalForm.sha256(c)[0]) }
            }
        }
        // Structural validation of the same resources (what every import does), parsed before timing.
        let trees = doJSON ? jsonFiles.compactMap { try? JSONReader().read($0) } : []
        let validateOnly = !doJSON ? 1 : median { for t in trees { sink &+= Validator().validate(t).count } }
        let jsonParseOnly = !doJSON || skipReferences ? 1 : median { for f in jsonFiles { if let r = try? JSONReader().readValue(f) { sink &+= r.kindName.count } } }
        func xmlRates(_ files: [[UInt8]]) -> (sax: Double, parse: Double, pipeline: Double) {
            let sax = skipReferences ? 1 : median { for f in files { sink &+= RecordCoreBenchCommand.rawSAX(f) } }
            let pipeline = median {
                for f in files {
                    if let c = try? FHIRDocument.canonicalBytes(f) { sink &+= Int(CanonicalForm.sha256(c)[0]) }
                }
            }
            let parse = skipReferences ? 1 : median { for f in files { if let r = try? XMLReader().read(f) { sink &+= r.object.count } } }
            return (sax, parse, pipeline)
        }
        // The part of the XML pipeline that does not depend on the reader: canonicalizing and hashing the same
        // resources from the fastest representation there is (their JSON tapes, parsed before timing). SAX alone
        // plus this is the least any XML reader built on libxml2 can take.
        let tapes = doXML ? jsonFiles.compactMap { try? JSONReader().readTape($0) } : []
        let canonicalOnly = !doXML || skipReferences ? 1 : median {
            for t in tapes { if let c = try? CanonicalForm.bytes(of: t) { sink &+= Int(CanonicalForm.sha256(c)[0]) } }
        }
        let compact = doXML ? xmlRates(xmlFiles) : (sax: 1, parse: 1, pipeline: 1)
        let pretty = doXML ? xmlRates(prettyXMLFiles) : (sax: 1, parse: 1, pipeline: 1)
        func row(_ name: String, _ seconds: Double, _ bytes: Int, resources: Bool = false) {
            let rate = Double(bytes) / seconds / 1e6
            var line = "  " + name.padding(toLength: 46, withPad: " ", startingAt: 0) + String(format: "%8.1f MB/s", rate)
            if resources { line += String(format: "  %10.0f resources/s", Double(resourceCount) / seconds) }
            print(line)
        }
        if doJSON {
            print("JSON (\(mb(jsonBytes)) MB)")
            row("SHA-256 alone (reference)", sha, jsonBytes)
            row("JSONSerialization parse alone (reference)", foundation, jsonBytes)
            row("JSONReader parse only", jsonParseOnly, jsonBytes, resources: true)
            row("parse + canonicalize + hash", json, jsonBytes, resources: true)
            row("validate (of parsed trees)", validateOnly, jsonBytes, resources: true)
            let jsonRate = Double(jsonBytes) / json / 1e6
            print(String(format: "  ratio to JSONSerialization: %.1f×   goal ≥ 10× and ≥ 200 MB/s: %@", foundation / json,
                         (foundation / json >= 10 && jsonRate >= 200) ? "met" : "NOT met"))
        }
        for (label, files, rates) in [("XML, compact", xmlFiles, compact), ("XML, pretty-printed like the Synthea JSON", prettyXMLFiles, pretty)] where doXML {
            let bytes = files.reduce(0) { $0 + $1.count }
            print("")
            print("\(label) (\(mb(bytes)) MB)")
            row("libxml2 SAX2 parse alone (reference)", rates.sax, bytes)
            row("XMLReader parse only", rates.parse, bytes, resources: true)
            row("parse + canonicalize + hash", rates.pipeline, bytes, resources: true)
            print(String(format: "  ratio to raw libxml2 SAX: %.2f×   goal ≥ 0.5×: %@", rates.sax / rates.pipeline, rates.sax / rates.pipeline >= 0.5 ? "met" : "NOT met"))
            if !skipReferences {
                print(String(format: "  bound: SAX alone + canonicalize + hash from prebuilt tapes (a reader that costs nothing) = %.2f×", rates.sax / (rates.sax + canonicalOnly)))
            }
        }
        if sink == 42 { print("") }
    }

    private func mb(_ bytes: Int) -> String { String(format: "%.2f", Double(bytes) / 1e6) }

    private func median(_ body: () -> Void) -> Double { Bench.median(rounds: rounds, body) }

    /// Resources in a tree: the root plus every object with a resourceType below it.
    static func countResources(_ value: FHIRValue) -> Int {
        switch value {
        case .object(let o): return (o["resourceType"] != nil ? 1 : 0) + o.members.reduce(0) { $0 + countResources($1.value) }
        case .array(let a): return a.reduce(0) { $0 + countResources($1) }
        default: return 0
        }
    }

    /// libxml2's SAX2 parser with no callbacks doing work: the speed limit for any XML reader built on it.
    static func rawSAX(_ bytes: [UInt8]) -> Int {
        var handler = xmlSAXHandler()
        handler.initialized = XML_SAX2_MAGIC
        handler.startElementNs = { _, _, _, _, _, _, _, _, _ in }
        handler.endElementNs = { _, _, _, _ in }
        handler.characters = { _, _, _ in }
        let rc = bytes.withUnsafeBufferPointer { buf in
            buf.withMemoryRebound(to: CChar.self) { chars in
                xmlSAXUserParseMemory(&handler, nil, chars.baseAddress, Int32(chars.count))
            }
        }
        return Int(rc)
    }
}
