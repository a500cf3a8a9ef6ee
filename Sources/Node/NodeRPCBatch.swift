import Ledger

extension NodeRPC {
    /// Transactions per `POST /broadcast_txs` at most.
    public static let maxBatch = 10_000

    /// `POST /broadcast_txs`: many signed transactions at once (a list in the ledger encoding: u32 count, then each
    /// transaction), admitted in order as `/broadcast_tx` admits one. For clients that submit at a high rate (the
    /// load benchmark); answers `{"accepted": n, "refusedCount": m, "refused": [{"index", "code", "message",
    /// "expectedNonce" (for badNonce)}]}`. Nil for any other request.
    public static func handleBatch(_ request: RPCRequest, chain: Chain) async -> RPCResponse? {
        guard request.method == "POST", request.path == "/broadcast_txs" else { return nil }
        var reader = LedgerReader(request.body)
        reader.maxItems = maxBatch
        let transactions: [Transaction]
        do throws(LedgerDecodingError) {
            transactions = try reader.list { (r) throws(LedgerDecodingError) in try r.value(Transaction.self) }
            try reader.finish()
        } catch {
            return refusal(400, "malformed", "the body is not a list of at most \(maxBatch) transactions: \(error)")
        }
        var accepted = 0
        var refused: [BatchAnswer.Refusal] = []
        let results: [TransactionResult]
        do {
            results = try await chain.broadcastDurably(transactions)
        } catch {
            return refusal(503, "unavailable", "the transactions were admitted but could not be made durable, retry: \(error)")
        }
        for (i, (tx, result)) in zip(transactions, results).enumerated() {
            if let code = result.code {
                var entry = BatchAnswer.Refusal(index: i, code: code.rawValue, message: result.message)
                // A nonce gap (the node lost its mempool, or an earlier one was refused): the nonce it expects.
                if code == .badNonce { entry.expectedNonce = await chain.nextNonce(of: tx.signer) }
                refused.append(entry)
            } else {
                accepted += 1
            }
        }
        return RPCJSON.response(200, BatchAnswer(accepted: accepted, refused: refused, refusedCount: transactions.count - accepted))
    }
}
