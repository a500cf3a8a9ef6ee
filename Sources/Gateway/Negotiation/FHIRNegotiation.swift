public import Hummingbird
public import Services

/// The representation a request asked for: JSON or XML (by `_format`, else `Accept`), and whether pretty-printed
/// (`_pretty`). FHIR R4 http.html §3.1.0.1.6: `_format` overrides `Accept`; no preference means JSON.
public struct FHIRNegotiation: Sendable, Hashable {
    public enum Format: String, Sendable, Hashable {
        case json, xml

        /// The FHIR media type with its charset, as the `Content-Type` of what the gateway writes.
        public var contentType: String {
            switch self {
            case .json: "application/fhir+json; charset=utf-8"
            case .xml: "application/fhir+xml; charset=utf-8"
            }
        }
    }

    public var format: Format
    public var pretty: Bool
    /// What of a read's resource to return: `_elements=…` or `_summary=true|text|data` (nil: the whole resource;
    /// `false` and `count` return it whole). Search, history and `$everything` apply the same subset to each
    /// resource of their Bundles (``ResourceSubset``), not to the Bundle.
    public var subset: ResourceSubset?

    public init(format: Format = .json, pretty: Bool = false, subset: ResourceSubset? = nil) {
        self.format = format
        self.pretty = pretty
        self.subset = subset
    }

    /// What the request asks for; a `_format` or an `Accept` naming nothing the gateway writes is 406.
    public init(_ request: Request) throws(ServiceError) {
        let query = request.uri.queryParameters
        pretty = query["_pretty"].map { $0 == "true" } ?? false
        // A `_summary` value outside the code system is the route's to refuse (search, history and `$everything`
        // do); here it asks for no subset.
        subset = ResourceSubset.asked(summary: query["_summary"].flatMap { try? ResourceSubset.Summary(parameter: $0) },
                                      elements: query["_elements"].map(String.init))
        if let asked = query["_format"] {
            guard let format = Self.format(ofMediaType: String(asked)) else {
                throw ServiceError(.notAcceptable, "_format=\(asked) is none of json, xml, application/fhir+json, application/fhir+xml, application/json, application/xml, text/xml")
            }
            self.format = format
            return
        }
        let accept = request.headers[values: .accept].joined(separator: ",")
        guard let format = Self.format(accepting: accept) else {
            throw ServiceError(.notAcceptable, "Accept: \(accept.prefix(200)) names no representation the gateway writes (application/fhir+json, application/fhir+xml)")
        }
        self.format = format
    }

    /// The same choice as ``init(_:)`` but never throwing: for an error response, whose body must go out even when
    /// the request's preference was the problem (then as JSON).
    public static func lenient(_ request: Request) -> FHIRNegotiation {
        (try? FHIRNegotiation(request)) ?? FHIRNegotiation(format: .json,
                                                          pretty: request.uri.queryParameters["_pretty"] == "true")
    }

    /// The format a `_format` value or a media type names (parameters such as `; charset=utf-8` ignored), or nil.
    public static func format(ofMediaType value: String) -> Format? {
        let type = value.split(separator: ";", maxSplits: 1).first.map { $0.trimmingSpaces.lowercased() } ?? ""
        switch type {
        case "json", "application/fhir+json", "application/json", "application/json+fhir", "text/json": return .json
        case "xml", "application/fhir+xml", "application/xml", "text/xml", "application/xml+fhir": return .xml
        default: return nil
        }
    }

    /// The format an `Accept` header prefers: the highest quality among the media ranges the gateway can write,
    /// the earliest on a tie; JSON for an empty header or a wildcard. Nil when nothing acceptable is writable.
    static func format(accepting header: String) -> Format? {
        if header.allSatisfy({ $0 == " " || $0 == "," }) { return .json }
        var best: (format: Format, quality: Double)?
        for range in header.split(separator: ",").prefix(64) {
            let parts = range.split(separator: ";")
            guard let typePart = parts.first else { continue }
            let type = typePart.trimmingSpaces.lowercased()
            var quality = 1.0
            for parameter in parts.dropFirst() {
                let pair = parameter.split(separator: "=", maxSplits: 1)
                if pair.count == 2, pair[0].trimmingSpaces.lowercased() == "q" {
                    quality = Double(pair[1].trimmingSpaces) ?? 0
                }
            }
            guard quality > 0 else { continue }
            let format: Format?
            switch type {
            case "*/*", "application/*": format = .json
            case "text/*": format = .xml
            default: format = Self.format(ofMediaType: type)
            }
            guard let format else { continue }
            if quality > (best?.quality ?? 0) { best = (format, quality) }
        }
        return best?.format
    }
}

extension Substring {
    /// Without leading and trailing spaces and tabs (HTTP's optional whitespace).
    var trimmingSpaces: Substring {
        var s = self
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return s
    }
}
