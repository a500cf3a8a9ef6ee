public import PostgresNIO
import Foundation

/// A database of its own for one test, on a (usually shared) throwaway server.
public struct PostgresTestDatabase: Sendable {
    /// The database name: `test_` and 16 random hex digits unless chosen by the caller.
    public let name: String
    public let server: PostgresServer

    /// A PostgresNIO client configuration for this database (TCP to 127.0.0.1, TLS disabled).
    public var configuration: PostgresClient.Configuration { server.configuration(database: name) }
    /// `postgres://user@host:port/name`, the form `careledger --store` takes.
    public var url: String { "postgres://\(server.user)@\(server.host):\(server.port)/\(name)" }

    /// Runs `body` with a running `PostgresClient` connected to this database.
    public func withClient<T>(
        isolation: isolated (any Actor)? = #isolation,
        _ body: (PostgresClient) async throws -> T
    ) async throws -> T {
        try await PostgresServer.withClient(configuration: configuration, body)
    }

    /// Drops the database, disconnecting whoever is still connected to it.
    public func drop() async throws {
        try await server.dropDatabase(named: name)
    }
}

extension PostgresServer {
    /// Creates a new, empty database (`CREATE DATABASE test_<random>`) and returns it.
    ///
    /// - Parameter name: the name to use instead of a random one: lowercase letters, digits and `_`, at most 63
    ///   bytes, not starting with a digit.
    public func createDatabase(named name: String? = nil) async throws -> PostgresTestDatabase {
        let name = try name.map(Self.checkedName) ?? Self.randomDatabaseName()
        try await PostgresServer.withClient(configuration: configuration) { client in
            _ = try await client.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \"\(name)\""))
        }
        return PostgresTestDatabase(name: name, server: self)
    }

    /// Drops database `name` if it exists, disconnecting whoever is still connected to it.
    public func dropDatabase(named name: String) async throws {
        let name = try Self.checkedName(name)
        try await PostgresServer.withClient(configuration: configuration) { client in
            _ = try await client.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \"\(name)\" WITH (FORCE)"))
        }
    }

    /// Creates a database of its own for `body` on this server and drops it afterwards, however `body` ends.
    public func withTestDatabase<T>(
        isolation: isolated (any Actor)? = #isolation,
        _ body: (PostgresTestDatabase) async throws -> T
    ) async throws -> T {
        let database = try await createDatabase()
        let result: T
        do {
            result = try await body(database)
        } catch {
            try? await database.drop()
            throw error
        }
        try await database.drop()
        return result
    }

    /// `withTestDatabase` on the process-wide shared server: the usual way for a test to get a database.
    public static func withSharedTestDatabase<T>(
        isolation: isolated (any Actor)? = #isolation,
        _ body: (PostgresTestDatabase) async throws -> T
    ) async throws -> T {
        let server = try await PostgresServer.shared()
        return try await server.withTestDatabase(body)
    }

    /// Runs `body` with a running `PostgresClient` connected to `database` (the maintenance database `postgres`
    /// when nil) on this server.
    public func withClient<T>(
        database: String? = nil,
        isolation: isolated (any Actor)? = #isolation,
        _ body: (PostgresClient) async throws -> T
    ) async throws -> T {
        try await PostgresServer.withClient(configuration: configuration(database: database ?? self.database), body)
    }

    /// Runs `body` with a `PostgresClient` for `configuration` whose `run()` goes on in a child task for the
    /// duration, and is cancelled (closing the client's connections) when `body` ends.
    public static func withClient<T>(
        configuration: PostgresClient.Configuration,
        isolation: isolated (any Actor)? = #isolation,
        _ body: (PostgresClient) async throws -> T
    ) async throws -> T {
        let client = PostgresClient(configuration: configuration)
        return try await withThrowingTaskGroup(of: Void.self, returning: T.self) { group in
            group.addTask {
                await client.run()
            }
            defer { group.cancelAll() }
            return try await body(client)
        }
    }

    static func randomDatabaseName() -> String {
        var generator = SystemRandomNumberGenerator()
        let digits = (0..<16).map { _ in String(generator.next(upperBound: UInt8(16)), radix: 16) }
        return "test_" + digits.joined()
    }

    static func checkedName(_ name: String) throws(PostgresServerError) -> String {
        let bytes = Array(name.utf8)
        let valid = !bytes.isEmpty && bytes.count <= 63
            && !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[0])
            && bytes.allSatisfy { byte in
                (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                    || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                    || byte == UInt8(ascii: "_")
            }
        guard valid else {
            throw PostgresServerError(
                "invalid test database name \(String(reflecting: name)): use lowercase letters, digits and _, "
                    + "at most 63 bytes, not starting with a digit"
            )
        }
        return name
    }
}
