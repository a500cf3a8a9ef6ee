import Foundation
import Gateway
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import RecordStore
import Services
import TestSupport

/// A gateway over a fresh store of one kind, reached over real loopback HTTP (`testLive`'s client), and
/// the small client the record tests talk to it with. Bodies are read back with Foundation's JSON parser, not
/// CareLedger's, so the checks do not share the code they check.
enum RecordGateway {
    /// Runs `body` against a gateway (the standard concerns without authentication: every request is a local
    /// client's) over a new store of `kind`.
    static func run(_ kind: StoreKind, _ body: @escaping @Sendable (Client, any RecordStore) async throws -> Void) async throws {
        try await kind.withStore { store, _ in
            let app = try GatewayApplication.make(configuration: GatewayConfiguration(host: "127.0.0.1", port: 0),
                                                  dependencies: GatewayDependencies(store: store),
                                                  concerns: GatewayApplication.concerns(authentication: false))
            try await app.testLive { client in try await body(Client(client: client), store) }
        }
    }

    /// One HTTP exchange's result.
    struct Reply: Sendable {
        var status: Int
        var headers: HTTPFields
        var body: [UInt8]

        var text: String { String(decoding: body, as: UTF8.self) }
        func header(_ name: String) -> String? { headers.first { $0.name.canonicalName == name.lowercased() }?.value }
        /// The body as a JSON object (Foundation's parser); empty when it is not one.
        var json: [String: Any] {
            ((try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any]) ?? [:]
        }
        /// The first issue's `code` and `diagnostics` of an OperationOutcome body.
        var issue: (code: String, diagnostics: String)? {
            guard json["resourceType"] as? String == "OperationOutcome",
                  let first = (json["issue"] as? [[String: Any]])?.first else { return nil }
            return (first["code"] as? String ?? "", first["diagnostics"] as? String ?? "")
        }
    }

    struct Client: Sendable {
        let client: LiveClient

        func send(_ method: String, _ uri: String, headers: [String: String] = [:], body: [UInt8]? = nil) async throws -> Reply {
            var fields = HTTPFields()
            for (name, value) in headers.sorted(by: { $0.key < $1.key }) {
                if let field = HTTPField.Name(name) { fields.append(HTTPField(name: field, value: value)) }
            }
            let response = try await client.executeRequest(uri: uri, method: HTTPRequest.Method(method) ?? .get, headers: fields,
                                                           body: body.map { ByteBuffer(bytes: $0) })
            return Reply(status: Int(response.status.code), headers: response.headers,
                         body: Array(response.body.readableBytesView))
        }

        func get(_ uri: String, headers: [String: String] = [:]) async throws -> Reply {
            try await send("GET", uri, headers: headers)
        }

        /// POSTs or PUTs a JSON resource (a dictionary, or bytes as they are).
        func write(_ method: String, _ uri: String, json: [String: Any], headers: [String: String] = [:]) async throws -> Reply {
            var all = ["Content-Type": "application/fhir+json"]
            all.merge(headers) { $1 }
            return try await send(method, uri, headers: all, body: Array(try JSONSerialization.data(withJSONObject: json)))
        }
    }

    /// A file of the shared corpus as bytes.
    static func corpus(_ path: String) throws -> [UInt8] {
        Array(try Data(contentsOf: Repository.shared.appendingPathComponent("corpus/" + path)))
    }

    /// A file of the shared corpus as a JSON object.
    static func corpusJSON(_ path: String) throws -> [String: Any] {
        (try JSONSerialization.jsonObject(with: Data(corpus(path))) as? [String: Any]) ?? [:]
    }

    /// The `/Type/id` path a `Location` header names (`{base}/Patient/1/_history/2` → `/Patient/1`), and its version.
    static func resourcePath(ofLocation location: String) -> (path: String, version: String)? {
        guard let range = location.range(of: "/_history/") else { return nil }
        let before = location[..<range.lowerBound]
        let parts = before.split(separator: "/")
        guard parts.count >= 2 else { return nil }
        return ("/\(parts[parts.count - 2])/\(parts[parts.count - 1])", String(location[range.upperBound...]))
    }
}
