public import Ledger

/// The running node as a ``ConsentLedger``: `POST /check_consent` and `POST /submit_consent` on its loopback RPC
/// (docs/node.md). The node signs the directive with its key.
public struct RPCConsentLedger: ConsentLedger {
    public let host: String
    public let port: Int

    public init(host: String = "127.0.0.1", port: Int) {
        self.host = host
        self.port = port
    }

    public func consentProblem(_ directive: ConsentDirective) async throws -> TransactionError? {
        let response = try await RPCClient.send(host: host, port: port, method: "POST", path: "/check_consent", body: directive.encoded)
        if response.status == 200, (try? RPCJSON.decode(ConsentCheckAnswer.self, from: response.body))?.ok == true { return nil }
        guard response.status == 422, let refusal = try? RPCJSON.decode(RPCRefusal.self, from: response.body),
              let code = TransactionError.Code(rawValue: refusal.code) else { throw unexpected(response, "/check_consent") }
        return TransactionError(code, refusal.message)
    }

    public func record(_ directive: ConsentDirective) async throws -> Inclusion {
        let response = try await RPCClient.send(host: host, port: port, method: "POST", path: "/submit_consent", body: directive.encoded)
        guard response.status == 200, let answer = try? RPCJSON.decode(InclusionAnswer.self, from: response.body) else {
            throw unexpected(response, "/submit_consent")
        }
        let code = answer.code.flatMap(TransactionError.Code.init(rawValue:))
        return Inclusion(height: answer.height, index: answer.index, result: TransactionResult(code: code, message: answer.message ?? ""))
    }

    func unexpected(_ response: RPCResponse, _ path: String) -> NodeError {
        NodeError("the node answered \(path) with \(response.status): \(String(decoding: response.body.prefix(500), as: UTF8.self))")
    }
}
