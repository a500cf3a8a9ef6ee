import Foundation

/// One file to import and how to read it.
public struct ImportFile: Sendable, Hashable {
    public enum Kind: String, Sendable {
        /// One FHIR JSON or XML document (a resource or a Bundle); the format is detected from the content.
        case document
        /// Newline-delimited JSON, one resource per line (FHIR Bulk Data).
        case ndjson
        /// Gzip-compressed NDJSON.
        case ndjsonGzip = "ndjson.gz"
        /// HL7 v2 messages (ER7): one, many, or batches; each message is converted through Mappings/hl7v2.
        case hl7v2
    }

    public var path: String
    public var kind: Kind
    public var size: Int
}

/// Finds the files an import covers and reads them.
public enum ImportFiles {
    /// Expands files and directories (recursively, hidden entries skipped) into the files to import, in a
    /// stable order: within a directory, bulk NDJSON files of resource types that others refer to
    /// (Organization, Location, Practitioner, …, Patient) come first, so conditional references resolve; then
    /// by name; Synthea's `hospitalInformation*` and `practitionerInformation*` Bundles come before everything. A
    /// named file is imported whatever its extension; in directories only known extensions are.
    public static func expand(_ paths: [String]) throws(ImportError) -> [ImportFile] {
        var out: [ImportFile] = []
        let fm = FileManager.default
        for path in paths {
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw ImportError("no such file or directory: \(path)")
            }
            if !isDirectory.boolValue {
                out.append(ImportFile(path: path, kind: kind(of: path) ?? .document, size: size(path)))
                continue
            }
            guard let walker = fm.enumerator(at: URL(fileURLWithPath: path), includingPropertiesForKeys: [.isRegularFileKey],
                                             options: [.skipsHiddenFiles]) else {
                throw ImportError("cannot read the directory \(path)")
            }
            var found: [ImportFile] = []
            for case let url as URL in walker {
                guard (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true, let k = kind(of: url.path) else { continue }
                // Synthea's bulk export log is not FHIR.
                if url.lastPathComponent == "log.ndjson" { continue }
                found.append(ImportFile(path: url.path, kind: k, size: size(url.path)))
            }
            found.sort { (rank($0.path), $0.path) < (rank($1.path), $1.path) }
            out += found
        }
        return out
    }

    /// Types that other resources refer to conditionally, imported first.
    static let referencedFirst = ["Organization", "Location", "Practitioner", "PractitionerRole", "Patient", "Device", "Medication"]

    /// Synthea writes the organizations and practitioners its patient Bundles refer to in files of their own.
    static let syntheaSharedPrefixes = ["hospitalInformation", "practitionerInformation"]

    static func rank(_ path: String) -> Int {
        let name = URL(fileURLWithPath: path).lastPathComponent
        if let i = syntheaSharedPrefixes.firstIndex(where: { name.hasPrefix($0) }) { return i }
        let type = String(name.prefix { $0 != "." && $0 != "-" && $0 != "_" })
        return syntheaSharedPrefixes.count + (referencedFirst.firstIndex(of: type) ?? referencedFirst.count)
    }

    static func kind(of path: String) -> ImportFile.Kind? {
        let lower = path.lowercased()
        if lower.hasSuffix(".ndjson.gz") || lower.hasSuffix(".jsonl.gz") { return .ndjsonGzip }
        if lower.hasSuffix(".ndjson") || lower.hasSuffix(".jsonl") { return .ndjson }
        if lower.hasSuffix(".json") || lower.hasSuffix(".xml") { return .document }
        if lower.hasSuffix(".hl7") || lower.hasSuffix(".hl7v2") || lower.hasSuffix(".er7") { return .hl7v2 }
        return nil
    }

    static func size(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? 0
    }

    /// A document file's bytes, refusing more than `limit` bytes (NDJSON is streamed by ``LineReader``).
    public static func read(_ file: ImportFile, limit: Int) throws(ImportError) -> [UInt8] {
        guard file.size <= limit else { throw ImportError("\(file.path) is \(file.size) bytes; the limit for one document is \(limit)") }
        guard let data = FileManager.default.contents(atPath: file.path) else {
            throw ImportError("cannot read \(file.path)")
        }
        guard data.count <= limit else { throw ImportError("\(file.path) is \(data.count) bytes; the limit for one document is \(limit)") }
        return [UInt8](data)
    }
}

/// An import that cannot go on (a missing file, an unreachable store), as opposed to a rejected unit.
public struct ImportError: Error, Sendable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
