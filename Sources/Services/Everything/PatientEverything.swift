public import FHIRCore
public import RecordStore
import Foundation

/// FHIR `Patient/{id}/$everything` (patient-operation-everything): the patient, every current resource in its
/// compartment, as the official CompartmentDefinition places resources there (``PatientCompartment``: per type,
/// the search parameters that reference the patient), and the resources those reference that are in no patient's
/// compartment (the operation's "resources needed to support the records": the patient's Organization,
/// Practitioner, Location, Medication…), read through the search engine one page at a time.
///
/// Referenced resources (``Page/isIncluded(_:)``, `search.mode = include`) are found one level deep: every literal
/// relative reference (`Type/id`, `Type/id/_history/n`) anywhere in the Patient or a compartment resource whose
/// type is in no patient compartment, resolved in the store (a reference to nothing, or to a delete, adds
/// nothing). A type that is in the compartment is never added this way: a resource of another patient's
/// compartment is that patient's, and the compartment's own resources are listed already. `_type` restricts
/// them as every returned type; `_since` keeps those last updated at or after it, whatever their referrers' times
/// (so a periodic query also gets a changed Organization of an unchanged Encounter).
///
/// The answer's order is the Patient, the compartment by type and id, then the referenced resources by type and
/// id. A page ends at a resource, and the next page starts after it (``EverythingCursor``): a keyset, like search's,
/// so resources written while a client pages are neither repeated nor skipped among those there at the first page,
/// and no compartment page costs more than the resources it returns (each type's ids are asked for after the
/// cursor, at most a page of them). Compartment types and referenced types are disjoint, so the cursor's type says
/// which part a page resumes in. A page that reaches the referenced part gathers the references of the whole
/// compartment again (the set cannot be carried in a cursor): it costs one walk of the compartment, about what a
/// count costs (a partner's page costs one per fetch its filling makes there).
public struct PatientEverything: Sendable {
    public let store: any RecordStore

    public init(store: any RecordStore) {
        self.store = store
    }

    /// Whether a compartment resource's references may be followed: a partner's consent decision, so that nothing a
    /// withheld resource references can show (as a partner's `_include` follows only returned matches).
    public typealias ReferenceGate = @Sendable (StoredResource) async throws -> Bool

    /// One page and where the next one starts (nil on the last page).
    public struct Page: Sendable {
        public var resources: [StoredResource]
        public var next: EverythingCursor?

        /// Whether `resource` is in the answer as a referenced resource (`search.mode = include`) rather than as the
        /// Patient or a member of its compartment (`match`): its type is in no patient compartment.
        public static func isIncluded(_ resource: StoredResource) -> Bool { !PatientCompartment.contains(type: resource.type) }
    }

    /// Up to `count` resources of `request` after `cursor` (nil: from the start), and the cursor of the next page
    /// when more follow. 404 for an unknown patient, 410 for a deleted one, on every page. `gate` (nil: every one)
    /// says which compartment resources' references are followed.
    public func page(_ request: EverythingRequest, after cursor: EverythingCursor?, count: Int,
                     following gate: ReferenceGate? = nil) async throws(ServiceError) -> Page {
        guard count >= 0 else { throw ServiceError(.invalidRequest, "_count must not be negative") }
        let patient = try await RecordService(store: store).read(type: "Patient", id: request.patientId)
        // One more than asked says whether a next page exists.
        let wanted = count + 1
        var out: [StoredResource] = []
        let reference = "Patient/\(request.patientId)"
        // A cursor of a type outside the compartment was left in the referenced part: the compartment is done.
        let inCompartment = cursor.map { PatientCompartment.contains(type: $0.type) } ?? true
        if inCompartment {
            if cursor == nil, request.includes("Patient"), request.isCurrent(patient) { out.append(patient) }
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
        }
        if out.count < wanted, request.includesReferenced {
            out += try await referenced(request, patient: patient, after: inCompartment ? nil : cursor.map { RecordKey(type: $0.type, id: $0.id) },
                                        limit: wanted - out.count, gate: gate)
        }
        guard out.count > count else { return Page(resources: out, next: nil) }
        let kept = Array(out.prefix(count))
        return Page(resources: kept, next: kept.last.map { EverythingCursor(type: $0.type, id: $0.id) })
    }

    /// The number of matches `request` answers with over all its pages (`_summary=count`, `_count=0`): the
    /// operation's own pages at the largest size, so that it counts exactly what paging would return, each resource
    /// once however many of its references name the patient. Referenced resources are not counted (Bundle.total
    /// counts `match` entries, not `include`), so they are not even gathered. 404 and 410 as
    /// ``page(_:after:count:following:)``.
    public func count(_ request: EverythingRequest) async throws(ServiceError) -> Int {
        var request = request
        request.referencedResources = false
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

extension PatientEverything {
    /// Ids asked for in one `_id` search when resolving references.
    static let resolveBatch = 100

    /// The first `limit` referenced resources of `request` after `after` (nil: from the first), by type and id:
    /// ``referencedKeys(_:patient:gate:)`` resolved in the store, each current and not deleted, last updated at or
    /// after `_since`.
    func referenced(_ request: EverythingRequest, patient: StoredResource, after: RecordKey?, limit: Int,
                    gate: ReferenceGate?) async throws(ServiceError) -> [StoredResource] {
        var keys = try await referencedKeys(request, patient: patient, gate: gate)
        if let after { keys = keys.filter { $0 > after } }
        var out: [StoredResource] = []
        var byType: [(type: String, ids: [String])] = []
        for key in keys {
            if byType.last?.type == key.type { byType[byType.count - 1].ids.append(key.id) } else { byType.append((key.type, [key.id])) }
        }
        for (type, ids) in byType {
            var start = 0
            while start < ids.count, out.count < limit {
                let batch = Array(ids[start..<min(start + Self.resolveBatch, ids.count)])
                start += batch.count
                var clauses = [SearchClause(code: "_id", type: .token, values: batch.map { SearchValue(text: $0) })]
                if let since = request.since { clauses.append(SearchClause(code: "_lastUpdated", type: .date, values: [since])) }
                let found: SearchPage
                do {
                    found = try await store.search(SearchQuery(type: type, clauses: clauses, count: batch.count))
                } catch {
                    throw ServiceError(.unavailable, "the record store failed to read the \(type) resources Patient/\(request.patientId)'s records reference: \(error)")
                }
                // The search answers in id order, as the keys are.
                for version in found.matches where !version.isDeleted && out.count < limit {
                    out.append(StoredResource(version))
                }
            }
            guard out.count < limit else { break }
        }
        return out
    }

    /// Every resource key, sorted, that the Patient or a current member of its compartment references literally
    /// (``literalReferences(in:)``) and whose type is in no patient compartment and asked for by `_type`, over the
    /// whole compartment whatever `_type` and `_since` keep of it; only resources `gate` passes are followed.
    func referencedKeys(_ request: EverythingRequest, patient: StoredResource, gate: ReferenceGate?) async throws(ServiceError) -> [RecordKey] {
        var keys: Set<RecordKey> = []
        func follow(_ resource: StoredResource) async throws(ServiceError) {
            if let gate {
                let passes: Bool
                do {
                    passes = try await gate(resource)
                } catch let error as ServiceError {
                    throw error
                } catch {
                    throw ServiceError(.unavailable, "the decision on \(resource.type)/\(resource.id) failed: \(error)")
                }
                guard passes else { return }
            }
            for key in Self.literalReferences(in: resource.canonical)
            where !PatientCompartment.contains(type: key.type) && request.includes(key.type) {
                keys.insert(key)
            }
        }
        try await follow(patient)
        let reference = "Patient/\(request.patientId)"
        for type in PatientCompartment.types where type != "Patient" {
            var after: String?
            repeat {
                let batch = try await members(of: type, in: reference, after: after, since: nil, limit: SearchRequest.maxCount)
                for resource in batch { try await follow(resource) }
                after = batch.count == SearchRequest.maxCount ? batch.last?.id : nil
            } while after != nil
        }
        return keys.sorted()
    }

    /// The R4 resource type names, for checking references.
    static let resourceTypes = Set(TypeTable.r4.resourceTypeNames)

    /// The resources a stored resource's JSON references literally: each `reference` string member, anywhere in it
    /// (contained resources too), that is a relative `Type/id` or `Type/id/_history/n` of an R4 type and a FHIR id.
    /// Absolute URLs (another server's), contained (`#x`) and logical references name nothing in this store.
    static func literalReferences(in canonical: [UInt8]) -> Set<RecordKey> {
        guard let value = try? JSONReader().readValue(canonical) else { return [] }
        var out: Set<RecordKey> = []
        var pending: [FHIRValue] = [value]
        while let next = pending.popLast() {
            switch next {
            case .object(let object):
                for member in object.members {
                    if member.name == "reference", let text = member.value.stringValue, let key = relativeKey(text) {
                        out.insert(key)
                    } else {
                        pending.append(member.value)
                    }
                }
            case .array(let items):
                pending.append(contentsOf: items)
            default:
                break
            }
        }
        return out
    }

    /// `Type/id` of a relative literal reference (`Type/id`, `Type/id/_history/n`); nil for anything else.
    static func relativeKey(_ reference: String) -> RecordKey? {
        let parts = reference.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2 || (parts.count == 4 && parts[2] == "_history" && !parts[3].isEmpty) else { return nil }
        let type = String(parts[0]), id = parts[1]
        guard resourceTypes.contains(type), (1...64).contains(id.utf8.count),
              id.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x2D || $0 == 0x2E }) else {
            return nil
        }
        return RecordKey(type: type, id: String(id))
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
    /// Whether the resources the compartment references are added (``PatientEverything``); not for a count, which
    /// counts matches only.
    public var referencedResources = true

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

    /// Whether referenced resources are to be gathered: asked for, and `_type` (when given) names a type outside
    /// every patient compartment.
    var includesReferenced: Bool {
        referencedResources && (types.map { $0.contains { !PatientCompartment.contains(type: $0) } } ?? true)
    }

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
