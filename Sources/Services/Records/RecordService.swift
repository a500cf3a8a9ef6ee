public import FHIRCore
public import Ingest
public import RecordStore

/// The record use cases under FHIR REST and the command line (issue 17): import of a body, read, vread,
/// history, create, update (also conditional and as create), logical delete, JSON Patch, transaction and batch
/// Bundles. Every write goes through the import pipeline (``Importer``): validated, identified, references
/// rewritten, stored as a version and queued for anchoring like any imported record.
public struct RecordService: Sendable {
    public let store: any RecordStore
    /// The import pipeline the writes run through (its `source` names the writer for ids it assigns).
    public var importer: Importer
    /// The largest history page (`_count` above it is lowered to it).
    public var maxPageSize = 1000
    /// The history page size without `_count`.
    public var defaultPageSize = 50

    public init(importer: Importer) {
        self.store = importer.store
        self.importer = importer
    }

    public init(store: any RecordStore, source: String = "careledger-gateway", limits: FHIRLimits = .default) {
        self.init(importer: Importer(store: store, source: source, limits: limits))
    }

    /// Runs a step, turning what it throws into ``ServiceError``: version conflicts are 412, refusals of the
    /// pipeline 422 with their issues, anything else from the store an unavailable store.
    func run<T>(_ what: String, _ body: () async throws -> T) async throws(ServiceError) -> T {
        do {
            return try await body()
        } catch {
            throw Self.serviceError(error, what)
        }
    }

    static func serviceError(_ error: any Error, _ what: String) -> ServiceError {
        if let e = error as? ServiceError { return e }
        if let conflict = VersionConflict.find(in: error) { return ServiceError(.preconditionFailed, conflict.description) }
        if let rejection = error as? RecordRejection {
            return ServiceError(.unprocessable, "\(what): \(rejection.description)", issues: rejection.issues)
        }
        if let fhir = error as? FHIRError { return ServiceError(fhir) }
        if let search = error as? SearchFailure { return ServiceError(.invalidRequest, "\(what): \(search.description)") }
        return ServiceError(.unavailable, "the record store failed to \(what): \(error)")
    }

    /// The key of a URL's type and id, refusing ones that cannot name a stored resource.
    static func key(_ type: String, _ id: String) throws(ServiceError) -> RecordKey {
        guard !type.isEmpty, type.count <= 64, type.allSatisfy({ $0.isASCII && $0.isLetter }), type.first?.isUppercase == true else {
            throw ServiceError(.invalidRequest, "'\(type)' is not a FHIR resource type")
        }
        guard !id.isEmpty, id.utf8.count <= 64, id.utf8.allSatisfy({ Self.idBytes.contains($0) }) else {
            throw ServiceError(.invalidRequest, "'\(id)' is not a FHIR id (1–64 of A–Z a–z 0–9 - .)")
        }
        return RecordKey(type: type, id: id)
    }

    private static let idBytes = Set(Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.".utf8))
}
