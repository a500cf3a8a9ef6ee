import ArgumentParser
import FHIRCore
import Foundation
import HL7v2
import Mapping

/// `careledger bench hl7`: HL7 v2 messages fully converted per second on one core, beside the Python parsers
/// `hl7` and `hl7apy` parsing the same messages in the same run.
struct HL7BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hl7",
        abstract: "HL7 v2 → FHIR conversions per second on one core, beside the Python parsers hl7 and hl7apy parsing the same messages.",
        discussion: """
            Input: every *.hl7 file of each --corpus folder (default ../shared/corpus/hl7v2 and Samples/hl7v2; \
            files of several messages are split), keeping the messages the mappings convert; all bytes are read \
            before timing. Our figure, on one thread, per message: HL7Message.parse, HL7Converter.convert (map and \
            validate every resource) and CanonicalForm.bytes of every resource; the median of --rounds passes over \
            all messages. The breakdown times each step alone over all messages (parse; convert, and within it \
            validation; canonical resources; the Bundle's canonical JSON, which the headline does not include). \
            The peers run as subprocesses (scripts/hl7_bench_peer.py, parsing only, timed inside Python) on the \
            same messages; then rounds of the faster one alternate with ours, and the ratio is the median of the \
            pairs' ratios (a slow spell of the shared host falls on both sides of a pair). Goals (issue 6): ≥ 20,000 messages/s and ≥ 50 × the faster peer.
            """
    )

    @Option(help: "A folder of *.hl7 files (repeat for several; default ../shared/corpus/hl7v2 and Samples/hl7v2).")
    var corpus: [String] = []

    @Option(help: "Timed passes over all messages; the median is reported.")
    var rounds = 7

    @Option(help: "Timed passes of each Python peer (hl7apy parses about 12 messages/s here, so fewer by default).")
    var peerRounds = 3

    @Option(help: "The mappings folder (default: as for `careledger hl7 convert`).")
    var mappings: String?

    @Flag(help: "Do not run the Python peers (for profiling our pipeline alone).")
    var skipPeers = false

    func run() throws {
        let converter = try MappingsLocation.converter(mappings)
        let folders = corpus.isEmpty ? ["../shared/corpus/hl7v2", "Samples/hl7v2"] : corpus
        let fm = FileManager.default

        // Load and select: every message of every file, kept when the mappings convert it.
        var messages: [[UInt8]] = []
        var files = 0
        var unreadable = 0
        var refused: [String: Int] = [:]
        for folder in folders {
            guard let names = try? fm.contentsOfDirectory(atPath: folder) else {
                if !corpus.isEmpty { throw ValidationError("cannot read the folder \(folder)") }
                continue
            }
            for name in names.sorted() where name.hasSuffix(".hl7") {
                let path = (folder as NSString).appendingPathComponent(name)
                guard let data = fm.contents(atPath: path) else { continue }
                files += 1
                guard let file = try? HL7File.parse([UInt8](data)) else { unreadable += 1; continue }
                for entry in file.entries {
                    guard case .success(let message) = entry.result else { unreadable += 1; continue }
                    do {
                        _ = try converter.convert(message)
                        _ = try HL7Message.parse(entry.bytes)
                        messages.append(entry.bytes)
                    } catch let error as HL7ConversionError {
                        refused["\(error.error.code)", default: 0] += 1
                    } catch {
                        unreadable += 1
                    }
                }
            }
        }
        guard !messages.isEmpty else {
            throw ValidationError("no message in \(folders.joined(separator: ", ")) is one the mappings convert; pass --corpus DIR")
        }
        let totalBytes = messages.reduce(0) { $0 + $1.count }
        let refusedText = refused.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
        print("hl7 benchmark: \(messages.count) messages converted by the mappings (\(String(format: "%.1f", Double(totalBytes) / 1024)) KiB) from \(files) files in \(folders.joined(separator: ", "))")
        print("  left out: \(refused.values.reduce(0, +)) refused by convert\(refusedText.isEmpty ? "" : " (\(refusedText))"), \(unreadable) unreadable; median of \(rounds) rounds, one thread")

        // Untimed: the intermediate products the breakdown starts from, and the resource count.
        var sink = 0
        let parsed = messages.map { try! HL7Message.parse($0) }
        let conversions = parsed.map { try! converter.convert($0) }
        let resources = conversions.flatMap(\.resources)
        let resourceCount = resources.count

        // The headline: parse + convert (map + validate) + canonical bytes of every resource.
        func pipeline() {
            for bytes in messages {
                do {
                    let message = try HL7Message.parse(bytes)
                    let conversion = try converter.convert(message)
                    for resource in conversion.resources { sink &+= try CanonicalForm.bytes(of: resource).count }
                } catch {
                    fatalError("a message converted before timing failed while timed: \(error)")
                }
            }
        }
        let full = median { pipeline() }
        let withBundle = median {
            for bytes in messages {
                do {
                    let message = try HL7Message.parse(bytes)
                    let conversion = try converter.convert(message)
                    for resource in conversion.resources { sink &+= try CanonicalForm.bytes(of: resource).count }
                    sink &+= try CanonicalForm.bytes(of: conversion.bundle).count
                } catch {
                    fatalError("a message converted before timing failed while timed: \(error)")
                }
            }
        }
        // The breakdown: each step alone, over all messages.
        let parseOnly = median { for bytes in messages { if let m = try? HL7Message.parse(bytes) { sink &+= m.segmentCount } } }
        let convertOnly = median { for m in parsed { if let c = try? converter.convert(m) { sink &+= c.resources.count } } }
        let validator = Validator()
        let validateOnly = median { for r in resources { sink &+= validator.validate(r).count } }
        let canonicalOnly = median { for r in resources { if let b = try? CanonicalForm.bytes(of: r) { sink &+= b.count } } }
        let bundleOnly = median { for c in conversions { if let b = try? CanonicalForm.bytes(of: c.bundle) { sink &+= b.count } } }
        let canonicalBytes = resources.reduce(0) { $0 + ((try? CanonicalForm.bytes(of: $1))?.count ?? 0) }

        let n = Double(messages.count)
        let ours = n / full
        print("")
        print(String(format: "  parse + convert (map, validate) + canonicalize  %9.0f messages/s  %9.0f resources/s  %6.1f MB/s in  (%.1f resources and %.1f KB canonical JSON per message)",
                     ours, Double(resourceCount) / full, Double(totalBytes) / full / 1e6, Double(resourceCount) / n, Double(canonicalBytes) / n / 1e3))
        print(String(format: "  the same + the Bundle's canonical JSON          %9.0f messages/s", n / withBundle))
        print("  per message, each step timed alone (µs):")
        func step(_ name: String, _ seconds: Double) {
            print("    " + name.padding(toLength: 44, withPad: " ", startingAt: 0) + String(format: "%8.1f µs  %5.1f%%", seconds / n * 1e6, seconds / full * 100))
        }
        step("parse (HL7Message.parse)", parseOnly)
        step("convert (map + validate)", convertOnly)
        step("  of which validate (Validator alone)", validateOnly)
        step("  of which map (convert − validate)", max(convertOnly - validateOnly, 0))
        step("canonicalize every resource", canonicalOnly)
        step("sum of the three steps", parseOnly + convertOnly + canonicalOnly)
        step("full pipeline (headline)", full)
        step("Bundle canonical JSON (not in headline)", bundleOnly)

        // Where the time goes by message type, and the slowest messages (one timed pass, message by message).
        var byType: [String: (count: Int, segments: Int, resources: Int, seconds: Double)] = [:]
        var slowest: [(seconds: Double, type: String, segments: Int, resources: Int, bytes: Int)] = []
        let clock = ContinuousClock()
        for (k, bytes) in messages.enumerated() {
            var best = Double.infinity
            for _ in 0..<3 {
                let start = clock.now
                if let m = try? HL7Message.parse(bytes), let c = try? converter.convert(m) {
                    for r in c.resources { if let b = try? CanonicalForm.bytes(of: r) { sink &+= b.count } }
                }
                let e = clock.now - start
                best = min(best, Bench.seconds(e))
            }
            let type = "\(parsed[k].messageType ?? "?")^\(parsed[k].triggerEvent ?? "?")"
            let segments = parsed[k].segmentCount
            let made = conversions[k].resources.count
            byType[type, default: (0, 0, 0, 0)].count += 1
            byType[type, default: (0, 0, 0, 0)].segments += segments
            byType[type, default: (0, 0, 0, 0)].resources += made
            byType[type, default: (0, 0, 0, 0)].seconds += best
            slowest.append((best, type, segments, made, bytes.count))
        }
        let perMessageTotal = byType.values.reduce(0) { $0 + $1.seconds }
        print("  by message type (each message timed alone, best of 3): messages, mean segments, mean resources, mean µs, share of time")
        for (type, t) in byType.sorted(by: { $0.value.seconds > $1.value.seconds }) {
            let c = Double(t.count)
            print("    " + type.padding(toLength: 12, withPad: " ", startingAt: 0)
                  + String(format: "%4d  %6.1f seg  %6.1f res  %9.1f µs  %5.1f%%", t.count, Double(t.segments) / c, Double(t.resources) / c, t.seconds / c * 1e6, t.seconds / perMessageTotal * 100))
        }
        print("  slowest messages: " + slowest.sorted { $0.seconds > $1.seconds }.prefix(4).map {
            String(format: "%@ %d seg %d res %.1f KB %.0f µs", $0.type, $0.segments, $0.resources, Double($0.bytes) / 1e3, $0.seconds * 1e6)
        }.joined(separator: "; "))

        // The peers, on the same messages (written one per file, as the script reads them).
        print("")
        var best: (name: String, rate: Double)?
        var pairRatio: Double?
        if skipPeers {
            print("  Python peers skipped (--skip-peers)")
        } else {
            let dir = fm.temporaryDirectory.appendingPathComponent("careledger-hl7-bench-\(ProcessInfo.processInfo.processIdentifier)")
            try fm.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? fm.removeItem(at: dir) }
            var paths: [String] = []
            for (k, bytes) in messages.enumerated() {
                let url = dir.appendingPathComponent(String(format: "%05d.hl7", k))
                try Data(bytes).write(to: url)
                paths.append(url.path)
            }
            for library in ["hl7", "hl7apy"] {
                switch Self.runPeer(library: library, rounds: peerRounds, files: paths) {
                case .success(let peer):
                    print(String(format: "  Python %@ %@ parse only (reference)%@%9.1f messages/s   parsed %d/%d   median of %d rounds",
                                 library, peer.version, String(repeating: " ", count: max(1, 22 - library.count - peer.version.count)),
                                 peer.rate, peer.parsed, peer.messages, peerRounds))
                    if peer.messages != messages.count { print("    (the script saw \(peer.messages) messages, not \(messages.count))") }
                    if best == nil || peer.rate > best!.rate { best = (library, peer.rate) }
                case .failure(let problem):
                    print("  Python \(library): not measured: \(problem)")
                }
            }
            // The ratio: rounds of the faster peer alternating with ours, the median of the pairs' ratios, so
            // that a slow spell of the shared host falls on both sides of a pair.
            if let faster = best {
                var pairs: [(ours: Double, peer: Double)] = []
                for _ in 0..<max(peerRounds, 1) {
                    guard case .success(let peer) = Self.runPeer(library: faster.name, rounds: 1, files: paths) else { break }
                    pairs.append((n / median { pipeline() }, peer.rate))
                }
                if !pairs.isEmpty {
                    print("  pairs (ours after one \(faster.name) round, messages/s): " + pairs.map {
                        String(format: "%.0f / %.1f = %.1f×", $0.ours, $0.peer, $0.peer > 0 ? $0.ours / $0.peer : 0)
                    }.joined(separator: "; "))
                    pairRatio = Bench.middle(pairs.map { $0.peer > 0 ? $0.ours / $0.peer : 0 })
                }
            }
        }
        // What the goals leave for one message, beside the steps measured alone above: the two FHIRCore steps
        // every conversion must include (validation, canonical JSON) are shared with the FHIR import path.
        print("")
        print("  time per message the goals allow, beside the steps measured alone in this run:")
        let perResource = Double(resourceCount) / n
        func budget(_ name: String, _ rate: Double) {
            print("    " + name.padding(toLength: 44, withPad: " ", startingAt: 0)
                  + String(format: "%8.1f µs per message, %.2f µs per resource", 1e6 / rate, 1e6 / rate / perResource))
        }
        budget("at 20,000 messages/s", 20_000)
        if let best { budget(String(format: "at 50 × %@ (%.0f messages/s)", best.name, 50 * best.rate), 50 * best.rate) }
        print(String(format: "    measured: parse %.1f µs, validation alone %.1f µs (%.2f µs per resource), canonical JSON alone %.1f µs (%.2f µs per resource), mapping %.1f µs (%.2f µs per resource)",
                     parseOnly / n * 1e6, validateOnly / n * 1e6, validateOnly / Double(resourceCount) * 1e6,
                     canonicalOnly / n * 1e6, canonicalOnly / Double(resourceCount) * 1e6,
                     max(convertOnly - validateOnly, 0) / n * 1e6, max(convertOnly - validateOnly, 0) / Double(resourceCount) * 1e6))
        print("")
        print(String(format: "  goal ≥ 20,000 messages/s: %@ (%.0f)", ours >= 20_000 ? "met" : "NOT met", ours))
        if let best {
            let ratio = pairRatio ?? ours / best.rate
            print(String(format: "  ratio to the faster peer (%@, median of the pairs): %.1f×   goal ≥ 50×: %@", best.name, ratio, ratio >= 50 ? "met" : "NOT met"))
        } else {
            print("  goal ≥ 50 × the faster Python parser: not measured (pip install hl7==0.4.5 hl7apy==1.3.5)")
        }
        if sink == 42 { print("") }
    }

    /// scripts/hl7_bench_peer.py's figures (its last line).
    struct PeerResult: Decodable {
        let version: String
        let messages: Int
        let parsed: Int
        let rate: Double

        enum CodingKeys: String, CodingKey {
            case version, messages, parsed
            case rate = "msgs_per_s"
        }
    }

    /// Runs scripts/hl7_bench_peer.py for one library and reads its figures.
    static func runPeer(library: String, rounds: Int, files: [String]) -> Result<PeerResult, PythonPeer.Problem> {
        PythonPeer.run("hl7_bench_peer.py", arguments: ["--library", library, "--rounds", String(max(rounds, 1))] + files, as: PeerResult.self)
    }

    private func median(_ body: () -> Void) -> Double { Bench.median(rounds: rounds, body) }
}
