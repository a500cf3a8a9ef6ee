public import FHIRCore
public import RecordStore

/// One resource of a write received over FHIR REST (a create, an update, or an entry of a transaction or batch
/// Bundle), with its final id.
public struct WriteMember: Sendable {
    public var resource: Resource
    /// The entry's `fullUrl` in a Bundle, which other entries' references may name.
    public var fullUrl: String?
    /// The entry's index in its Bundle (0 for a single resource).
    public var entry: Int
    /// Where the resource is in the request (`/entry/3/resource`, or empty for a whole body): prefixed to the
    /// validator's pointers.
    public var pointer: String

    public init(resource: Resource, fullUrl: String? = nil, entry: Int = 0, pointer: String = "") {
        self.resource = resource
        self.fullUrl = fullUrl
        self.entry = entry
        self.pointer = pointer
    }
}

/// A write refused before anything was stored, with the FHIR issues saying what and where (the validator's, an
/// unresolved `urn:uuid:` reference's).
public struct RecordRejection: Error, Sendable, CustomStringConvertible {
    public var issues: [OperationOutcome.Issue]

    public init(issues: [OperationOutcome.Issue]) {
        self.issues = issues
    }

    public var description: String { issues.first?.diagnostics ?? "the resource was refused" }
}

extension Importer {
    /// The import pipeline's steps for resources written over FHIR REST, which the caller stores as one unit:
    /// each resource validated; `fullUrl`s (and `matched`, the fullUrls of conditional creates that found a
    /// stored resource) turned into `Type/id` in the others' references, refusing a `urn:uuid:` that names
    /// nothing; conditional references resolved; records prepared. Nothing is written and no dead letter made: a
    /// refusal is the caller's answer.
    public func prepareWrite(_ members: [WriteMember], matched: [String: String] = [:]) async throws -> [PreparedRecord] {
        let validator = Validator(limits: limits)
        var issues: [OperationOutcome.Issue] = []
        for m in members {
            for var issue in validator.validate(m.resource) where issue.isError {
                issue.location = issue.location.map { m.pointer + $0 }
                issues.append(issue)
            }
        }
        guard issues.isEmpty else { throw RecordRejection(issues: issues) }
        var fullURLs: [String: Int] = [:]
        for (i, m) in members.enumerated() { if let url = m.fullUrl { fullURLs[url] = i } }
        let resources = members.map(\.resource)
        var map = Self.entryRewrites(resources, fullURLs: fullURLs, matched: matched)
        let integrity = members.map { BundleIntegrity.Member(entry: $0.entry, fullUrl: $0.fullUrl, resource: $0.resource) }
        let dangling = BundleIntegrity.unresolvedURNs(integrity, resolved: map, refusedEntries: [:], cascade: false)
        guard dangling.isEmpty else { throw RecordRejection(issues: dangling.flatMap(\.issues)) }
        var summary = ImportSummary()
        let tapes = resources.map { JSONTape($0) }
        map.merge(try await conditionalRewrites(tapes, into: &summary)) { fullURL, _ in fullURL }
        do {
            return try tapes.map { t throws(FHIRError) in try PreparedRecord(tape: t, rewrites: map) }
        } catch {
            throw RecordRejection(issues: [OperationOutcome.Issue(error: error)])
        }
    }

    /// The id the importer gives a resource without one (from its type, source and identifiers): a created
    /// resource's server-assigned id.
    public func assignedID(for resource: Resource) throws(FHIRError) -> String {
        var r = resource
        r.id = nil
        return try withID(r).id ?? ""
    }
}
