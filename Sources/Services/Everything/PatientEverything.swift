public import FHIRCore
public import RecordStore
import Foundation

/// FHIR `Patient/{id}/$everything` (patient-operation-everything): the patient and every current resource in its
/// compartment, as the official CompartmentDefinition places resources there (``PatientCompartment``: per type,
/// the search parameters that reference the patient), read through the search engine one page at a time.
///
/// The answer's order is the Patient, then the compartment by type and id. A page ends at a resource, and the next
/// page starts after it (``EverythingCursor``): a keyset, like search's, so resources written while a client pages
/// are neither repeated nor skipped among those there at the first page, and no page costs more than the resources
/// it returns (each type's ids are asked for after the cursor, at most a page of them).
public struct PatientEverything: Sendable {
    public let store: any RecordStore

    public init(store: any RecordStore) {
        self.store = store
    }

    /// One page and where the next one starts (nil on the last page).
    public struct Page: Sendable {
        public var resources: [StoredResource]
        public var next: EverythingCursor?
    }

    /// Up to `count` resources of `request` after `cursor` (nil: from the start), and the cursor of the next page
    /// when more follow. 404 for an unknown patient, 410 for a deleted one, on every page.
    public func page(_ request: EverythingRequest, after cursor: EverythingCursor?, count: Int) async throws(ServiceError) -> Page {
        guard count >= 0 else { throw ServiceError(.invalidRequest, "_count must not be negative") }
        let patient = try await RecordService(store: store).read(type: "Patient", id: request.patientId)
        // One more than asked says whether a next page exists.
        let wanted = count + 1
        var out: [StoredResource] = []
        if cursor == nil, request.includes("Patient"), request.isCurrent(patient) { out.append(patient) }
        let reference = "Patient/\(request.patientId)"
        for type in PatientCompartment.types where type != "Patient" && request.includes(type) {
            guard out.count < wanted else { break }
            // Types before the cursor's were returned on earlier pages; the cursor's type goes on after its id.
            var after: String?
            if let cursor, cursor.type != "Patient" {
                guard type >= cursor.type else { continue }
                if type == cursor.type { after = cursor.id }
            }
            out += try await members(of: type, in: reference, after: after, since: request.since, limit: wanted - out.count)
        }
        guard out.count > count else { return Page(resources: out, next: nil) }
        let kept = Array(out.prefix(count))
        return Page(resources: kept, next: kept.last.map { EverythingCursor(type: $0.type, id: $0.id) })
    }

    /// The number of resources `request` answers with over all its pages (`_summary=count`, `_count=0`): the
    /// operation's own pages at the largest size, so that it counts exactly what paging would return, each resource
    /// once however many of its references name the patient. 404 and 410 as ``page(_:after:count:)``.
    public func count(_ request: EverythingRequest) async throws(ServiceError) -> Int {
        var total = 0
        var cursor: EverythingCursor?
        repeat {
            let found = try await page(request, after: cursor, count: SearchRequest.maxCount)
            total += found.resources.count
            cursor = found.next
        } while cursor != nil
        return total
    }

    /// The first `limit` resources of `type` (by id, after `after`) that reference the patient through any of the
    /// type's compartment parameters: each parameter's first `limit` ids, merged. Deletes have no index rows, so
    /// none is listed.
    func members(of type: String, in reference: String, after: String?, since: SearchValue?, limit: Int) async throws(ServiceError) -> [StoredResource] {
        var found: [String: StoredResource] = [:]
        for member in PatientCompartment.members(of: type) {
            var clauses = [SearchClause(code: member.param, type: .reference, values: [SearchValue(text: reference)])]
            if let since { clauses.append(SearchClause(code: "_lastUpdated", type: .date, values: [since])) }
            let query = SearchQuery(type: type, clauses: clauses, count: limit,
                                    cursor: after.map { SearchCursor(keys: [], id: $0) })
            let page: SearchPage
            do {
                page = try await store.search(query)
            } catch {
                throw ServiceError(.unavailable, "the record store failed to list \(type) of \(reference): \(error)")
            }
            for version in page.matches where found[version.key.id] == nil && !version.isDeleted {
                found[version.key.id] = StoredResource(version)
            }
        }
        return found.keys.sorted().prefix(limit).compactMap { found[$0] }
    }
}

/// What a `$everything` asks for: the patient, `_type` and `_since` (patient-operation-everything).
public struct EverythingRequest: Sendable, Hashable {
    public var patientId: String
    /// `_type`: the resource types to return; nil for every type (the Patient included).
    public var types: Set<String>?
    /// `_since` as given (a FHIR instant): only resources last updated at or after it.
    public var sinceText: String?
    /// `_since` as the `ge` value of a `_lastUpdated` search clause.
    var since: SearchValue?

    /// Reads the parameters. `types` holds each `_type` value (each may list several types, comma-separated); an
    /// unknown resource type or a `_since` that is not an instant is a 400.
    public init(patientId: String, types: [String] = [], since: String? = nil) throws(ServiceError) {
        self.patientId = patientId
        var wanted: Set<String>?
        for list in types {
            for name in list.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !name.isEmpty {
                guard TypeTable.r4.resourceTypeNames.contains(name) else {
                    throw ServiceError(.invalidRequest, "_type: '\(name.prefix(64))' is not a FHIR R4 resource type")
                }
                wanted = (wanted ?? []).union([name])
            }
        }
        self.types = wanted
        if let since {
            guard RecordService.instant(since) != nil, let value = try? SearchValue.parse("ge" + since, type: .date) else {
                throw ServiceError(.invalidRequest, "_since '\(since.prefix(64))' is not a FHIR instant (e.g. 2026-12-07T10:00:00Z)")
            }
            self.sinceText = since
            self.since = value
        }
    }

    /// Whether resources of `type` are asked for.
    public func includes(_ type: String) -> Bool { types?.contains(type) ?? true }

    /// Whether `resource` was last updated at or after `_since` (always, without it).
    func isCurrent(_ resource: StoredResource) -> Bool {
        guard let sinceText, let since = RecordService.instant(sinceText) else { return true }
        guard let updated = RecordService.instant(resource.lastUpdated) else { return true }
        return updated >= since
    }
}

/// Where a `$everything` page ended: the last resource it returned. The gateway hands it out sealed
/// (``CursorSeal``), so a client can neither read nor forge it.
public struct EverythingCursor: Sendable, Hashable, LosslessStringConvertible {
    public var type: String
    public var id: String

    public init(type: String, id: String) {
        self.type = type
        self.id = id
    }

    /// `Type/id`.
    public var description: String { "\(type)/\(id)" }

    /// Reads ``description``; nil unless it is a resource type and an id.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, TypeTable.r4.resourceTypeNames.contains(String(parts[0])), !parts[1].isEmpty, parts[1].utf8.count <= 64 else {
            return nil
        }
        self.init(type: String(parts[0]), id: String(parts[1]))
    }
}
