import FHIRCore
import Foundation
import Ingest
import RecordStore
import TestSupport

/// The two record stores the conformance suite runs against.
enum StoreKind: String, CaseIterable, Sendable, CustomStringConvertible {
    case sqlite
    case postgres

    var description: String { rawValue }

    /// Runs `body` with a fresh, migrated store of this kind (a temp SQLite file, or a new database on the
    /// shared throwaway PostgreSQL 15 server) and its `--store` URL; cleans up afterwards.
    func withStore<T>(_ body: (any RecordStore, String) async throws -> T) async throws -> T {
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

/// ../shared next to the repository.
enum SharedData {
    static let shared = Repository.shared
    static let syntheaBundles = shared.appendingPathComponent("corpus/synthea/bundles").path
    static let syntheaBulk = shared.appendingPathComponent("corpus/synthea/bulk-ndjson").path

    /// Distinct (type, id) pairs of the Synthea bundles' entries and of the bulk NDJSON lines, read with
    /// Foundation's JSON parser (independently of CareLedger's reader).
    static func expectedKeys(bundles: Bool, bulk: Bool) throws -> Set<String> {
        var keys = Set<String>()
        let fm = FileManager.default
        if bundles {
            for name in try fm.contentsOfDirectory(atPath: syntheaBundles) where name.hasSuffix(".json") {
                let data = try Data(contentsOf: URL(fileURLWithPath: syntheaBundles + "/" + name))
                let bundle = try JSONSerialization.jsonObject(with: data) as? [String: Any]
                for entry in bundle?["entry"] as? [[String: Any]] ?? [] {
                    if let r = entry["resource"] as? [String: Any], let t = r["resourceType"] as? String, let id = r["id"] as? String {
                        keys.insert("\(t)/\(id)")
                    }
                }
            }
        }
        if bulk {
            for name in try fm.contentsOfDirectory(atPath: syntheaBulk) where name.hasSuffix(".ndjson") && name != "log.ndjson" {
                let data = try Data(contentsOf: URL(fileURLWithPath: syntheaBulk + "/" + name))
                for line in data.split(separator: 0x0A) where !line.isEmpty {
                    let r = try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any]
                    if let t = r?["resourceType"] as? String, let id = r?["id"] as? String { keys.insert("\(t)/\(id)") }
                }
            }
        }
        return keys
    }

    /// Writes `text` to a new temp file with the given name and returns its path.
    static func tempFile(_ name: String, _ bytes: [UInt8]) throws -> String {
        let path = try Repository.temporaryDirectory("careledger-input").appendingPathComponent(name).path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }
}
