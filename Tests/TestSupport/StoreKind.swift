public import RecordStore
import Foundation

/// The two record stores the store and node suites run against.
public enum StoreKind: String, CaseIterable, Sendable, CustomStringConvertible {
    case sqlite
    case postgres

    public var description: String { rawValue }

    /// Runs `body` with a fresh, migrated store of this kind (a temp SQLite file, or a new database on the
    /// shared throwaway PostgreSQL 15 server) and its `--store` URL; cleans up afterwards.
    public func withStore<T>(_ body: (any RecordStore, String) async throws -> T) async throws -> T {
        switch self {
        case .sqlite:
            let dir = try Repository.temporaryDirectory("careledger-store")
            defer { try? FileManager.default.removeItem(at: dir) }
            let url = "sqlite:" + dir.appendingPathComponent("store.sqlite").path
            let store = try await StoreLocation.open(url)
            do {
                let result = try await body(store, url)
                try await store.close()
                return result
            } catch {
                try? await store.close()
                throw error
            }
        case .postgres:
            return try await PostgresServer.withSharedTestDatabase { database in
                let store = try await StoreLocation.open(database.url)
                do {
                    let result = try await body(store, database.url)
                    try await store.close()
                    return result
                } catch {
                    try? await store.close()
                    throw error
                }
            }
        }
    }
}

