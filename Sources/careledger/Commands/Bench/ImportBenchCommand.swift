import ArgumentParser
import FHIRCore
import Foundation
import Ingest
import RecordStore

/// `careledger bench import`: Synthea-derived resources into a fresh PostgreSQL database, beside `psql \copy`.
struct ImportBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import Synthea-derived resources into a fresh PostgreSQL database, beside psql \\copy of the same rows.",
        discussion: """
            Derives --resources resources from the Synthea bulk export (copies with fresh ids and identifiers, their \
            references kept consistent), writes them as NDJSON, creates a fresh database on --server, imports them with \
            `careledger import`'s importer, and times `psql \\copy` of the same resources' canonical JSON into a \
            (id bigint primary key, doc jsonb) table in the same database, once before and once after the import. Prints resources/s, the ratio to COPY, and \
            the rate of the second half against the first. Goals (issue 3): ≥ 10,000 resources/s, ≥ 0.5 × COPY, second \
            half ≥ 0.9 × first. scripts/bench-import.sh starts a throwaway server and runs this.
            """
    )

    @Option(help: "A PostgreSQL server (its maintenance database), e.g. postgres://postgres@127.0.0.1:5432/postgres.")
    var server: String

    @Option(help: "How many resources to derive and import.")
    var resources: Int = 200_000

    @Option(help: "The Synthea bulk NDJSON export to derive them from.")
    var corpus: String = "../shared/corpus/synthea/bulk-ndjson"

    @Option(help: "psql (default: from PATH, else /usr/lib/postgresql/15/bin/psql).")
    var psql: String?

    @Flag(help: "Keep the benchmark database afterwards.")
    var keep = false

    @Option(help: "Passes of the import without a database, then stop (for profiling the importer's own work).")
    var prepareOnly: Int?

    func run() async throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("careledger-bench-\(ProcessInfo.processInfo.processIdentifier)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        let (files, copyFile, count, bytes) = try ImportBenchData.derive(from: corpus, resources: resources, into: work)
        print("import benchmark: \(count) Synthea-derived resources in two halves of NDJSON files, \(String(format: "%.1f", Double(bytes) / 1e6)) MB")

        // What the import costs before the database: parse, validate, ids, references, canonical forms, hashes,
        // commitments (a store that plans versions and discards them).
        let prepareStart = ContinuousClock.now
        let prepared = try await Importer(store: PlanningOnlyStore()).run(try ImportFiles.expand(files))
        let prepareSeconds = (ContinuousClock.now - prepareStart).seconds
        print(String(format: "  without a database (parse, validate, prepare, hash): %.0f resources/s", Double(prepared.created) / prepareSeconds))
        if let passes = prepareOnly {
            for _ in 1..<max(passes, 1) { _ = try await Importer(store: PlanningOnlyStore()).run(try ImportFiles.expand(files)) }
            return
        }

        let database = "careledger_bench_\(ProcessInfo.processInfo.processIdentifier)"
        try await PostgresStore.administer(url: server, "DROP DATABASE IF EXISTS \(database)")
        try await PostgresStore.administer(url: server, "CREATE DATABASE \(database)")
        let url = PostgresStore.url(server, database: database)
        let store = try await StoreLocation.open(url)

        // The reference: psql \copy of the same resources' canonical JSON into a jsonb table, same server, timed
        // once before the import and once after it. The machine is shared, so its speed drifts within a run;
        // the import is compared with the mean of the two (both are printed).
        let psqlPath = psql ?? ImportBenchCommand.findPSQL()
        let clock = ContinuousClock()
        func timeCopy(_ table: String) throws -> (rate: Double, seconds: Double) {
            try ImportBenchCommand.psql(psqlPath, url, "CREATE TABLE \(table) (id bigint PRIMARY KEY, doc jsonb NOT NULL)")
            let copyStart = clock.now
            try ImportBenchCommand.psql(psqlPath, url, "\\copy \(table) (id, doc) FROM '\(copyFile.path)'")
            let seconds = (clock.now - copyStart).seconds
            return (Double(count) / seconds, seconds)
        }
        let before = try timeCopy("bench_copy_before")
        // The import starts on a fresh store: the reference's table goes, and its dirty pages are written out now
        // rather than during the import (CHECKPOINT needs a superuser; without one the pages are left to the server).
        try ImportBenchCommand.psql(psqlPath, url, "DROP TABLE bench_copy_before")
        try? ImportBenchCommand.psql(psqlPath, url, "CHECKPOINT")

        let start = clock.now
        let half = count / 2
        let halfway = HalfwayMark()
        let summary = try await Importer(store: store).run(try ImportFiles.expand(files)) { p in
            if p.records >= half { halfway.mark(at: clock.now, records: p.records) }
        }
        let end = clock.now
        try await store.close()
        let total = summary.created + summary.updated + summary.unchanged
        let seconds = (end - start).seconds
        let rate = Double(total) / seconds

        let after = try timeCopy("bench_copy_after")
        let copyRate = (before.rate + after.rate) / 2

        print("")
        print(String(format: "  careledger import          %8d resources in %6.1f s  %8.0f resources/s  (%d rejected)", total, seconds, rate, summary.rejected))
        print(String(format: "  psql \\copy into jsonb       %8d rows      in %6.1f s  %8.0f rows/s (reference, before the import)", count, before.seconds, before.rate))
        print(String(format: "  psql \\copy into jsonb       %8d rows      in %6.1f s  %8.0f rows/s (reference, after the import)", count, after.seconds, after.rate))
        print(String(format: "  ratio to COPY (mean of the two, %.0f rows/s): %.2f×   goal ≥ 0.5×: %@", copyRate, rate / copyRate, rate / copyRate >= 0.5 ? "met" : "NOT met"))
        print(String(format: "  rate ≥ 10,000 resources/s: %@", rate >= 10_000 ? "met" : "NOT met"))
        if let (t, n) = halfway.value {
            let first = Double(n) / (t - start).seconds
            let second = Double(total - n) / (end - t).seconds
            print(String(format: "  first %d: %.0f resources/s, the rest: %.0f resources/s — second half %.2f× the first   goal ≥ 0.9×: %@",
                         n, first, second, second / first, second / first >= 0.9 ? "met" : "NOT met"))
        }
        if !keep { try await PostgresStore.administer(url: server, "DROP DATABASE IF EXISTS \(database) WITH (FORCE)") }
    }

    static func findPSQL() -> String {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") + ["/usr/lib/postgresql/15/bin"] {
            let candidate = "\(dir)/psql"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return "psql"
    }

    static func psql(_ psql: String, _ url: String, _ command: String) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: psql)
        p.arguments = [url, "-v", "ON_ERROR_STOP=1", "-q", "-c", command]
        p.standardInput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw ValidationError("psql failed (exit \(p.terminationStatus)) running: \(command)") }
    }
}

/// A store that plans every version (canonical form, hashes, commitment) and keeps nothing: the CPU cost of an
/// import without the database.
final class PlanningOnlyStore: RecordStore {
    func commit(_ unit: [PreparedRecord], batch: Int64?) async throws -> [RecordOutcome] {
        try VersionPlanner.plan(unit, current: [:], lastUpdated: Instant.format(Date())).outcomes
    }
    func commit(_ unit: [PreparedRecord], batch: Int64?, message: MessageKey) async throws -> [RecordOutcome]? {
        try await commit(unit, batch: batch)
    }
    func received(_ message: MessageKey) async throws -> Bool { false }
    func beginBatch(source: String, format: String) async throws -> Int64 { 0 }
    func finishBatch(_ id: Int64, counts: BatchCounts) async throws {}
    func addDeadLetter(_ letter: DeadLetter) async throws -> Int64 { 0 }
    func deadLetters(includeResolved: Bool) async throws -> [DeadLetter] { [] }
    func deadLetter(id: Int64) async throws -> DeadLetter? { nil }
    func resolveDeadLetter(id: Int64) async throws {}
    func countsByType() async throws -> [(type: String, count: Int)] { [] }
    func versionCount() async throws -> Int { 0 }
    func recordCounts() async throws -> [RecordCount] { [] }
    func current(_ key: RecordKey) async throws -> StoredVersion? { nil }
    func versions(_ key: RecordKey) async throws -> [StoredVersion] { [] }
    func resolveIdentifier(type: String, system: String?, value: String) async throws -> [String] { [] }
    func search(type: String, param: String, value: String) async throws -> [String] { [] }
    func anchorQueueCount() async throws -> Int { 0 }
    // It plans versions and keeps nothing, so there is nothing to anchor.
    func anchorQueue(limit: Int) async throws -> [QueuedCommitment] { [] }
    func createAnchorBatch(root: [UInt8], firstTxid: Int64, lastTxid: Int64, checkpoint: String, leaves: [(key: RecordKey, version: Int)]) async throws -> Int64 {
        throw StoreError("creating an anchor batch", "the planning-only benchmark store keeps no versions to anchor")
    }
    func completeAnchorBatch(id: Int64, height: Int64, transactionIndex: Int) async throws {
        throw StoreError("completing anchor batch \(id)", "the planning-only benchmark store keeps no anchor batches")
    }
    func pendingAnchorBatches() async throws -> [AnchorBatchRow] { [] }
    func anchorBatch(id: Int64) async throws -> AnchorBatchRow? { nil }
    func batchLeaves(_ batch: Int64) async throws -> [BatchLeaf] { [] }
    func anchorLocation(_ key: RecordKey, version: Int) async throws -> AnchorLocation? { nil }
    func version(_ key: RecordKey, _ version: Int) async throws -> StoredVersion? { nil }
    func close() async throws {}
}

/// When the import passed half its resources (set once, from the progress callback).
final class HalfwayMark: @unchecked Sendable {
    private let lock = NSLock()
    private var at: (ContinuousClock.Instant, Int)?

    func mark(at t: ContinuousClock.Instant, records: Int) {
        lock.lock()
        if at == nil { at = (t, records) }
        lock.unlock()
    }

    var value: (ContinuousClock.Instant, Int)? {
        lock.lock()
        defer { lock.unlock() }
        return at
    }
}

/// Derives many distinct resources from a small bulk export: copy k gets every UUID re-keyed (its first four hex
/// digits replaced by k), every identifier value and conditional-reference value suffixed with `-k`, so copies
/// never collide and their references still resolve to their own copy.
enum ImportBenchData {
    static func derive(from corpus: String, resources: Int, into dir: URL) throws -> (files: [String], copyFile: URL, count: Int, bytes: Int) {
        let names = try FileManager.default.contentsOfDirectory(atPath: corpus).filter { $0.hasSuffix(".ndjson") && $0 != "log.ndjson" }.sorted()
        var originals: [(String, [FHIRObject])] = []
        for name in names {
            let data = try Data(contentsOf: URL(fileURLWithPath: corpus).appendingPathComponent(name))
            var objects: [FHIRObject] = []
            for line in data.split(separator: 0x0A) where !line.isEmpty {
                if case .object(let o) = try JSONReader().readValue(Array(line)) { objects.append(o) }
            }
            originals.append((name, objects))
        }
        let perCopy = originals.reduce(0) { $0 + $1.1.count }
        guard perCopy > 0 else { throw ValidationError("no resources in \(corpus)") }
        let copies = (resources + perCopy - 1) / perCopy
        var files: [String] = []
        var copyRows: [UInt8] = []
        var count = 0
        var bytes = 0
        // Two halves with the same mix of types (copies 0..<copies/2, then the rest), each a directory of per-type
        // files, so the second half's rate against the first measures growth, not a different mix.
        let halves = [0..<copies / 2, copies / 2..<copies]
        for (h, range) in halves.enumerated() {
            let part = dir.appendingPathComponent("part-\(h + 1)")
            try FileManager.default.createDirectory(at: part, withIntermediateDirectories: true)
            for (name, objects) in originals {
                var out: [UInt8] = []
                for k in range {
                    for o in objects {
                        let derived = FHIRValue.object(o).mapStrings { rekey($0, k) }
                        let withIdentifiers = suffixIdentifiers(derived, k)
                        out += JSONWriter(style: .compact).write(withIdentifiers)
                        out.append(0x0A)
                        count += 1
                        copyRows += Array(String(count).utf8)
                        copyRows.append(0x09)
                        for b in try CanonicalForm.bytes(of: withIdentifiers) {
                            // COPY text format: a backslash is written twice.
                            if b == UInt8(ascii: "\\") { copyRows.append(b) }
                            copyRows.append(b)
                        }
                        copyRows.append(0x0A)
                    }
                }
                try Data(out).write(to: part.appendingPathComponent(name))
                bytes += out.count
            }
            files.append(part.path)
        }
        let copyFile = dir.appendingPathComponent("copy.tsv")
        try Data(copyRows).write(to: copyFile)
        return (files, copyFile, count, bytes)
    }

    /// Replaces the first four hex digits of every UUID in `s` with `k` in hex.
    static func rekey(_ s: String, _ k: Int) -> String {
        guard s.utf8.count >= 36 else { return s }
        var u = Array(s.utf8)
        let prefix = Array(String(format: "%04x", k & 0xFFFF).utf8)
        func hex(_ c: UInt8) -> Bool { (c >= 48 && c <= 57) || (c >= 97 && c <= 102) }
        var i = 0
        var changed = false
        while i + 36 <= u.count {
            var isUUID = true
            for j in 0..<36 {
                let c = u[i + j]
                if j == 8 || j == 13 || j == 18 || j == 23 { if c != UInt8(ascii: "-") { isUUID = false; break } } else if !hex(c) { isUUID = false; break }
            }
            if isUUID {
                for j in 0..<4 { u[i + j] = prefix[j] }
                changed = true
                i += 36
            } else {
                i += 1
            }
        }
        return changed ? String(decoding: u, as: UTF8.self) : s
    }

    /// Suffixes identifier values and conditional-reference values with `-k`.
    static func suffixIdentifiers(_ value: FHIRValue, _ k: Int) -> FHIRValue {
        switch value {
        case .object(var o):
            for i in o.members.indices {
                let name = o.members[i].name
                if name == "identifier", case .array(var ids) = o.members[i].value {
                    for j in ids.indices {
                        if case .object(var id) = ids[j], case .string(let v)? = id["value"] { id["value"] = .string("\(v)-\(k)"); ids[j] = .object(id) }
                    }
                    o.members[i].value = .array(ids)
                } else if name == "reference", case .string(let r) = o.members[i].value, r.contains("?identifier=") {
                    o.members[i].value = .string("\(r)-\(k)")
                } else {
                    o.members[i].value = suffixIdentifiers(o.members[i].value, k)
                }
            }
            return .object(o)
        case .array(let a):
            return .array(a.map { suffixIdentifiers($0, k) })
        default:
            return value
        }
    }
}

extension FHIRValue {
    /// The same tree with every string passed through `f`.
    func mapStrings(_ f: (String) -> String) -> FHIRValue {
        switch self {
        case .string(let s): return .string(f(s))
        case .array(let a): return .array(a.map { $0.mapStrings(f) })
        case .object(var o):
            for i in o.members.indices { o.members[i].value = o.members[i].value.mapStrings(f) }
            return .object(o)
        default: return self
        }
    }
}
