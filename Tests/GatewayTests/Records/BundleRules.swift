import Foundation
import TestSupport

/// The R4 Bundle invariants that bind every Bundle the gateway writes (bundle.html; the constraints of
/// `../shared/fhir-r4-definitions/profiles-resources.json`, Bundle), checked on the JSON as a client receives it
/// (Foundation's parser). CareLedger's own validator checks structure only, not invariants, so these are checked
/// here, written from the FHIRPath expressions: bdl-1, bdl-2, bdl-3, bdl-4, bdl-5, bdl-7 and bdl-8 (bdl-9…12 are
/// for document and message Bundles, which the gateway does not write).
enum BundleRules {
    /// One sentence per broken rule, naming it and the entry.
    static func violations(_ bundle: [String: Any]) -> [String] {
        var out: [String] = []
        let type = bundle["type"] as? String ?? ""
        let entries = bundle["entry"] as? [[String: Any]] ?? []
        if bundle["total"] != nil && type != "searchset" && type != "history" { out.append("bdl-1: total in a \(type) Bundle") }
        var seen = Set<String>()
        for (i, entry) in entries.enumerated() {
            if entry["search"] != nil && type != "searchset" { out.append("bdl-2: entry \(i) has search in a \(type) Bundle") }
            let wantsRequest = ["batch", "transaction", "history"].contains(type)
            if (entry["request"] != nil) != wantsRequest {
                out.append("bdl-3: entry \(i) \(wantsRequest ? "lacks" : "has") request in a \(type) Bundle")
            }
            let wantsResponse = ["batch-response", "transaction-response", "history"].contains(type)
            if (entry["response"] != nil) != wantsResponse {
                out.append("bdl-4: entry \(i) \(wantsResponse ? "lacks" : "has") response in a \(type) Bundle")
            }
            if entry["resource"] == nil && entry["request"] == nil && entry["response"] == nil {
                out.append("bdl-5: entry \(i) has no resource, request or response")
            }
            if let fullUrl = entry["fullUrl"] as? String {
                if fullUrl.contains("/_history/") { out.append("bdl-8: entry \(i)'s fullUrl \(fullUrl) is version specific") }
                let version = ((entry["resource"] as? [String: Any])?["meta"] as? [String: Any])?["versionId"] as? String ?? ""
                if type != "history", !seen.insert(fullUrl + "|" + version).inserted {
                    out.append("bdl-7: entry \(i) repeats fullUrl \(fullUrl) with the same versionId")
                }
            }
        }
        return out
    }
}

/// The independent structural validator fhirkit-rs (PyPI), through `scripts/fhirkit_oracle.py`.
enum FHIRKitOracle {
    /// Whether python3 can import fhirkit (`pip install fhirkit-rs`).
    static let isAvailable: Bool = {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import fhirkit"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }()

    /// The locations fhirkit-rs reports as errors, per resource (a parse failure as one location `(unparseable)`).
    static func errors(_ resources: [[String: Any]]) throws -> [[String]] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", Repository.root.appendingPathComponent("scripts/fhirkit_oracle.py").path]
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        var ndjson = Data()
        for resource in resources {
            ndjson.append(try JSONSerialization.data(withJSONObject: resource))
            ndjson.append(0x0A)
        }
        try process.run()
        let writer = input.fileHandleForWriting
        let payload = ndjson
        let writing = Thread {
            try? writer.write(contentsOf: payload)
            try? writer.close()
        }
        writing.start()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self).split(separator: "\n").map { line in
            let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
            return object?["errors"] as? [String] ?? ["(unparseable)"]
        }
    }
}
