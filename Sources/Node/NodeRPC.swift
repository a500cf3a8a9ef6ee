import Foundation
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
            return json(200, statusObject(await chain.status))
        case ("POST", "/broadcast_tx"):
            let tx: Transaction
            do throws(LedgerDecodingError) {
                tx = try Transaction(encoded: request.body)
            } catch {
                return json(400, ["code": "malformed", "message": "the body is not a transaction: \(error)"])
            }
            let result: TransactionResult
            do {
                result = try await chain.broadcastDurably([tx])[0]
            } catch {
                return json(503, ["code": "unavailable", "message": "the transaction was admitted but could not be made durable, retry: \(error)", "hash": Ledger.Hex.encode(tx.hash)])
            }
            if let code = result.code { return json(422, ["code": code.rawValue, "message": result.message, "hash": Ledger.Hex.encode(tx.hash)]) }
            guard request.query["wait"] == "commit" else { return json(202, ["hash": Ledger.Hex.encode(tx.hash)]) }
            return json(200, inclusionObject(tx, await chain.inclusion(of: tx.hash)))
        case ("POST", "/submit_consent"):
            let directive: ConsentDirective
            do throws(LedgerDecodingError) {
                directive = try ConsentDirective(encoded: request.body)
            } catch {
                return json(400, ["code": "malformed", "message": "the body is not a consent directive: \(error)"])
            }
            do {
                // Answered once the next header carries the state with it: a query right after sees it.
                let (tx, inclusion) = try await chain.recordConsent(directive)
                return json(200, inclusionObject(tx, inclusion))
            } catch {
                return json(422, ["code": "refused", "message": "\(error)"])
            }
        case ("POST", "/check_consent"):
            let directive: ConsentDirective
            do throws(LedgerDecodingError) {
                directive = try ConsentDirective(encoded: request.body)
            } catch {
                return json(400, ["code": "malformed", "message": "the body is not a consent directive: \(error)"])
            }
            if let problem = await chain.consentProblem(directive) { return json(422, ["code": problem.code.rawValue, "message": problem.message]) }
            return json(200, ["ok": true])
        case ("GET", "/client"), ("GET", "/participant"): return await handleLedgerQuery(request, chain: chain)
        default:
            return json(404, ["code": "not-found", "message": "no \(request.method) \(request.path); try GET /status, POST /broadcast_tx, POST /submit_consent, POST /check_consent"])
        }
    }

    /// The status JSON of `GET /status` and `careledger node status --json` (docs/node.md): `chainId`, `height`,
    /// `blockId` (hex), `time` (ms), `appHash` (hex; `stateRoot` is the same value under its older key),
    /// `validators` and `nextValidators` (`[{publicKey (base64), power}]`, in key order), `mempool`.
    public static func statusObject(_ s: ChainStatus) -> [String: Any] {
        let root = Ledger.Hex.encode(s.stateRoot)
        return [
            "chainId": s.chainId,
            "height": s.height,
            "blockId": Ledger.Hex.encode(s.blockId),
            "time": s.time,
            "appHash": root,
            "stateRoot": root,
            "validators": validatorsArray(s.validators),
            "nextValidators": validatorsArray(s.nextValidators),
            "mempool": s.mempool,
        ]
    }

    static func validatorsArray(_ set: ValidatorSet) -> [[String: Any]] {
        set.validators.map { ["publicKey": Base64.encode($0.key.bytes), "power": $0.power] as [String: Any] }
    }

    static func inclusionObject(_ tx: Transaction, _ inclusion: Inclusion) -> [String: Any] {
        var o: [String: Any] = ["hash": Ledger.Hex.encode(tx.hash), "height": inclusion.height, "index": inclusion.index]
        if let code = inclusion.result.code {
            o["code"] = code.rawValue
            o["message"] = inclusion.result.message
        }
        return o
    }

    static func json(_ status: Int, _ object: [String: Any]) -> RPCResponse {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return RPCResponse.json(status, Array(data))
    }
}
