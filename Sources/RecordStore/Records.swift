public import FHIRCore

/// A resource's identity in the store: its type and logical id.
public struct RecordKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var type: String
    public var id: String

    public init(type: String, id: String) {
        self.type = type
        self.id = id
    }

    public var description: String { "\(type)/\(id)" }

    public static func < (a: RecordKey, b: RecordKey) -> Bool { (a.type, a.id) < (b.type, b.id) }
}

/// A resource ready to be stored: it has its final id, the content hash that detects no-op re-imports, its
/// search-index rows and its patient compartment. It keeps the tape it was read from and the reference rewrites
/// to apply, so the served form is written straight from the tape (``VersionPlanner``).
public struct PreparedRecord: Sendable {
    public var key: RecordKey
    /// The resource as parsed (its references not yet rewritten, its server-assigned meta fields still in).
    public var tape: JSONTape
    /// `reference` strings to replace when the resource is written (``CanonicalEdits/references``).
    public var rewrites: [String: String]
    /// The canonical form of the resource as stored, without `meta.versionId` and `meta.lastUpdated`.
    public var contentCanonical: [UInt8]
    /// SHA-256 of `contentCanonical`.
    public var contentHash: [UInt8]
    public var index: [IndexEntry]
    /// The patient compartment the resource belongs to (`Patient/…`), or its own `Type/id` when it belongs to
    /// none (Organization, Practitioner…): the key a distributed PostgreSQL spreads the tables by.
    public var patientKey: String
    /// A precondition checked in the storing transaction: the version the resource must be at (0: it must not
    /// exist), or nil for none. A mismatch fails the whole unit with ``VersionConflict`` (FHIR's `If-Match`).
    public var expectedVersion: Int? = nil

    public init(resource: Resource) throws(FHIRError) {
        try self.init(tape: JSONTape(resource))
    }

    /// A record from the tape of a resource (a JSON object with a `resourceType`), with `rewrites` applied to its
    /// references.
    public init(tape: JSONTape, rewrites: [String: String] = [:]) throws(FHIRError) {
        try tape.requireResource()
        guard let type = tape.resourceType, let id = tape.stringMember("id", of: 0), !id.isEmpty else {
            throw FHIRError(.cardinality, "a resource must have an id before it is stored", at: SourceLocation(pointer: "/id"))
        }
        self.key = RecordKey(type: type, id: id)
        self.tape = tape
        self.rewrites = rewrites
        self.contentCanonical = try tape.canonicalBytes(CanonicalEdits(references: rewrites, dropServerMeta: true))
        self.contentHash = CanonicalForm.sha256(contentCanonical)
        self.index = SearchIndex.entries(for: tape, rewrites: rewrites)
        self.patientKey = SearchIndex.patientCompartment(of: tape, rewrites: rewrites) ?? key.description
    }

    /// The canonical form served for `version`: the content with the store's `meta.versionId` and
    /// `meta.lastUpdated`.
    public func servedCanonical(version: Int, lastUpdated: String) throws(FHIRError) -> [UInt8] {
        let meta = [("versionId", String(version)), ("lastUpdated", lastUpdated)]
        // Spliced into the content's canonical bytes; written from the tape only if the splice declines.
        if let spliced = CanonicalForm.splicingMeta(into: contentCanonical, meta) { return spliced }
        return try tape.canonicalBytes(CanonicalEdits(references: rewrites, dropServerMeta: true, addToMeta: meta))
    }
}

/// What storing one record did.
public enum RecordOutcome: Sendable, Hashable {
    /// A new resource: version 1.
    case created(RecordKey, version: Int)
    /// Changed content: a new version.
    case updated(RecordKey, version: Int)
    /// The same content as the current version: nothing written, nothing queued for anchoring.
    case unchanged(RecordKey, version: Int)

    public var key: RecordKey {
        switch self {
        case .created(let k, _), .updated(let k, _), .unchanged(let k, _): k
        }
    }
}

/// One record version as written: the served bytes and their commitment.
public struct VersionRow: Sendable {
    public var key: RecordKey
    public var version: Int
    /// `meta.lastUpdated` as served (an instant, UTC).
    public var lastUpdated: String
    public var contentHash: [UInt8]
    public var canonicalHash: [UInt8]
    public var salt: [UInt8]
    public var commitment: [UInt8]
    /// The canonical JSON of the served resource (docs/canonical-form.md): what is hashed and what is served.
    public var canonical: [UInt8]
    public var index: [IndexEntry]
    public var patientKey: String
    public var isUpdate: Bool
}

/// A stored record version as read back.
public struct StoredVersion: Sendable, Hashable {
    public var key: RecordKey
    public var version: Int
    public var txid: Int64
    public var lastUpdated: String
    public var contentHash: [UInt8]
    public var canonicalHash: [UInt8]
    public var salt: [UInt8]
    public var commitment: [UInt8]
    /// The served resource's canonical JSON.
    public var canonical: [UInt8]

    public init(key: RecordKey, version: Int, txid: Int64, lastUpdated: String, contentHash: [UInt8], canonicalHash: [UInt8], salt: [UInt8], commitment: [UInt8], canonical: [UInt8]) {
        self.key = key
        self.version = version
        self.txid = txid
        self.lastUpdated = lastUpdated
        self.contentHash = contentHash
        self.canonicalHash = canonicalHash
        self.salt = salt
        self.commitment = commitment
        self.canonical = canonical
    }
}

/// A rejected input unit, kept with what was wrong and where.
public struct DeadLetter: Sendable, Hashable {
    public var id: Int64
    public var batch: Int64?
    /// The file (or `-`) the unit came from.
    public var source: String
    /// Where in the source: `line 12`, `/entry/3/resource`, or empty for a whole file.
    public var location: String
    public var format: String
    public var raw: [UInt8]
    /// The OperationOutcome, as FHIR JSON.
    public var outcome: String
    public var createdAt: String
    /// Set once a retry stored the unit.
    public var resolvedAt: String?

    public init(id: Int64 = 0, batch: Int64?, source: String, location: String, format: String, raw: [UInt8], outcome: String, createdAt: String, resolvedAt: String? = nil) {
        self.id = id
        self.batch = batch
        self.source = source
        self.location = location
        self.format = format
        self.raw = raw
        self.outcome = outcome
        self.createdAt = createdAt
        self.resolvedAt = resolvedAt
    }
}

/// Counts an import batch records.
public struct BatchCounts: Sendable, Hashable {
    public var created = 0
    public var updated = 0
    public var unchanged = 0
    public var rejected = 0

    public init() {}
}
