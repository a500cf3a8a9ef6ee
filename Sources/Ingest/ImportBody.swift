import FHIRCore
import Foundation
import RecordStore

/// How a body to import is written, from its media type (HTTP `Content-Type`, without parameters).
public enum BodyFormat: String, Sendable, Hashable, CaseIterable {
    /// One FHIR resource or Bundle, JSON or XML (a C-CDA document is recognized by its root, as in a file).
    case document
    /// Bulk Data NDJSON: one resource per line.
    case ndjson

    /// The format for a media type, or nil for one CareLedger does not import.
    public init?(mediaType: String) {
        let type = mediaType.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        switch type {
        case "application/fhir+json", "application/json", "application/json+fhir", "application/fhir+xml", "application/xml",
             "application/xml+fhir", "text/xml":
            self = .document
        case "application/fhir+ndjson", "application/ndjson", "application/x-ndjson":
            self = .ndjson
        default:
            return nil
        }
    }
}

extension Importer {
    /// Imports one body received over the network exactly as a file of that format is imported (validated,
    /// identified, references rewritten, stored, versioned, queued for anchoring; refused units become dead
    /// letters), as one import batch named `source`. The summary keeps every stored record's outcome in order.
    public func importBody(_ bytes: [UInt8], format: BodyFormat, source: String) async throws -> ImportSummary {
        var summary = ImportSummary()
        summary.keepsOutcomes = true
        summary.files = 1
        summary.bytes = bytes.count
        let batch = try await store.beginBatch(source: source, format: format.rawValue)
        switch format {
        case .document:
            if bytes.count > limits.maxDocumentBytes {
                let error = FHIRError(.tooLarge, "the body is \(bytes.count) bytes; the limit is \(limits.maxDocumentBytes) bytes")
                try await reject(raw: [], source: source, location: "", format: "unknown", outcome: OperationOutcome(error: error), batch: batch,
                                 into: &summary)
            } else {
                try await importDocument(bytes, source: source, batch: batch, into: &summary)
            }
        case .ndjson:
            try await importNDJSON(LineReader(bytes: bytes, maxLine: limits.maxDocumentBytes), source: source, batch: batch, into: &summary) { _ in }
        }
        try await finish(batch, summary)
        return summary
    }
}
