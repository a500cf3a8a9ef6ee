import Foundation
import Gateway
import Hummingbird
import HummingbirdTesting
import Node
import RecordStore
import Services
import TestSupport
import Testing

/// The paging cursors the gateway hands out are sealed (issue 17, Deliver 6): a search's or a history's `next` link
/// carries a cursor that names no row (the store's own cursor is readable base64 of the last row's sort key and id),
/// that pages on when followed as given, and that is a 400 OperationOutcome when altered or sealed by another gateway.
/// Over real loopback HTTP on SQLite and PostgreSQL; the key is the node home's, shared by its gateway processes.
@Suite("Gateway sealed paging cursors", .timeLimit(.minutes(3)))
struct SealedCursorTests {
    /// The `_cursor` value of a `next` link.
    static func cursor(_ reply: RecordGateway.Reply) -> String? {
        let links = reply.json["link"] as? [[String: Any]] ?? []
        guard let next = links.first(where: { $0["relation"] as? String == "next" })?["url"] as? String,
              let query = URLComponents(string: next)?.queryItems else { return nil }
        return query.first { $0.name == "_cursor" }?.value
    }

    /// What a cursor's characters say when read as base64 (standard or URL-safe), as a client could try.
    static func readable(_ cursor: String) -> String {
        var standard = cursor.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        standard += String(repeating: "=", count: (4 - standard.count % 4) % 4)
        return Data(base64Encoded: standard).map { String(decoding: $0, as: UTF8.self) } ?? cursor
    }

    static func ids(_ reply: RecordGateway.Reply) -> [String] {
        (reply.json["entry"] as? [[String: Any]] ?? []).compactMap { ($0["resource"] as? [String: Any])?["id"] as? String }
    }

    @Test(arguments: StoreKind.allCases)
    func cursorsAreSealedAndOnlyThisGatewaysOpen(kind: StoreKind) async throws {
        try await RecordGateway.run(kind) { client, store in
            for id in ["sealed-a", "sealed-b", "sealed-c"] {
                let observation: [String: Any] = ["resourceType": "Observation", "id": id, "status": "final", "code": ["text": "pulse"]]
                #expect(try await client.write("PUT", "/Observation/\(id)", json: observation).status == 201)
            }
            // A second gateway over the same store, with its own cursor key (as another node's gateway would have).
            let other = try GatewayApplication.make(configuration: GatewayConfiguration(host: "127.0.0.1", port: 0),
                                                    dependencies: GatewayDependencies(store: store),
                                                    concerns: GatewayApplication.concerns(authentication: false))
            let foreign = try await other.testLive { live in
                try #require(Self.cursor(try await RecordGateway.Client(client: live).get("/Observation?_sort=_id&_count=1")))
            }
            for (path, first) in [("/Observation?_sort=_id&_count=1", "sealed-a"), ("/Observation/_history?_count=1", "sealed-c")] {
                let page = try await client.get(path)
                #expect(page.status == 200 && Self.ids(page) == [first], "\(path)")
                let cursor = try #require(Self.cursor(page), "\(path)")
                #expect(!Self.readable(cursor).contains(first), "\(path): the cursor names no row")
                let base = path.split(separator: "?")[0]
                let next = try await client.get("\(base)?_count=1&_cursor=\(cursor)" + (path.contains("_sort") ? "&_sort=_id" : ""))
                #expect(next.status == 200 && Self.ids(next) == ["sealed-b"], "\(path): pages on")
                // One character changed (at the end or inside), another gateway's, or a readable one: not a cursor this gateway issued.
                let last = cursor.last == "A" ? "B" : "A"
                var middle = Array(cursor)
                middle[middle.count / 2] = middle[middle.count / 2] == "x" ? "y" : "x"
                for bad in [String(cursor.dropLast()) + last, String(middle), foreign, "eyJrIjoic2VhbGVkLWEifQ"] {
                    let refused = try await client.get("\(base)?_count=1&_cursor=\(bad)")
                    #expect(refused.status == 400, "\(path) with \(bad)")
                    #expect(refused.json["resourceType"] as? String == "OperationOutcome")
                }
            }
        }
    }

    @Test func everyGatewayProcessOfANodeOpensItsCursorsAndNoOtherNodes() throws {
        let folder = try Repository.temporaryDirectory("careledger-cursor-key")
        defer { try? FileManager.default.removeItem(at: folder) }
        var homes: [NodeHome] = []
        for name in ["a", "b"] {
            let home = NodeHome(folder.appendingPathComponent(name).path)
            _ = try home.initialize(chainId: "cursor-key", moniker: name, power: 10, genesisTime: Date(timeIntervalSince1970: 1_700_000_000))
            homes.append(home)
        }
        let sealed = try CursorSeal(key: CursorSeal.key(home: homes[0])).seal("2026-12-07T10:00:00Z|Observation/o1")
        // Another process on the same home derives the same key.
        #expect(try CursorSeal(key: CursorSeal.key(home: homes[0])).open(sealed) == "2026-12-07T10:00:00Z|Observation/o1")
        #expect(throws: ServiceError.self) { try CursorSeal(key: CursorSeal.key(home: homes[1])).open(sealed) }
        // The access-token key of the same home does not open it either: the cursor key is its own.
        #expect(throws: ServiceError.self) { try CursorSeal(key: AccessTokenCodec.key(home: homes[0])).open(sealed) }
    }
}
