import FHIRCore
import Foundation
import Ingest
import RecordStore
import TestSupport

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
