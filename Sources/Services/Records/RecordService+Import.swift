public import Ingest
public import RecordStore

/// What importing a body did: each stored record's outcome in order, and each refused unit's dead letter with its
/// OperationOutcome (FHIR JSON).
public struct BodyImportResult: Sendable {
    public var outcomes: [RecordOutcome]
    public var rejected: [(deadLetter: Int64, outcome: String)]
    /// Conditional references that matched no stored resource (left as written).
    public var unresolvedReferences: Int
    /// HL7 v2 messages or C-CDA documents received before, not applied again.
    public var duplicates: Int
}

extension RecordService {
    /// Imports a body received over the network (`Content-Type` `mediaType`: FHIR JSON or XML resource or
    /// Bundle, or NDJSON) through exactly the pipeline `careledger import` runs on files (``Importer/importBody(_:format:source:)``).
    public func importBody(_ bytes: [UInt8], mediaType: String, source: String) async throws(ServiceError) -> BodyImportResult {
        guard let format = BodyFormat(mediaType: mediaType) else {
            throw ServiceError(.unsupportedMediaType, "'\(mediaType)' is not importable (FHIR JSON or XML, or NDJSON)")
        }
        return try await run("import the body") { () async throws -> BodyImportResult in
            let summary = try await importer.importBody(bytes, format: format, source: source)
            var rejected: [(deadLetter: Int64, outcome: String)] = []
            for id in summary.deadLetterIDs {
                rejected.append((id, try await store.deadLetter(id: id)?.outcome ?? ""))
            }
            return BodyImportResult(outcomes: summary.outcomes, rejected: rejected, unresolvedReferences: summary.unresolvedReferences,
                                    duplicates: summary.duplicates)
        }
    }
}
