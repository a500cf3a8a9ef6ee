import ArgumentParser
import FHIRCore
import Foundation
import Mapping

/// `careledger bench ccda`: C-CDA documents fully converted per second on one core, beside the Python package
/// `ccda-to-fhir` converting the same documents in the same run.
struct CCDABenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ccda",
        abstract: "C-CDA → FHIR conversions per second on one core, beside the Python package ccda-to-fhir converting the same documents.",
        discussion: """
            Input: every *.xml file of each --corpus folder (default ../shared/corpus/ccda and Samples/ccda), one \
            document a file, keeping the documents our mappings convert; all bytes are read before timing. Our \
            figure, on one thread, per document: CCDAConverter.convert (parse, map and validate every resource) and \
            CanonicalForm.bytes of every resource; the median of --rounds passes over all documents. The breakdown \
            times each step alone over all documents (convert, and within it validation; canonical resources; the \
            Bundle's canonical JSON, which the headline does not include). The peer runs as a subprocess \
            (scripts/ccda_bench_peer.py: ccda_to_fhir.convert_document on the decoded text, timed inside Python) \
            on the same files; its rate counts only the documents it converts. The peer's rounds alternate with \
            ours on those same documents (the documents both sides convert): each pair gives a ratio, and the \
            median of the pairs is the figure, so a slow spell of the shared host falls on both sides of a pair. Goal (issue 6): ≥ 20 × the peer.
            """
    )

    @Option(help: "A folder of *.xml C-CDA documents (repeat for several; default ../shared/corpus/ccda and Samples/ccda).")
    var corpus: [String] = []

    @Option(help: "Timed passes over all documents; the median is reported.")
    var rounds = 7

    @Option(help: "Pairs of one Python peer round and one measurement of ours (the peer converts a few documents a second, so few by default).")
    var peerRounds = 3

    @Option(help: "The mappings folder (its ccda/ subfolder is used; default: as for `careledger hl7 convert`).")
    var mappings: String?

    @Flag(help: "Do not run the Python peer (for profiling our pipeline alone).")
    var skipPeers = false

    struct Document {
        let path: String
        let name: String
        let bytes: [UInt8]
    }

    func run() throws {
        let converter = try Self.converter(mappings)
        let folders = corpus.isEmpty ? ["../shared/corpus/ccda", "Samples/ccda"] : corpus
        let fm = FileManager.default

        // Load and select: every document our mappings convert.
        var documents: [Document] = []
        var conversions: [CCDAConversion] = []
        var files = 0
        var refused: [String: Int] = [:]
        var refusedNames: [String] = []
        for folder in folders {
            guard let names = try? fm.contentsOfDirectory(atPath: folder) else {
                if !corpus.isEmpty { throw ValidationError("cannot read the folder \(folder)") }
                continue
            }
            for name in names.sorted() where name.lowercased().hasSuffix(".xml") {
                let path = (folder as NSString).appendingPathComponent(name)
                guard let data = fm.contents(atPath: path) else { continue }
                files += 1
                let bytes = [UInt8](data)
                do {
                    conversions.append(try converter.convert(bytes))
                    documents.append(Document(path: path, name: name, bytes: bytes))
                } catch {
                    refused[error.code.rawValue, default: 0] += 1
                    refusedNames.append(name.count > 48 ? String(name.prefix(45)) + "…" : name)
                }
            }
        }
        guard !documents.isEmpty else {
            throw ValidationError("no document in \(folders.joined(separator: ", ")) is one the mappings convert; pass --corpus DIR")
        }
        let totalBytes = documents.reduce(0) { $0 + $1.bytes.count }
        let refusedText = refused.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
        print("ccda benchmark: \(documents.count) documents converted by the mappings (\(String(format: "%.1f", Double(totalBytes) / 1024)) KiB) of \(files) *.xml files in \(folders.joined(separator: ", "))")
        print("  left out: \(refused.values.reduce(0, +)) refused by convert\(refusedText.isEmpty ? "" : " (\(refusedText): \(refusedNames.prefix(3).joined(separator: ", "))\(refusedNames.count > 3 ? ", …" : ""))"); median of \(rounds) rounds, one thread")

        // Untimed: the resources the breakdown starts from.
        var sink = 0
        let resources = conversions.flatMap(\.resources)
        let resourceCount = resources.count

        // The headline: convert (parse, map, validate) + canonical bytes of every resource.
        func pipeline(_ docs: [Document]) {
            for doc in docs {
                do {
                    let conversion = try converter.convert(doc.bytes)
                    for resource in conversion.resources { sink &+= try CanonicalForm.bytes(of: resource).count }
                } catch {
                    fatalError("a document converted before timing failed while timed: \(doc.name): \(error)")
                }
            }
        }
        let full = median { pipeline(documents) }
        let withBundle = median {
            for doc in documents {
                do {
                    let conversion = try converter.convert(doc.bytes)
                    for resource in conversion.resources { sink &+= try CanonicalForm.bytes(of: resource).count }
                    sink &+= try CanonicalForm.bytes(of: conversion.bundle).count
                } catch {
                    fatalError("a document converted before timing failed while timed: \(doc.name): \(error)")
                }
            }
        }
        // The breakdown: each step alone, over all documents.
        let convertOnly = median { for doc in documents { if let c = try? converter.convert(doc.bytes) { sink &+= c.resources.count } } }
        let validator = Validator()
        let validateOnly = median { for r in resources { sink &+= validator.validate(r).count } }
        let canonicalOnly = median { for r in resources { if let b = try? CanonicalForm.bytes(of: r) { sink &+= b.count } } }
        let bundleOnly = median { for c in conversions { if let b = try? CanonicalForm.bytes(of: c.bundle) { sink &+= b.count } } }
        let canonicalBytes = resources.reduce(0) { $0 + ((try? CanonicalForm.bytes(of: $1))?.count ?? 0) }

        let n = Double(documents.count)
        let ours = n / full
        print("")
        print(String(format: "  convert (parse, map, validate) + canonicalize  %8.1f documents/s  %9.0f resources/s  %6.1f MB/s in  (%.1f resources, %.1f KB XML in, %.1f KB canonical JSON out per document)",
                     ours, Double(resourceCount) / full, Double(totalBytes) / full / 1e6, Double(resourceCount) / n, Double(totalBytes) / n / 1e3, Double(canonicalBytes) / n / 1e3))
        print(String(format: "  the same + the Bundle's canonical JSON         %8.1f documents/s", n / withBundle))
        print("  per document, each step timed alone (µs):")
        func step(_ name: String, _ seconds: Double) {
            print("    " + name.padding(toLength: 44, withPad: " ", startingAt: 0) + String(format: "%9.1f µs  %5.1f%%", seconds / n * 1e6, seconds / full * 100))
        }
        step("convert (parse + map + validate)", convertOnly)
        step("  of which validate (Validator alone)", validateOnly)
        step("  of which parse + map (convert − validate)", max(convertOnly - validateOnly, 0))
        step("canonicalize every resource", canonicalOnly)
        step("sum of the two steps", convertOnly + canonicalOnly)
        step("full pipeline (headline)", full)
        step("Bundle canonical JSON (not in headline)", bundleOnly)

        // The slowest documents (one timed pass, document by document, best of 3).
        var perDocument: [(seconds: Double, name: String, resources: Int, bytes: Int)] = []
        let clock = ContinuousClock()
        for (k, doc) in documents.enumerated() {
            var best = Double.infinity
            for _ in 0..<3 {
                let start = clock.now
                if let c = try? converter.convert(doc.bytes) {
                    for r in c.resources { if let b = try? CanonicalForm.bytes(of: r) { sink &+= b.count } }
                }
                best = min(best, Bench.seconds(clock.now - start))
            }
            perDocument.append((best, doc.name, conversions[k].resources.count, doc.bytes.count))
        }
        let perDocumentTotal = perDocument.reduce(0) { $0 + $1.seconds }
        print(String(format: "  per-document time: mean %.0f µs, median %.0f µs; mean µs per KB of XML %.1f; the slowest (each alone, best of 3):",
                     perDocumentTotal / n * 1e6, perDocument.map(\.seconds).sorted()[documents.count / 2] * 1e6, perDocumentTotal * 1e6 / (Double(totalBytes) / 1e3)))
        for d in perDocument.sorted(by: { $0.seconds > $1.seconds }).prefix(4) {
            print(String(format: "    %7.0f µs  %4d res  %6.1f KB  %4.1f%%  %@", d.seconds * 1e6, d.resources, Double(d.bytes) / 1e3, d.seconds / perDocumentTotal * 100, String(d.name.prefix(70))))
        }

        // The peer, on the same files.
        print("")
        var ratio: Double?
        var oursOnCommon: [Double] = []
        if skipPeers {
            print("  Python peer skipped (--skip-peers)")
        } else {
            // Rounds in pairs, one peer round then ours on the same documents: on a shared, noisy host a slow
            // spell then hits both sides of a pair, and the median of the pairs' ratios is the figure.
            var peers: [PeerResult] = []
            var problem: PythonPeer.Problem?
            for _ in 0..<max(peerRounds, 1) {
                switch Self.runPeer(rounds: 1, files: documents.map(\.path)) {
                case .success(let peer): peers.append(peer)
                case .failure(let p): problem = p
                }
                if problem != nil { break }
                let failed = Set(peers[peers.count - 1].failed.map(\.file))
                let common = documents.filter { !failed.contains($0.path) }
                oursOnCommon.append(common.isEmpty ? 0 : Double(common.count) / median { pipeline(common) })
            }
            if let problem {
                print("  Python ccda-to-fhir: not measured: \(problem)")
            } else {
                let peer = peers.sorted { $0.rate < $1.rate }[peers.count / 2]
                let failed = Set(peer.failed.map(\.file))
                let common = documents.filter { !failed.contains($0.path) }
                print(String(format: "  Python ccda-to-fhir %@ convert_document (reference) %8.2f documents/s  %7.1f resources/s  converted %d/%d   median of %d rounds",
                             peer.version, peer.rate, peer.seconds > 0 ? Double(peer.resources) / peer.seconds : 0, peer.converted, peer.documents, peers.count))
                if peer.documents != documents.count { print("    (the script saw \(peer.documents) documents, not \(documents.count))") }
                for f in peer.failed.prefix(6) {
                    print("    refused by the peer: \((f.file as NSString).lastPathComponent.prefix(60)): \(f.error.prefix(90))")
                }
                if peer.failed.count > 6 { print("    … and \(peer.failed.count - 6) more refused by the peer") }
                if !common.isEmpty, peer.rate > 0 {
                    let ratios = zip(oursOnCommon, peers).map { $1.rate > 0 ? $0 / $1.rate : 0 }
                    let oursMedian = Bench.middle(oursOnCommon)
                    print(String(format: "  ours on the %d documents both convert             %8.1f documents/s   (median of %d, each measured right after a peer round)", common.count, oursMedian, oursOnCommon.count))
                    print("  ratio in each pair (ours ÷ the peer round before it): " + zip(oursOnCommon, peers).map { String(format: "%.1f / %.2f = %.1f×", $0, $1.rate, $1.rate > 0 ? $0 / $1.rate : 0) }.joined(separator: "; "))
                    ratio = Bench.middle(ratios)
                }
            }
        }
        print("")
        if skipPeers {
            print("  goal ≥ 20 × ccda-to-fhir: not measured (--skip-peers)")
        } else if let ratio {
            print(String(format: "  ratio to ccda-to-fhir (documents both convert, median of the pairs): %.1f×   goal ≥ 20×: %@", ratio, ratio >= 20 ? "met" : "NOT met"))
        } else {
            print("  goal ≥ 20 × ccda-to-fhir: not measured (pip install ccda-to-fhir==0.3)")
        }
        if sink == 42 { print("") }
    }

    /// The converter of `<mappings root>/ccda` (or of --mappings itself when it is a ccda folder).
    static func converter(_ option: String?) throws -> CCDAConverter {
        let directory: String
        if let option, FileManager.default.fileExists(atPath: (option as NSString).appendingPathComponent("document.yaml")) {
            directory = option
        } else if let root = MappingsLocation.root(option) {
            directory = (root as NSString).appendingPathComponent("ccda")
        } else {
            FileHandle.standardError.write(Data("careledger: no Mappings folder found; pass --mappings DIR or set CARELEDGER_MAPPINGS\n".utf8))
            throw ExitCode(66)
        }
        do {
            return CCDAConverter(mappings: try CCDAMappingSet.load(directory: directory))
        } catch {
            FileHandle.standardError.write(Data("careledger: the C-CDA mappings in \(directory) cannot be used: \(error)\n".utf8))
            throw ExitCode(78)
        }
    }

    /// scripts/ccda_bench_peer.py's figures (its last line).
    struct PeerResult: Decodable {
        /// A document the peer could not convert.
        struct Failure: Decodable {
            let file: String
            let error: String
        }

        let version: String
        let documents: Int
        let converted: Int
        let seconds: Double
        let rate: Double
        let resources: Int
        let rounds: Int
        let failed: [Failure]

        enum CodingKeys: String, CodingKey {
            case version, documents, converted, seconds, resources, rounds, failed
            case rate = "docs_per_s"
        }
    }

    /// Runs scripts/ccda_bench_peer.py and reads its figures.
    static func runPeer(rounds: Int, files: [String]) -> Result<PeerResult, PythonPeer.Problem> {
        PythonPeer.run("ccda_bench_peer.py", arguments: ["--rounds", String(max(rounds, 1))] + files, as: PeerResult.self)
    }

    private func median(_ body: () -> Void) -> Double { Bench.median(rounds: rounds, body) }
}
