import ArgumentParser
import FHIRCore
import Foundation
import Ingest
import RecordStore

/// `careledger store …`.
struct StoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store",
        abstract: "Inspect the record store.",
        subcommands: [StoreStatsCommand.self]
    )
}

/// `careledger store stats [--json]`.
struct StoreStatsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Count resources by type: current ones, and deleted ones apart.",
        discussion: """
            A deleted resource (its last version is a delete: a read is 410 Gone, its history is kept) is counted under \
            "deleted", not with the current resources a read or a search can return.
            """)

    @OptionGroup var storeOptions: StoreOptions

    @Flag(help: """
        Print JSON: {"resources": {type: current count}, "total": n, "deleted": {type: count}, "deletedTotal": n, \
        "versions": n, "anchorQueue": n, "deadLetters": n}.
        """)
    var json = false

    func run() async throws {
        let store = try await storeOptions.open()
        let counts = try await store.recordCounts()
        let versions = try await store.versionCount()
        let queued = try await store.anchorQueueCount()
        let dead = try await store.deadLetters(includeResolved: false).count
        try await store.close()
        let total = counts.reduce(0) { $0 + $1.current }
        let deleted = counts.reduce(0) { $0 + $1.deleted }
        if json {
            var resources = FHIRObject()
            for c in counts where c.current > 0 { resources[c.type] = .number(FHIRNumber(c.current)) }
            var deletes = FHIRObject()
            for c in counts where c.deleted > 0 { deletes[c.type] = .number(FHIRNumber(c.deleted)) }
            let out = FHIRObject(["resources": FHIRValue.object(resources), "total": FHIRValue.number(FHIRNumber(total)),
                                  "deleted": FHIRValue.object(deletes), "deletedTotal": FHIRValue.number(FHIRNumber(deleted)),
                                  "versions": FHIRValue.number(FHIRNumber(versions)), "anchorQueue": FHIRValue.number(FHIRNumber(queued)),
                                  "deadLetters": FHIRValue.number(FHIRNumber(dead))])
            print(String(decoding: JSONWriter(style: .pretty).write(.object(out)), as: UTF8.self))
            return
        }
        func row(_ name: String, _ current: Int, _ deleted: Int) -> String {
            "\(name.padding(toLength: 28, withPad: " ", startingAt: 0)) \(String(format: "%8d", current))"
                + (deleted > 0 ? "  (\(deleted) deleted)" : "")
        }
        for c in counts where c.current > 0 || c.deleted > 0 { print(row(c.type, c.current, c.deleted)) }
        print(row("total", total, deleted))
        print("\(versions) versions, \(queued) waiting to be anchored, \(dead) open dead letter(s)")
    }
}

/// `careledger deadletters list|show|retry`.
struct DeadLettersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deadletters",
        abstract: "Rejected input units: list them, show one with its OperationOutcome and raw input, retry them.",
        subcommands: [List.self, Show.self, Retry.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List open dead letters (with --all, retried ones too).")
        @OptionGroup var storeOptions: StoreOptions
        @Flag(help: "Include dead letters a retry has stored.") var all = false

        func run() async throws {
            let store = try await storeOptions.open()
            let letters = try await store.deadLetters(includeResolved: all)
            try await store.close()
            for l in letters {
                let diagnostics = DeadLettersCommand.firstDiagnostics(l.outcome)
                print("\(l.id)\t\(l.createdAt)\t\(l.source)\(l.location.isEmpty ? "" : " \(l.location)")\t\(diagnostics)\(l.resolvedAt.map { "\t(stored by a retry at \($0))" } ?? "")")
            }
            if letters.isEmpty { print("no \(all ? "" : "open ")dead letters") }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one dead letter: where it came from, its OperationOutcome and its raw input.")
        @OptionGroup var storeOptions: StoreOptions
        @Argument(help: "The dead letter's id.") var id: Int64

        func run() async throws {
            let store = try await storeOptions.open()
            let letter = try await store.deadLetter(id: id)
            try await store.close()
            guard let l = letter else {
                FileHandle.standardError.write(Data("careledger: no dead letter \(id)\n".utf8))
                throw ExitCode(1)
            }
            print("dead letter \(l.id) — \(l.source)\(l.location.isEmpty ? "" : " \(l.location)"), \(l.format), \(l.raw.count) bytes, rejected \(l.createdAt)\(l.resolvedAt.map { ", stored by a retry at \($0)" } ?? "")")
            print("outcome:")
            if let tree = try? JSONReader().readValue(Array(l.outcome.utf8)) {
                print(String(decoding: JSONWriter(style: .pretty).write(tree), as: UTF8.self))
            } else {
                print(l.outcome)
            }
            print("raw input:")
            print(String(decoding: l.raw.prefix(64 << 10), as: UTF8.self))
            if l.raw.count > 64 << 10 { print("… (\(l.raw.count - (64 << 10)) more bytes)") }
        }
    }

    struct Retry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Import dead letters again (after fixing the store or a referenced resource); exit 1 if any is still rejected.")
        @OptionGroup var storeOptions: StoreOptions
        @Argument(help: "Dead letter ids; none retries every open one.") var ids: [Int64] = []
        @Option(help: "The source system given to the original import.") var source: String = "careledger-import"

        func run() async throws {
            let store = try await storeOptions.open()
            var letters: [DeadLetter] = []
            if ids.isEmpty {
                letters = try await store.deadLetters(includeResolved: false)
            } else {
                for id in ids {
                    guard let l = try await store.deadLetter(id: id) else {
                        try await store.close()
                        FileHandle.standardError.write(Data("careledger: no dead letter \(id)\n".utf8))
                        throw ExitCode(1)
                    }
                    letters.append(l)
                }
            }
            var failed = 0
            var importer = Importer(store: store, source: source)
            if letters.contains(where: { $0.format == "hl7v2" }) { importer.hl7 = try MappingsLocation.converter(nil) }
            if letters.contains(where: { $0.format == "ccda" }) { importer.ccda = try MappingsLocation.ccdaConverter(nil) }
            for l in letters {
                let (stored, summary) = try await importer.retry(l)
                if stored {
                    print("\(l.id)\tstored: \(summary.imported) imported, \(summary.unchanged) unchanged")
                } else {
                    failed += 1
                    print("\(l.id)\tstill rejected (see dead letter \(summary.deadLetterIDs.map(String.init).joined(separator: ", ")))")
                }
            }
            try await store.close()
            if failed > 0 { throw ExitCode(1) }
        }
    }

    static func firstDiagnostics(_ outcome: String) -> String {
        guard case .object(let o)? = try? JSONReader().readValue(Array(outcome.utf8)),
              let issue = o["issue"]?.arrayValue?.first?.objectValue else { return "" }
        return issue["diagnostics"]?.stringValue ?? ""
    }
}
