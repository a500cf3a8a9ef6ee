import ArgumentParser
import Foundation
import Ledger
import Node
import RecordStore
import Services

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
        let (key, version): (RecordKey, Int?)
        do throws(ServiceError) {
            (key, version) = try RecordReceipts.reference(reference)
        } catch {
            throw ValidationError(error.reason)
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
        // A read-only view beside the running node: each attempt picks up the blocks appended since.
        let receipts = RecordReceipts(store: store, chain: chain, refreshesChain: true)
        let deadline = Date().addingTimeInterval(wait)
        var issued: RecordReceipts.Issued?
        while issued == nil {
            do throws(ServiceError) {
                issued = try await receipts.receipt(for: key, version: version)
            } catch where error.code == .notReady && Date() < deadline {
                try await Task.sleep(for: .milliseconds(100))
            } catch {
                var failure = error
                if error.code == .notReady { failure.reason += wait > 0 ? " after \(wait) s" : "; --wait SECONDS waits for it" }
                // This command's documented codes: 1 for a record not in the store, or a store that fails or was
                // anchored on another chain.
                throw ServiceErrorExit.exit(failure, command: "receipt", exitCodes: [.notFound: 1, .unavailable: 1])
            }
        }
        guard let issued else { return }
        if let recordOut { try Data(issued.record).write(to: URL(fileURLWithPath: recordOut)) }
        Output.write(Array(try ReceiptJSON.encode(issued.receipt)) + [10])
    }
}
