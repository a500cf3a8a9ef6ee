import ArgumentParser
import Foundation
import Ledger
import Node
import RecordStore

/// `careledger receipt TYPE/ID[/_history/V] --store URL --home DIR [--wait SECONDS]`.
struct ReceiptCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "receipt",
        abstract: "Print a record version's receipt (careledger-receipt JSON, docs/receipt.md), for `careledger verify`.",
        discussion: """
            Without _history/V, the current version. The receipt comes from the store's receipt data and the \
            chain of the node in --home (replayed and checked, read-only). When the validator set changed since the \
            genesis, the receipt carries a light path across the changes (careledger-receipt/2), so that it still \
            verifies against genesis.json alone. Exit codes: 0 printed; 1 no such record; 66 no node in --home; 75 \
            not anchored yet (after --wait seconds).
            """
    )

    @Argument(help: "TYPE/ID or TYPE/ID/_history/VERSION.")
    var reference: String

    @OptionGroup var storeOptions: StoreOptions

    @Option(help: "The home of the node that anchors the store.")
    var home: String

    @Option(help: "Seconds to wait for the version to be anchored.")
    var wait: Double = 0

    @Option(help: "Also write the record's served bytes (what --record of verify checks) to this file.")
    var recordOut: String?

    func run() async throws {
        let parts = reference.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        let key: RecordKey
        var version: Int?
        if parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty {
            key = RecordKey(type: parts[0], id: parts[1])
        } else if parts.count == 4, parts[2] == "_history", let v = Int(parts[3]), v > 0 {
            key = RecordKey(type: parts[0], id: parts[1])
            version = v
        } else {
            throw ValidationError("expected TYPE/ID or TYPE/ID/_history/VERSION, found '\(reference)'")
        }
        let home = NodeHome(self.home)
        let chain: Chain
        do {
            chain = try await home.openChain()
        } catch {
            FileHandle.standardError.write(Data("careledger receipt: \(error)\n".utf8))
            throw ExitCode(66)
        }
        let store = try await storeOptions.open()
        defer { Task { try? await store.close() } }
        let deadline = Date().addingTimeInterval(wait)
        while true {
            let outcome: ReceiptBuilder.Outcome
            do {
                // A read-only view beside the running node: the builder picks up the blocks appended since.
                outcome = try await ReceiptBuilder.build(key, version: version, store: store, chain: chain, refresh: true)
            } catch {
                FileHandle.standardError.write(Data("careledger receipt: \(error)\n".utf8))
                throw ExitCode(1)
            }
            switch outcome {
            case .receipt(let receipt, let record):
                if let recordOut { try Data(record).write(to: URL(fileURLWithPath: recordOut)) }
                Output.write(Array(try ReceiptJSON.encode(receipt)) + [10])
                return
            case .notFound(let why):
                FileHandle.standardError.write(Data("careledger receipt: \(why)\n".utf8))
                throw ExitCode(1)
            case .pending(let why):
                if Date() >= deadline {
                    FileHandle.standardError.write(Data("careledger receipt: \(why)\(wait > 0 ? " after \(wait) s" : "; --wait SECONDS waits for it")\n".utf8))
                    throw ExitCode(75)
                }
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }
}
