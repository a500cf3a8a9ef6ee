import CZlib
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
    /// by name. A named file is imported whatever its extension; in directories only known extensions are.
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

    static func rank(_ path: String) -> Int {
        let name = URL(fileURLWithPath: path).lastPathComponent
        let type = String(name.prefix { $0 != "." && $0 != "-" && $0 != "_" })
        return referencedFirst.firstIndex(of: type) ?? referencedFirst.count
    }

    static func kind(of path: String) -> ImportFile.Kind? {
        let lower = path.lowercased()
        if lower.hasSuffix(".ndjson.gz") || lower.hasSuffix(".jsonl.gz") { return .ndjsonGzip }
        if lower.hasSuffix(".ndjson") || lower.hasSuffix(".jsonl") { return .ndjson }
        if lower.hasSuffix(".json") || lower.hasSuffix(".xml") { return .document }
        return nil
    }

    static func size(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? 0
    }

    /// The file's bytes (decompressed for `.gz`), refusing more than `limit` bytes.
    public static func read(_ file: ImportFile, limit: Int) throws(ImportError) -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: file.path) else {
            throw ImportError("cannot read \(file.path)")
        }
        if file.kind == .ndjsonGzip { return try gunzip([UInt8](data), limit: limit, name: file.path) }
        guard data.count <= limit else { throw ImportError("\(file.path) is \(data.count) bytes; the limit is \(limit)") }
        return [UInt8](data)
    }

    /// Decompresses gzip data (every member of a multi-member file).
    static func gunzip(_ input: [UInt8], limit: Int, name: String) throws(ImportError) -> [UInt8] {
        var stream = z_stream()
        guard inflateInit2_(&stream, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw ImportError("\(name): cannot start gzip decompression")
        }
        defer { inflateEnd(&stream) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 18)
        var failure: String?
        input.withUnsafeBufferPointer { inBuf in
            stream.next_in = UnsafeMutablePointer(mutating: inBuf.baseAddress)
            stream.avail_in = UInt32(inBuf.count)
            while true {
                let rc: Int32 = chunk.withUnsafeMutableBufferPointer { outBuf in
                    stream.next_out = outBuf.baseAddress
                    stream.avail_out = UInt32(outBuf.count)
                    return inflate(&stream, Z_NO_FLUSH)
                }
                let produced = chunk.count - Int(stream.avail_out)
                out.append(contentsOf: chunk[0..<produced])
                if out.count > limit { failure = "decompresses to more than \(limit) bytes"; return }
                if rc == Z_STREAM_END {
                    if stream.avail_in == 0 { return }
                    inflateReset(&stream)  // another gzip member follows
                    continue
                }
                if rc != Z_OK {
                    failure = rc == Z_BUF_ERROR ? "the gzip data is truncated" : "the gzip data is corrupt (zlib error \(rc))"
                    return
                }
            }
        }
        if let failure { throw ImportError("\(name): \(failure)") }
        return out
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
