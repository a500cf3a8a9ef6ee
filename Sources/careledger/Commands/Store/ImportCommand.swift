import ArgumentParser
import FHIRCore
import Foundation
import Ingest
import RecordStore

/// `careledger import PATH…`.
struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import FHIR resources, Bundles and bulk NDJSON (JSON or XML, files or directories) into the record store.",
        discussion: """
            Directories are walked recursively (.json, .xml, .ndjson, .ndjson.gz, .jsonl, .hl7). Every input unit — a \
            file's resource or Bundle, a batch of NDJSON lines, an HL7 v2 message (converted through Mappings/hl7v2) — \
            is stored in one transaction; a transaction Bundle is all or nothing. Identical content makes no new version, so running the same import again (after a crash too) \
            changes nothing. A rejected unit becomes a dead letter (`careledger deadletters list`). An entry of a \
            folder that cannot be read (a dangling symbolic link, a FIFO, a folder without permission) is named on \
            stderr and counted as rejected.

            Exit codes: 0 everything imported; 1 something was rejected; 64 a bad --store; 66 a named file or folder \
            is missing or cannot be read (nothing is imported); 69 the store cannot be opened; 70 the import stopped \
            on a store failure.
            """
    )

    @Argument(help: "Files and directories to import.")
    var paths: [String]

    @OptionGroup var storeOptions: StoreOptions

    @Option(help: "The source system, used with the type and business identifiers to give ids to resources that have none.")
    var source: String = "careledger-import"

    @Flag(help: "Print one line per file instead of a progress bar, even on a terminal.")
    var plain = false

    @Option(help: "The mappings folder for HL7 v2 files (default: Mappings/ of the working directory or of the repository holding this binary).")
    var mappings: String?

    func run() async throws {
        let files: [ImportFile]
        do {
            files = try ImportFiles.expand(paths)
        } catch {
            FileHandle.standardError.write(Data("careledger: \(error.message)\n".utf8))
            throw ExitCode(66)
        }
        for file in files {
            if let problem = file.problem {
                FileHandle.standardError.write(Data("careledger: cannot read \(file.path): \(problem.reason) (counted as rejected)\n".utf8))
            }
        }
        var importer = Importer(store: try await storeOptions.open(), source: source)
        if files.contains(where: { $0.kind == .hl7v2 }) { importer.hl7 = try MappingsLocation.converter(mappings) }
        // C-CDA documents are .xml files too: the mappings are loaded when there is XML to import.
        if files.contains(where: { $0.path.lowercased().hasSuffix(".xml") }) { importer.ccda = try MappingsLocation.ccdaConverter(mappings) }
        let store = importer.store
        let started = ContinuousClock.now
        let display = ProgressDisplay(bar: !plain && isatty(STDERR_FILENO) == 1, start: started)
        let summary: ImportSummary
        do {
            summary = try await importer.run(files) { display.update($0) }
        } catch {
            try? await store.close()
            display.finish()
            FileHandle.standardError.write(Data("careledger: the import stopped: \(error)\n".utf8))
            throw ExitCode(70)
        }
        display.finish()
        let seconds = max((ContinuousClock.now - started).seconds, 1e-6)
        print(ImportCommand.report(summary, seconds: seconds, store: storeOptions.store))
        try await store.close()
        if summary.rejected > 0 { throw ExitCode(1) }
    }

    static func report(_ s: ImportSummary, seconds: Double, store: String) -> String {
        var lines: [String] = []
        let total = s.created + s.updated + s.unchanged
        lines.append("imported \(s.imported) (\(s.created) new, \(s.updated) updated), unchanged \(s.unchanged), rejected \(s.rejected) — \(s.files) file(s), \(total) resources in \(String(format: "%.1f", seconds)) s (\(Int(Double(total) / seconds)) resources/s)")
        if s.duplicates > 0 { lines.append("  \(s.duplicates) HL7 v2 message(s) or C-CDA document(s) received before (same bytes): not applied again") }
        if s.warnings > 0 { lines.append("  \(s.warnings) mapping warning(s): run careledger hl7 convert or ccda convert on the file to see them") }
        for type in s.byType.keys.sorted() {
            let c = s.byType[type] ?? (0, 0)
            lines.append("  \(type.padding(toLength: 28, withPad: " ", startingAt: 0)) \(String(format: "%7d", c.stored)) stored  \(String(format: "%7d", c.unchanged)) unchanged")
        }
        if s.unresolvedReferences > 0 {
            lines.append("  \(s.unresolvedReferences) conditional reference(s) matched no stored resource and were kept as written")
        }
        if !s.unreadable.isEmpty {
            lines.append("  \(s.unreadable.count) file(s) or folder(s) could not be read, counted as rejected:")
            for entry in s.unreadable.prefix(20) { lines.append("    \(entry)") }
            if s.unreadable.count > 20 { lines.append("    … and \(s.unreadable.count - 20) more") }
        }
        if s.rejected > 0 {
            lines.append("  \(s.rejected) rejected unit(s) are dead letters: careledger deadletters list --store \(store)")
        }
        return lines.joined(separator: "\n")
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

/// A progress bar on a terminal (records/s and ETA by bytes), or a log line per file otherwise, on stderr.
final class ProgressDisplay: @unchecked Sendable {
    private let bar: Bool
    private let start: ContinuousClock.Instant
    private let lock = NSLock()
    private var lastFile = ""
    private var lastDraw = ContinuousClock.now - .seconds(1)

    init(bar: Bool, start: ContinuousClock.Instant) {
        self.bar = bar
        self.start = start
    }

    func update(_ p: ImportProgress) {
        lock.lock()
        defer { lock.unlock() }
        let now = ContinuousClock.now
        let elapsed = max((now - start).seconds, 1e-6)
        let rate = Double(p.records) / elapsed
        if bar {
            guard now - lastDraw >= .milliseconds(100) || p.bytesDone >= p.bytesTotal else { return }
            lastDraw = now
            let fraction = p.bytesTotal > 0 ? min(1, Double(p.bytesDone) / Double(p.bytesTotal)) : 1
            let width = 30
            let filled = Int(fraction * Double(width))
            let eta = fraction > 0 ? elapsed * (1 - fraction) / fraction : 0
            let line = "\r[\(String(repeating: "#", count: filled))\(String(repeating: ".", count: width - filled))] \(Int(fraction * 100))%  \(p.records) records  \(Int(rate))/s  ETA \(Int(eta.rounded())) s  rejected \(p.rejected) "
            FileHandle.standardError.write(Data(line.utf8))
        } else if p.file != lastFile || p.bytesDone >= p.bytesTotal {
            lastFile = p.file
            FileHandle.standardError.write(Data("import: \(p.file): \(p.records) records so far, \(Int(rate))/s, \(p.rejected) rejected\n".utf8))
        }
    }

    func finish() {
        if bar { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
