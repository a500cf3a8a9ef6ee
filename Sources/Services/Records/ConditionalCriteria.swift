import Foundation
import RecordStore

/// The search criteria of a conditional create (`If-None-Exist`), update or transaction entry, resolved to the
/// ids of current resources that match. `identifier=[system|]value` and `_id=id` (joined by `&`, all must hold)
/// are answered as the importer resolves conditional references; any other criteria by the search use case
/// (``RecordSearch``: every generated search parameter, modifiers, prefixes, one level of chaining) under strict
/// handling, so an unknown parameter is refused, never ignored: ignoring one would match too much and overwrite
/// the wrong resource.
struct ConditionalCriteria: Sendable {
    var identifiers: [(system: String?, value: String)] = []
    var ids: [String] = []
    /// Every parameter as written (decoded), for the search engine.
    var parameters: [(name: String, value: String)] = []

    /// Reads `query` (`identifier=http://x|1&_id=2`, with or without a leading `?`).
    init(_ query: String) throws(ServiceError) {
        let text = query.hasPrefix("?") ? String(query.dropFirst()) : query
        let pairs = text.split(separator: "&", omittingEmptySubsequences: true)
        guard !pairs.isEmpty else { throw ServiceError(.invalidRequest, "the conditional criteria are empty") }
        for pair in pairs {
            guard let eq = pair.firstIndex(of: "=") else {
                throw ServiceError(.invalidRequest, "'\(pair)' in the conditional criteria is not name=value")
            }
            let rawName = String(pair[..<eq])
            let name = rawName.removingPercentEncoding ?? rawName
            let raw = String(pair[pair.index(after: eq)...]).replacingOccurrences(of: "+", with: " ")
            let value = raw.removingPercentEncoding ?? raw
            guard !value.isEmpty else { throw ServiceError(.invalidRequest, "the conditional parameter \(name) has no value") }
            parameters.append((name, value))
            switch name {
            case "identifier":
                if let bar = value.firstIndex(of: "|") {
                    let system = String(value[..<bar])
                    identifiers.append((system.isEmpty ? nil : system, String(value[value.index(after: bar)...])))
                } else {
                    identifiers.append((nil, value))
                }
            case "_id":
                ids.append(value)
            default:
                break
            }
        }
    }

    /// Whether only `identifier` and `_id` are asked, which the importer's resolution answers.
    var isIdentity: Bool { identifiers.count + ids.count == parameters.count }

    /// Parameters that shape a search's answer rather than select resources: meaningless in criteria, where they
    /// could only make a match look unique (`_count=1`) or hide one.
    static let resultParameters: Set<String> = ["_count", "_sort", "_include", "_revinclude", "_summary", "_elements", "_total",
                                                "_cursor", "_contained", "_containedType", "_format", "_pretty"]

    /// The ids of current resources of `type` matching every criterion, sorted; at most two from the search engine
    /// (``RecordSearch``, FHIR search with every parameter, modifier, prefix and chain it has), which is all a caller
    /// needs to tell none, one and several apart.
    func matches(type: String, in store: any RecordStore) async throws -> [String] {
        guard isIdentity else {
            if let name = parameters.first(where: { Self.resultParameters.contains($0.name) })?.name {
                throw ServiceError(.invalidRequest, "\(name) is not a search criterion; conditional criteria select resources only")
            }
            var request = try SearchRequest.parse(type: type, parameters: parameters, handling: .strict)
            request.query.count = 2
            request.query.total = false
            return try await RecordSearch(store: store).search(request).matches.map(\.id).sorted()
        }
        var result: Set<String>?
        for identifier in identifiers {
            let found = Set(try await store.resolveIdentifier(type: type, system: identifier.system, value: identifier.value))
            result = result.map { $0.intersection(found) } ?? found
        }
        for id in ids {
            var found = Set<String>()
            if let current = try await store.current(RecordKey(type: type, id: id)), !current.isDeleted { found.insert(id) }
            result = result.map { $0.intersection(found) } ?? found
        }
        return (result ?? []).sorted()
    }
}
