public import FHIRCore
public import RecordStore

/// A partner's search, consent-filtered (issue 17, Deliver 6; gateway-notes.md, "Consent-filtered search"): the
/// store's keyset search run until the page is full of permitted matches or nothing permitted is left
/// (``ConsentSession/fillPage(count:from:maxExamined:resource:fetch:)``), `_include`d and `_revinclude`d resources
/// that pass the same decision and belong to a returned match, `total` only as ``ConsentPage`` allows, and the
/// access to audit. The Bundle made from ``result`` must carry the notice (``ConsentNotice/addingNotice(to:)``).
public struct ConsentSearch: Sendable {
    /// The page to answer with.
    public var result: SearchResult
    /// The access to record in the audit trail before the answer leaves.
    public var access: AuditedAccess
}

extension ConsentSession {
    /// The consent-filtered page of `request` for this partner.
    ///
    /// - Parameter query: the request's query as written (`Observation?patient=…`), for the AuditEvent.
    public func search(_ request: SearchRequest, engine: RecordSearch, query: String?) async throws -> ConsentSearch {
        var included: [StoredResource] = []
        var page = try await fillPage(count: request.query.count, from: request.query.cursor, resource: Self.resource) { cursor, limit in
            var chunk = request
            chunk.query.cursor = cursor
            chunk.query.count = limit
            // The store's count includes withheld matches; a partner's total is ConsentPage's.
            chunk.query.total = false
            let result = try await engine.search(chunk)
            included += result.included
            return (result.matches, result.next)
        }
        if request.query.count == 0 && request.query.total {
            // `_summary=count`: the permitted matches, counted within the bound of a page.
            page.total = try await count(request, engine: engine)
        }
        let (keptIncluded, includeDecisions) = try await related(included, to: page.rows)
        let access = AuditedAccess(request.query.type.isEmpty ? .searchSystem : .searchType, session: self,
                                   decisions: page.decisions + includeDecisions, resources: (page.rows + keptIncluded).map(\.location),
                                   query: query, outcome: .success)
        return ConsentSearch(result: SearchResult(matches: page.rows, included: keptIncluded, next: page.next, total: page.total,
                                                  warnings: request.warnings),
                             access: access)
    }

    /// The number of permitted matches when at most `maxExamined` rows hold them all; nil otherwise.
    func count(_ request: SearchRequest, engine: RecordSearch, maxExamined: Int = 2000) async throws -> Int? {
        var chunk = request
        chunk.query.total = false
        chunk.query.includes = []
        chunk.query.revIncludes = []
        let all = try await fillPage(count: maxExamined, from: nil, maxExamined: maxExamined, resource: Self.resource) { cursor, limit in
            chunk.query.cursor = cursor
            chunk.query.count = limit
            let result = try await engine.search(chunk)
            return (result.matches, result.next)
        }
        return all.total
    }

    /// The included resources the partner may have that a returned match references or that reference one, each
    /// once (so nothing included stands for a withheld match).
    func related(_ included: [StoredResource], to matches: [StoredResource]) async throws -> (kept: [StoredResource], decisions: [AccessDecision]) {
        guard !included.isEmpty else { return ([], []) }
        let returned = Set(matches.map { "\($0.type)/\($0.id)" })
        var referenced = Set<String>()
        for match in matches { referenced.formUnion(References.targets(of: try Self.resource(match))) }
        var seen = Set<String>()
        var kept: [StoredResource] = []
        var decisions: [AccessDecision] = []
        for resource in included where seen.insert("\(resource.type)/\(resource.id)").inserted && !resource.deleted {
            let tree = try Self.resource(resource)
            guard referenced.contains("\(resource.type)/\(resource.id)") || !References.targets(of: tree).isDisjoint(with: returned) else { continue }
            let decision = try await decide(tree)
            decisions.append(decision)
            if decision.allows { kept.append(resource) }
        }
        return (kept, decisions)
    }

    /// The served resource of a stored version, as decisions read it.
    public static func resource(_ stored: StoredResource) throws -> Resource {
        do {
            return try FHIRDocument.read(stored.canonical).resource
        } catch {
            throw ServiceError(.internal, "\(stored.location) as stored cannot be read: \(error)")
        }
    }
}

/// The `Type/id` every `reference` in a resource points to (relative, versioned or absolute; contained and URN
/// references left out).
enum References {
    static func targets(of resource: Resource) -> Set<String> {
        var out = Set<String>()
        collect(.object(resource.object), into: &out)
        return out
    }

    static func collect(_ value: FHIRValue, into out: inout Set<String>) {
        if let items = value.arrayValue {
            for item in items { collect(item, into: &out) }
        } else if let object = value.objectValue {
            for member in object {
                if member.name == "reference", let reference = member.value.stringValue, let target = target(reference) {
                    out.insert(target)
                } else {
                    collect(member.value, into: &out)
                }
            }
        }
    }

    /// `Type/id` of a literal reference.
    static func target(_ reference: String) -> String? {
        var segments = reference.split(separator: "/", omittingEmptySubsequences: false)
        if segments.count >= 4, segments[segments.count - 2] == "_history" { segments.removeLast(2) }
        guard segments.count >= 2, let first = segments[segments.count - 2].first, first.isUppercase, !segments[segments.count - 1].isEmpty else { return nil }
        return "\(segments[segments.count - 2])/\(segments[segments.count - 1])"
    }
}
