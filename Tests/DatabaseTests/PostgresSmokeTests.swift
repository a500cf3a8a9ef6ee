import Foundation
import PostgresNIO
import TestSupport
import Testing

/// Smoke tests against a real PostgreSQL 15 server started by `TestSupport.PostgresServer`.
@Suite("PostgreSQL smoke tests", .timeLimit(.minutes(2)))
struct PostgresSmokeTests {
    @Test func versionJsonbRoundTripWithBoundParameters() async throws {
        try await PostgresServer.withSharedTestDatabase { database in
            try await database.withClient { client in
                var version: String?
                for try await (text) in try await client.query("SELECT version()").decode(String.self) {
                    version = text
                }
                let versionText = try #require(version)
                #expect(versionText.contains("PostgreSQL 15"), "server reported \(versionText)")

                try await client.query("CREATE TABLE records (id bigint PRIMARY KEY, doc jsonb NOT NULL)")

                let rows: [(id: Int64, doc: String)] = [
                    (1, #"{"x": 1.50, "name": "Ann"}"#),
                    (9_007_199_254_740_993, #"{"x":-0.000100,"name":"Bob","tags":["a","b"]}"#),
                ]
                for row in rows {
                    try await client.query("INSERT INTO records (id, doc) VALUES (\(row.id), \(row.doc)::jsonb)")
                }

                var read: [(Int64, String, String?, String?)] = []
                let result = try await client.query(
                    "SELECT id, doc::text, doc->>'x', doc->>'name' FROM records ORDER BY id"
                )
                for try await row in result.decode((Int64, String, String?, String?).self) {
                    read.append(row)
                }

                try #require(read.count == 2)
                #expect(read[0].0 == 1)
                // jsonb keeps the numeric lexeme's scale: 1.50 stays 1.50, not 1.5.
                #expect(read[0].2 == "1.50")
                #expect(read[0].3 == "Ann")
                // jsonb orders keys by length, then bytes, and normalises whitespace.
                #expect(read[0].1 == #"{"x": 1.50, "name": "Ann"}"#)

                // An id beyond 2^53 survives as a bigint.
                #expect(read[1].0 == 9_007_199_254_740_993)
                #expect(read[1].2 == "-0.000100")
                #expect(read[1].3 == "Bob")
                #expect(read[1].1 == #"{"x": -0.000100, "name": "Bob", "tags": ["a", "b"]}"#)

                // A bound parameter in a WHERE clause finds exactly one row.
                var matched: [Int64] = []
                let byName = try await client.query("SELECT id FROM records WHERE doc->>'name' = \("Bob")")
                for try await id in byName.decode(Int64.self) {
                    matched.append(id)
                }
                #expect(matched == [9_007_199_254_740_993])
            }
        }
    }

    @Test func testsGetSeparateDatabasesOnOneSharedServer() async throws {
        let server = try await PostgresServer.shared()
        let again = try await PostgresServer.shared()
        #expect(server === again, "shared() must start the server only once")

        let first = try await server.createDatabase()
        let second = try await server.createDatabase()
        #expect(first.name != second.name)
        #expect(first.name.hasPrefix("test_"))

        try await first.withClient { client in
            #expect(try await currentDatabase(client) == first.name)
            try await client.query("CREATE TABLE only_in_first (n int)")
            try await client.query("INSERT INTO only_in_first VALUES (\(42))")
        }
        try await second.withClient { client in
            #expect(try await currentDatabase(client) == second.name)
            var found: [String?] = []
            for try await name in try await client.query("SELECT to_regclass('only_in_first')::text").decode(String?.self) {
                found.append(name)
            }
            #expect(found == [nil], "a table made in \(first.name) must not be visible in \(second.name)")
        }

        try await first.drop()
        try await second.drop()
        try await server.withClient { client in
            var remaining: [String] = []
            let names = try await client.query(
                "SELECT datname::text FROM pg_database WHERE datname IN (\(first.name), \(second.name))"
            )
            for try await name in names.decode(String.self) {
                remaining.append(name)
            }
            #expect(remaining.isEmpty, "drop() left \(remaining)")
        }
    }

    @Test func privateServerIsStoppedAndRemovedAfterwards() async throws {
        let (base, port) = try await PostgresServer.withServer { server in
            #expect(FileManager.default.fileExists(atPath: server.dataDirectory + "/PG_VERSION"))
            #expect(FileManager.default.fileExists(atPath: server.unixSocketPath))
            let answer = try await PostgresServer.withClient(configuration: server.configuration) { client in
                var values: [Int32] = []
                for try await value in try await client.query("SELECT \(Int32(41)) + 1").decode(Int32.self) {
                    values.append(value)
                }
                return values
            }
            #expect(answer == [42])
            return (server.baseDirectory, server.port)
        }
        #expect(!FileManager.default.fileExists(atPath: base), "stop() must remove \(base)")
        #expect(port > 0)
    }

    @Test func missingBinariesGiveAnErrorThatSaysHowToInstallThem() async throws {
        let error = await #expect(throws: PostgresServerError.self) {
            try await PostgresBinaries.locate(environment: ["CARELEDGER_PG_BINDIR": "/nonexistent/pg/bin"])
        }
        let text = error.map { String(describing: $0) } ?? ""
        #expect(text.contains("/nonexistent/pg/bin"))
        #expect(text.contains("initdb"))
        #expect(text.contains("apt-get install -y postgresql-15"))
    }

    private func currentDatabase(_ client: PostgresClient) async throws -> String? {
        var name: String?
        for try await value in try await client.query("SELECT current_database()::text").decode(String.self) {
            name = value
        }
        return name
    }
}
