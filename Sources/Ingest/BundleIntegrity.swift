import FHIRCore

/// Checks on a Bundle's entries that reference rewriting depends on (docs/store.md): a `fullUrl` must name one
/// entry, and a Bundle-local URN (`urn:uuid:`, `urn:oid:`) must name an entry of the Bundle. Without them a
/// reference would be rewritten to the wrong resource, or stored pointing nowhere.
enum BundleIntegrity {
    /// FHIR R4 bdl-7: "FullUrl must be unique in a bundle, or else entries with the same fullUrl must have
    /// different meta.versionId (except in history bundles)". Entries that share a fullUrl with distinct
    /// versionIds must also be versions of one resource (one type, one written id), or a reference to that fullUrl
    /// would name two resources. One issue per offending fullUrl, located at every entry's `fullUrl`.
    static func duplicateFullURLs(_ entries: [FHIRValue], bundleType: String) -> [OperationOutcome.Issue] {
        guard bundleType != "history" else { return [] }
        var byURL: [String: [Int]] = [:]
        var order: [String] = []
        for (n, entry) in entries.enumerated() {
            guard let url = entry.objectValue?["fullUrl"]?.stringValue else { continue }
            if byURL[url] == nil { order.append(url) }
            byURL[url, default: []].append(n)
        }
        var issues: [OperationOutcome.Issue] = []
        for url in order {
            guard let indices = byURL[url], indices.count > 1 else { continue }
            let resources = indices.map { entries[$0].objectValue?["resource"]?.objectValue }
            let versions = resources.map { $0?["meta"]?.objectValue?["versionId"]?.stringValue }
            let names = Set(resources.map { r in "\(r?["resourceType"]?.stringValue ?? "?")/\(r?["id"]?.stringValue ?? "(no id)")" })
            let sameVersion = Set(versions.map { $0 ?? "" }).count < versions.count
            let oneResource = names.count == 1 && resources.allSatisfy { $0?["id"]?.stringValue != nil }
            guard sameVersion || !oneResource else { continue }
            let list = indices.map(String.init).joined(separator: ", ")
            let why = sameVersion
                ? "bdl-7: entries \(list) have the same fullUrl \(url)\(versions.allSatisfy { $0 == nil } ? "" : " and the same meta.versionId"), so a reference to it could name either; the Bundle is refused"
                : "entries \(list) have the same fullUrl \(url) but are not versions of one resource (\(names.sorted().joined(separator: ", "))), so a reference to it could name either; the Bundle is refused"
            issues.append(OperationOutcome.Issue(code: "invariant", diagnostics: why,
                                                 location: indices.map { "/entry/\($0)/fullUrl" },
                                                 expression: indices.map { "Bundle.entry[\($0)].fullUrl" }))
        }
        return issues
    }

    /// One resource of a Bundle being imported, as ``unresolvedURNs(_:resolved:refusedEntries:cascade:)`` sees it.
    struct Member {
        /// The entry's index in the Bundle (`/entry/N`).
        var entry: Int
        /// The entry's `fullUrl`, if any.
        var fullUrl: String?
        /// Its references to Bundle-local URNs, each with its JSON pointer in the Bundle.
        var urns: [(reference: String, pointer: String)]

        init(entry: Int, fullUrl: String?, resource: Resource) {
            self.entry = entry
            self.fullUrl = fullUrl
            var found: [(reference: String, pointer: String)] = []
            References.collectURNs(.object(resource.object), pointer: "/entry/\(entry)/resource", into: &found)
            urns = found
        }
    }

    /// The members (indices into `members`) that cannot be stored because a `urn:uuid:`/`urn:oid:` reference of
    /// theirs would point nowhere, each with one issue per such reference, in entry order.
    ///
    /// A URN resolves when `resolved` (fullUrl → `Type/id`, from the unit's entries and matched conditional
    /// creates) has it. With `cascade` (Bundles that are not all or nothing), a member whose URN names an entry
    /// already refused (`refusedEntries`: fullUrl → entry index) or a member refused here is refused in turn, as
    /// its reference would point at nothing stored. Linear in the references: each member is refused at most once.
    static func unresolvedURNs(_ members: [Member], resolved: [String: String], refusedEntries: [String: Int], cascade: Bool)
        -> [(member: Int, issues: [OperationOutcome.Issue])] {
        var refusedEntry = cascade ? refusedEntries : [:]
        var refused = Set<Int>()
        var queue: [Int] = []
        for (i, m) in members.enumerated()
        where m.urns.contains(where: { resolved[$0.reference] == nil || refusedEntry[$0.reference] != nil }) {
            refused.insert(i)
            queue.append(i)
        }
        if cascade {
            // Who refers to whom by URN, so that a refusal reaches every member that leans on it.
            var byURL: [String: Int] = [:]
            for (i, m) in members.enumerated() { if let url = m.fullUrl { byURL[url] = i } }
            var dependents: [Int: [Int]] = [:]
            for (i, m) in members.enumerated() {
                for u in m.urns { if let j = byURL[u.reference], j != i { dependents[j, default: []].append(i) } }
            }
            var next = 0
            while next < queue.count {
                let j = queue[next]
                next += 1
                if let url = members[j].fullUrl { refusedEntry[url] = members[j].entry }
                for i in dependents[j] ?? [] where refused.insert(i).inserted { queue.append(i) }
            }
        }
        return refused.sorted().map { i in
            let issues = members[i].urns.compactMap { ref -> OperationOutcome.Issue? in
                if let entry = refusedEntry[ref.reference] {
                    guard entry != members[i].entry else { return nil }
                    return OperationOutcome.Issue(code: "not-found",
                                                  diagnostics: "the reference \(ref.reference) names entry \(entry), which is refused, so it would point at nothing stored",
                                                  location: [ref.pointer])
                }
                guard resolved[ref.reference] == nil else { return nil }
                return OperationOutcome.Issue(code: "not-found",
                                              diagnostics: "the reference \(ref.reference) names no entry of this Bundle (no entry has it as its fullUrl), so it cannot become Type/id",
                                              location: [ref.pointer])
            }
            return (i, issues)
        }
    }
}
