public import Foundation

/// History across resources and types, and logical deletes: the part of ``RecordStore`` behind FHIR's history
/// and delete interactions.
///
/// A delete is a version like any other (a tombstone, see ``PreparedRecord/tombstone(for:patientKey:)``), so
/// history keeps it, the anchoring queue anchors it, and reading the resource afterwards finds the tombstone.
public protocol RecordHistory: Sendable {
    /// One page of versions in `query.scope`, newest first, ordered by (txid, type, id, version) descending.
    /// Paging is keyset paging on that order (``HistoryCursor``): versions written after the first page have
    /// higher txids and never shift a later page, so each version is seen at most once while paging.
    func history(_ query: HistoryQuery) async throws -> HistoryPage
    /// The stored versions among `versions` (in one round trip where the store has round trips), in no particular
    /// order: what a write answers with after its unit is stored.
    func versions(_ versions: [(key: RecordKey, version: Int)]) async throws -> [StoredVersion]
}

/// Which versions a history lists: of one resource, of one type, or of the whole store.
public enum HistoryScope: Sendable, Hashable {
    case instance(RecordKey)
    case type(String)
    case system
}

/// A history request: scope, `_since`, page size and where the previous page stopped.
public struct HistoryQuery: Sendable, Hashable {
    public var scope: HistoryScope
    /// Only versions whose `lastUpdated` is at or after this instant (FHIR `_since`).
    public var since: Date?
    /// The page size (FHIR `_count`), at least 1.
    public var count: Int
    /// The last version of the previous page; nil for the first page.
    public var after: HistoryCursor?

    public init(scope: HistoryScope, since: Date? = nil, count: Int, after: HistoryCursor? = nil) {
        self.scope = scope
        self.since = since
        self.count = max(1, count)
        self.after = after
    }
}

/// A position in history order: a version's (txid, type, id, version). The next page starts below it.
public struct HistoryCursor: Sendable, Hashable, CustomStringConvertible {
    public var txid: Int64
    public var key: RecordKey
    public var version: Int

    public init(txid: Int64, key: RecordKey, version: Int) {
        self.txid = txid
        self.key = key
        self.version = version
    }

    public init(_ version: StoredVersion) {
        self.init(txid: version.txid, key: version.key, version: version.version)
    }

    /// `txid~type~id~version`: `~` appears in neither FHIR types nor ids and needs no escaping in a URL.
    public var description: String { "\(txid)~\(key.type)~\(key.id)~\(version)" }

    /// Reads ``description``; nil when `token` is not one.
    public init?(token: String) {
        let parts = token.split(separator: "~", omittingEmptySubsequences: false)
        guard parts.count == 4, let txid = Int64(parts[0]), let version = Int(parts[3]), !parts[1].isEmpty, !parts[2].isEmpty,
              parts[1].count <= 64, parts[2].count <= 64 else { return nil }
        self.init(txid: txid, key: RecordKey(type: String(parts[1]), id: String(parts[2])), version: version)
    }
}

/// One page of history and where the next one starts (nil on the last page).
public struct HistoryPage: Sendable {
    public var versions: [StoredVersion]
    public var next: HistoryCursor?

    public init(versions: [StoredVersion], next: HistoryCursor?) {
        self.versions = versions
        self.next = next
    }
}

extension RecordHistory {
    /// Stores that keep no versions (the import benchmark's planning-only store) have no history to list.
    public func history(_ query: HistoryQuery) async throws -> HistoryPage {
        throw StoreError("listing history", "this store keeps no versions")
    }

    public func versions(_ versions: [(key: RecordKey, version: Int)]) async throws -> [StoredVersion] {
        throw StoreError("reading versions", "this store keeps no versions")
    }
}
