public import FHIRCore
import Foundation
import Ingest
import RecordStore

extension RecordService {
    /// FHIR update of `type/id` with `resource` (whose id must be `id`). Creates the resource when it is not
    /// stored (update as create) or was deleted. `ifMatch` (the version of `If-Match: W/"n"`) is checked in the
    /// storing transaction: another version is ``ServiceError/Code/preconditionFailed`` and nothing is written.
    /// Without it, concurrent updates are stored as successive versions.
    public func update(type: String, id: String, resource: Resource, ifMatch: Int? = nil) async throws(ServiceError) -> WriteOutcome {
        let key = try Self.key(type, id)
        try Self.requireType(resource, type)
        guard let bodyID = resource.id else {
            throw ServiceError(.invalidRequest, "the body of an update must carry the id \(id)")
        }
        guard bodyID == id else {
            throw ServiceError(.invalidRequest, "the body's id '\(bodyID)' is not the URL's '\(id)'")
        }
        _ = key
        return try await write(WriteMember(resource: resource), expectedVersion: ifMatch)
    }

    /// FHIR conditional update (`PUT type?criteria`): no match creates (with the body's id, or the assigned
    /// one), one match updates it (a body id must be that one), several are
    /// ``ServiceError/Code/preconditionFailed``.
    public func conditionalUpdate(type: String, criteria: String, resource: Resource, ifMatch: Int? = nil) async throws(ServiceError) -> WriteOutcome {
        try Self.requireType(resource, type)
        let parsed = try ConditionalCriteria(criteria)
        let ids = try await run("search for \(type)?\(criteria)") { try await parsed.matches(type: type, in: store) }
        switch ids.count {
        case 0:
            var r = resource
            if r.id == nil { r.id = try await run("assign an id") { try importer.assignedID(for: resource) } }
            return try await write(WriteMember(resource: r), expectedVersion: ifMatch)
        case 1:
            if let bodyID = resource.id, bodyID != ids[0] {
                throw ServiceError(.invalidRequest, "the body's id '\(bodyID)' is not the id the criteria match ('\(ids[0])')")
            }
            var r = resource
            r.id = ids[0]
            return try await write(WriteMember(resource: r), expectedVersion: ifMatch)
        default:
            throw ServiceError(.preconditionFailed, "the criteria \(criteria) match \(ids.count) \(type) resources")
        }
    }

    /// The version an `If-Match` header names (`W/"3"`, also `"3"` or `3`), or an invalid request.
    public static func version(ifMatch header: String) throws(ServiceError) -> Int {
        var text = header.trimmingCharacters(in: .whitespaces)
        if text.hasPrefix("W/") { text.removeFirst(2) }
        if text.hasPrefix("\""), text.hasSuffix("\""), text.count >= 2 { text = String(text.dropFirst().dropLast()) }
        guard let n = Int(text), n >= 1 else { throw ServiceError(.invalidRequest, "If-Match '\(header)' is not a version (W/\"n\")") }
        return n
    }
}
