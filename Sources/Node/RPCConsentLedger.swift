import Foundation
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

    /// The JSON the two calls answer: a refusal's `code` and `message`, a commit's `height` and `index`.
    struct Answer: Decodable {
        var ok: Bool?
        var code: String?
        var message: String?
        var height: UInt64?
        var index: Int?
    }

    public func consentProblem(_ directive: ConsentDirective) async throws -> TransactionError? {
        let response = try await RPCClient.send(host: host, port: port, method: "POST", path: "/check_consent", body: directive.encoded)
        let answer = try decode(response, "/check_consent")
        if response.status == 200 && answer.ok == true { return nil }
        guard response.status == 422, let code = answer.code.flatMap(TransactionError.Code.init(rawValue:)) else { throw unexpected(response, "/check_consent") }
        return TransactionError(code, answer.message ?? "")
    }

    public func record(_ directive: ConsentDirective) async throws -> Inclusion {
        let response = try await RPCClient.send(host: host, port: port, method: "POST", path: "/submit_consent", body: directive.encoded)
        let answer = try decode(response, "/submit_consent")
        guard response.status == 200, let height = answer.height else { throw unexpected(response, "/submit_consent") }
        let code = answer.code.flatMap(TransactionError.Code.init(rawValue:))
        return Inclusion(height: height, index: answer.index ?? 0, result: TransactionResult(code: code, message: answer.message ?? ""))
    }

    func decode(_ response: RPCResponse, _ path: String) throws -> Answer {
        do {
            return try JSONDecoder().decode(Answer.self, from: Data(response.body))
        } catch {
            throw unexpected(response, path)
        }
    }

    func unexpected(_ response: RPCResponse, _ path: String) -> NodeError {
        NodeError("the node answered \(path) with \(response.status): \(String(decoding: response.body.prefix(500), as: UTF8.self))")
    }
}
