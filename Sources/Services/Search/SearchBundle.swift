public import FHIRCore
public import RecordStore
import Foundation

/// The `searchset` Bundle of a search page (FHIR R4 search §3.1.1.2, Bundle): `total` when it was counted, links
/// `self` and `next` (the cursor), the matches with `search.mode = match`, the included resources with `include`,
/// and the lenient-handling warnings as an OperationOutcome entry with `outcome`.
public enum SearchBundle {
    /// The Bundle as a FHIR value. `base` is the search URL without parameters (`https://host/fhir/Observation`);
    /// `elements` keeps only those top-level elements of each match (plus `resourceType`, `id`, `meta`), which then
    /// carries the `SUBSETTED` tag.
    public static func make(_ result: SearchResult, request: SearchRequest, base: String, fullURLBase: String) -> FHIRValue {
        var bundle = FHIRObject(["resourceType": .string("Bundle"), "type": .string("searchset")])
        if let total = result.total { bundle["total"] = .number(FHIRNumber(total)) }
        var links: [FHIRValue] = [link("self", url(base, request.canonicalParameters))]
        if let next = result.next {
            links.append(link("next", url(base, request.canonicalParameters + [("_cursor", next.description)])))
        }
        bundle["link"] = .array(links)
        var entries: [FHIRValue] = []
        for m in result.matches {
            entries.append(entry(m, mode: "match", fullURLBase: fullURLBase, elements: request.elements))
        }
        for i in result.included { entries.append(entry(i, mode: "include", fullURLBase: fullURLBase, elements: nil)) }
        if !result.warnings.isEmpty {
            let issues: [FHIRValue] = result.warnings.map {
                .object(FHIRObject(["severity": .string("warning"), "code": .string("not-supported"), "diagnostics": .string($0)]))
            }
            let outcome = FHIRObject(["resourceType": .string("OperationOutcome"), "issue": .array(issues)])
            entries.append(.object(FHIRObject(["resource": .object(outcome), "search": .object(FHIRObject(["mode": .string("outcome")]))])))
        }
        if !entries.isEmpty { bundle["entry"] = .array(entries) }
        return .object(bundle)
    }

    static func link(_ relation: String, _ url: String) -> FHIRValue {
        .object(FHIRObject(["relation": .string(relation), "url": .string(url)]))
    }

    /// `base?name=value&…`, each part percent-encoded as a query component.
    static func url(_ base: String, _ parameters: [(name: String, value: String)]) -> String {
        guard !parameters.isEmpty else { return base }
        var allowed = CharacterSet.urlQueryAllowed
        allowed.remove(charactersIn: "&=+;,/?:@")
        func encode(_ s: String) -> String { s.addingPercentEncoding(withAllowedCharacters: allowed) ?? s }
        return base + "?" + parameters.map { encode($0.name) + "=" + encode($0.value) }.joined(separator: "&")
    }

    static func entry(_ r: StoredResource, mode: String, fullURLBase: String, elements: [String]?) -> FHIRValue {
        var resource: FHIRValue = (try? JSONReader().readValue(r.canonical)) ?? .object(FHIRObject())
        if let elements, case .object(let object) = resource {
            let keep = Set(elements + ["resourceType", "id", "meta"])
            var subset = FHIRObject(members: object.members.filter { keep.contains($0.name) })
            var meta = subset["meta"]?.objectValue ?? FHIRObject()
            var tags = meta["tag"]?.arrayValue ?? []
            tags.append(.object(FHIRObject(["system": .string("http://terminology.hl7.org/CodeSystem/v3-ObservationValue"),
                                            "code": .string("SUBSETTED")])))
            meta["tag"] = .array(tags)
            subset["meta"] = .object(meta)
            resource = .object(subset)
        }
        return .object(FHIRObject([
            "fullUrl": .string(fullURLBase + "/" + r.type + "/" + r.id),
            "resource": resource,
            "search": .object(FHIRObject(["mode": .string(mode)])),
        ]))
    }
}
