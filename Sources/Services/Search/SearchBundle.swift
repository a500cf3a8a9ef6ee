public import FHIRCore
import RecordStore
import Foundation

/// The `searchset` Bundle of a search page (FHIR R4 search §3.1.1.2, Bundle): `total` when it was counted, links
/// `self` and `next` (the cursor), the matches with `search.mode = match`, the included resources with `include`,
/// and OperationOutcome entries with `outcome` (lenient handling's warnings, a partner's consent notice).
///
/// Compact JSON is written by splicing each stored version's canonical JSON into the Bundle as it is (``json()``):
/// a page of 50 resources is neither parsed nor written again. XML, `_pretty` and subsets (`_elements`,
/// `_summary=true|text|data`) go through the resource tree (``value()``). `$everything` pages are written by it too.
public struct SearchBundle: Sendable {
    /// One entry, in Bundle order.
    public enum Entry: Sendable {
        /// A stored version, `search.mode` `match` or `include`.
        case stored(StoredResource, mode: String)
        /// A whole entry object (an OperationOutcome with `search.mode = outcome`).
        case object(FHIRObject)
    }

    public var total: Int?
    public var links: [(relation: String, url: String)]
    public var entries: [Entry]
    /// What of each match to return (nil: the whole resource); included resources are returned whole.
    public var subset: ResourceSubset?
    /// The base of each entry's `fullUrl` (`https://host/fhir`, then `/Type/id`).
    public var fullURLBase: String

    /// The Bundle of `result`. `base` is the search URL without parameters (`https://host/fhir/Observation`).
    public init(_ result: SearchResult, request: SearchRequest, base: String, fullURLBase: String) {
        total = result.total
        links = [("self", Self.url(base, request.canonicalParameters))]
        if let next = result.next {
            links.append(("next", Self.url(base, request.canonicalParameters + [("_cursor", next.description)])))
        }
        entries = result.matches.map { .stored($0, mode: "match") } + result.included.map { .stored($0, mode: "include") }
        if !result.warnings.isEmpty {
            let issues: [FHIRValue] = result.warnings.map {
                .object(FHIRObject(["severity": .string("warning"), "code": .string("not-supported"), "diagnostics": .string($0)]))
            }
            let outcome = FHIRObject(["resourceType": .string("OperationOutcome"), "issue": .array(issues)])
            entries.append(.object(FHIRObject(["resource": .object(outcome), "search": .object(FHIRObject(["mode": .string("outcome")]))])))
        }
        subset = request.subset
        self.fullURLBase = fullURLBase
    }

    /// A Bundle of `matches` (each `search.mode = match`, subsetted as `subset` asks) with these links and total:
    /// the page of an operation that answers in a searchset, as `$everything` does.
    public init(matches: [StoredResource], total: Int?, links: [(relation: String, url: String)], subset: ResourceSubset?,
                fullURLBase: String) {
        self.total = total
        self.links = links
        entries = matches.map { .stored($0, mode: "match") }
        self.subset = subset
        self.fullURLBase = fullURLBase
    }

    /// The Bundle as a FHIR value (for XML and `_pretty`). A stored version that cannot be read back is an
    /// internal error.
    public static func make(_ result: SearchResult, request: SearchRequest, base: String, fullURLBase: String) throws(ServiceError) -> FHIRValue {
        try SearchBundle(result, request: request, base: base, fullURLBase: fullURLBase).value()
    }

    /// The Bundle as a FHIR value: each stored version read back (and subsetted) into the tree.
    public func value() throws(ServiceError) -> FHIRValue {
        var bundle = FHIRObject(["resourceType": .string("Bundle"), "type": .string("searchset")])
        if let total { bundle["total"] = .number(FHIRNumber(total)) }
        bundle["link"] = .array(links.map(Self.link))
        var values: [FHIRValue] = []
        for entry in entries {
            switch entry {
            case .stored(let stored, let mode):
                values.append(.object(Self.entry(stored, mode: mode, fullURLBase: fullURLBase,
                                                 resource: try resource(of: stored, mode: mode))))
            case .object(let object):
                values.append(.object(object))
            }
        }
        if !values.isEmpty { bundle["entry"] = .array(values) }
        return .object(bundle)
    }

    /// The Bundle as compact JSON, each whole stored version spliced in as its canonical bytes (the served form,
    /// the same bytes a read returns). Members in the order ``value()`` gives them.
    public func json() throws(ServiceError) -> [UInt8] {
        let writer = JSONWriter(style: .compact)
        var out: [UInt8] = []
        out.reserveCapacity(256 + entries.reduce(0) { size, entry in
            if case .stored(let stored, _) = entry { return size + stored.canonical.count + 160 }
            return size + 512
        })
        out.append(contentsOf: #"{"resourceType":"Bundle","type":"searchset""#.utf8)
        if let total { out.append(contentsOf: #","total":\#(total)"#.utf8) }
        out.append(contentsOf: #","link":"#.utf8)
        out.append(contentsOf: writer.write(.array(links.map(Self.link))))
        if !entries.isEmpty {
            out.append(contentsOf: #","entry":["#.utf8)
            for (n, entry) in entries.enumerated() {
                if n > 0 { out.append(UInt8(ascii: ",")) }
                switch entry {
                case .stored(let stored, let mode) where subset == nil || mode != "match":
                    out.append(contentsOf: #"{"fullUrl":"#.utf8)
                    out.append(contentsOf: writer.write(.string(fullURLBase + "/" + stored.type + "/" + stored.id)))
                    out.append(contentsOf: #","resource":"#.utf8)
                    out.append(contentsOf: stored.canonical)
                    out.append(contentsOf: #","search":{"mode":"#.utf8)
                    out.append(contentsOf: writer.write(.string(mode)))
                    out.append(contentsOf: "}}".utf8)
                case .stored(let stored, let mode):
                    let resource = try resource(of: stored, mode: mode)
                    out.append(contentsOf: writer.write(.object(Self.entry(stored, mode: mode, fullURLBase: fullURLBase, resource: resource))))
                case .object(let object):
                    out.append(contentsOf: writer.write(.object(object)))
                }
            }
            out.append(UInt8(ascii: "]"))
        }
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// A stored version read back, subsetted when it is a match and a subset was asked.
    func resource(of stored: StoredResource, mode: String) throws(ServiceError) -> FHIRValue {
        let value: FHIRValue
        do {
            value = try JSONReader().readValue(stored.canonical)
        } catch {
            throw ServiceError(.internal, "\(stored.location) as stored cannot be read: \(error)")
        }
        guard let object = value.objectValue else { throw ServiceError(.internal, "\(stored.location) as stored is not a JSON object") }
        guard mode == "match", let subset else { return .object(object) }
        return .object(subset.apply(to: object))
    }

    static func link(_ link: (relation: String, url: String)) -> FHIRValue {
        .object(FHIRObject(["relation": .string(link.relation), "url": .string(link.url)]))
    }

    static func entry(_ stored: StoredResource, mode: String, fullURLBase: String, resource: FHIRValue) -> FHIRObject {
        FHIRObject([
            "fullUrl": .string(fullURLBase + "/" + stored.type + "/" + stored.id),
            "resource": resource,
            "search": .object(FHIRObject(["mode": .string(mode)])),
        ])
    }

    /// `base?name=value&…`, each part percent-encoded as a query component.
    static func url(_ base: String, _ parameters: [(name: String, value: String)]) -> String {
        guard !parameters.isEmpty else { return base }
        var allowed = CharacterSet.urlQueryAllowed
        allowed.remove(charactersIn: "&=+;,/?:@")
        func encode(_ s: String) -> String { s.addingPercentEncoding(withAllowedCharacters: allowed) ?? s }
        return base + "?" + parameters.map { encode($0.name) + "=" + encode($0.value) }.joined(separator: "&")
    }
}
