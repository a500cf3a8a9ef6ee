public import Ledger
public import Node
public import RecordStore

/// Receipts for record versions (docs/receipt.md): from the store's receipt data and the chain of the node that
/// anchors the store, for `careledger receipt`, the demo and the gateway.
public struct RecordReceipts: Sendable {
    /// A receipt and the record's served bytes (what `verify --record` checks against it).
    public struct Issued: Sendable {
        public let receipt: Receipt
        public let record: [UInt8]
    }

    public let store: any RecordStore
    public let chain: Chain
    /// `chain` is a read-only view beside a running node (`careledger receipt`): the blocks the node appended are
    /// picked up before each receipt. Never for the node's own chain.
    public let refreshesChain: Bool

    public init(store: any RecordStore, chain: Chain, refreshesChain: Bool = false) {
        self.store = store
        self.chain = chain
        self.refreshesChain = refreshesChain
    }

    /// The receipt of `key` at `version` (the current version when nil). `.notFound` when the store has no such
    /// version; `.notReady` while it waits to be anchored (the reason says where it is); `.conflict` when the store
    /// was anchored on another chain than this node's; `.unavailable` when the store fails.
    public func receipt(for key: RecordKey, version: Int?) async throws(ServiceError) -> Issued {
        let outcome: ReceiptBuilder.Outcome
        do {
            outcome = try await ReceiptBuilder.build(key, version: version, store: store, chain: chain, refresh: refreshesChain)
        } catch let error as NodeError {
            throw ServiceError(.conflict, "\(error)")
        } catch {
            throw ServiceError(.unavailable, "the receipt of \(key) could not be built: \(error)")
        }
        switch outcome {
        case .receipt(let receipt, let record): return Issued(receipt: receipt, record: record)
        case .pending(let why): throw ServiceError(.notReady, why)
        case .notFound(let why): throw ServiceError(.notFound, why)
        }
    }

    /// A record version written as `TYPE/ID` or `TYPE/ID/_history/VERSION`; `.invalidRequest` otherwise.
    public static func reference(_ s: String) throws(ServiceError) -> (key: RecordKey, version: Int?) {
        let parts = s.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        if parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty {
            return (RecordKey(type: parts[0], id: parts[1]), nil)
        }
        if parts.count == 4, !parts[0].isEmpty, !parts[1].isEmpty, parts[2] == "_history", let v = Int(parts[3]), v > 0 {
            return (RecordKey(type: parts[0], id: parts[1]), v)
        }
        throw ServiceError(.invalidRequest, "expected TYPE/ID or TYPE/ID/_history/VERSION, found '\(s)'")
    }
}
