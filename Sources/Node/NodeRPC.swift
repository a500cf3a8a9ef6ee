import Ledger

/// The node's loopback RPC (docs/node.md):
///
/// - `GET /status`: chain id, height, block id, block time, app hash (the state root, also under its older key
///   `stateRoot`), the validators of the last block and of the next, mempool size;
/// - `POST /broadcast_tx[?wait=commit]`: a signed transaction in the ledger encoding;
/// - `POST /submit_consent`: a `ConsentDirective` in the ledger encoding, signed by this node's key (the node owns
///   its nonce sequence), answered once committed and the next header commits to the state with it;
/// - `POST /check_consent`: the same body, only checked: 200 `{"ok": true}` when the node would admit it now, 422
///   with the ledger's `code` and `message` when not (a submitter asks before it stores the Consent).
///
/// Answers are JSON; refusals carry `code` and `message`.
public enum NodeRPC {
    public static func handle(_ request: RPCRequest, chain: Chain) async -> RPCResponse {
        switch (request.method, request.path) {
        case ("GET", "/status"):
            return RPCJSON.response(200, NodeStatusAnswer(await chain.status))
        case ("POST", "/broadcast_tx"):
            let tx: Transaction
            do throws(LedgerDecodingError) {
                tx = try Transaction(encoded: request.body)
            } catch {
                return refusal(400, "malformed", "the body is not a transaction: \(error)")
            }
            let hash = Ledger.Hex.encode(tx.hash)
            let result: TransactionResult
            do {
                result = try await chain.broadcastDurably([tx])[0]
            } catch {
                return refusal(503, "unavailable", "the transaction was admitted but could not be made durable, retry: \(error)", hash: hash)
            }
            if let code = result.code { return refusal(422, code.rawValue, result.message, hash: hash) }
            guard request.query["wait"] == "commit" else { return RPCJSON.response(202, AdmittedAnswer(hash: hash)) }
            return RPCJSON.response(200, InclusionAnswer(tx, await chain.inclusion(of: tx.hash)))
        case ("POST", "/submit_consent"):
            let directive: ConsentDirective
            do throws(LedgerDecodingError) {
                directive = try ConsentDirective(encoded: request.body)
            } catch {
                return refusal(400, "malformed", "the body is not a consent directive: \(error)")
            }
            do {
                // Answered once the next header carries the state with it: a query right after sees it.
                let (tx, inclusion) = try await chain.recordConsent(directive)
                return RPCJSON.response(200, InclusionAnswer(tx, inclusion))
            } catch {
                return refusal(422, "refused", "\(error)")
            }
        case ("POST", "/check_consent"):
            let directive: ConsentDirective
            do throws(LedgerDecodingError) {
                directive = try ConsentDirective(encoded: request.body)
            } catch {
                return refusal(400, "malformed", "the body is not a consent directive: \(error)")
            }
            if let problem = await chain.consentProblem(directive) { return refusal(422, problem.code.rawValue, problem.message) }
            return RPCJSON.response(200, ConsentCheckAnswer(ok: true))
        case ("GET", "/client"), ("GET", "/participant"): return await handleLedgerQuery(request, chain: chain)
        default:
            return refusal(404, "not-found", "no \(request.method) \(request.path); try GET /status, POST /broadcast_tx, POST /submit_consent, POST /check_consent")
        }
    }

    /// `{"code", "message"[, "hash"]}` with `status`.
    static func refusal(_ status: Int, _ code: String, _ message: String, hash: String? = nil) -> RPCResponse {
        RPCJSON.response(status, RPCRefusal(code: code, message: message, hash: hash))
    }
}
