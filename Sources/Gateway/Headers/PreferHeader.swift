public import Hummingbird

/// The `Prefer` header's `return` preference (FHIR R4 http.html §3.1.0.7, RFC 7240): what a write answers with.
public enum ReturnPreference: String, Sendable, Hashable {
    /// No body.
    case minimal
    /// The resource as stored (the default).
    case representation
    /// An OperationOutcome saying what was done.
    case operationOutcome = "OperationOutcome"

    /// The preference `request` states; representation when it states none (or one not known).
    public init(_ request: Request) {
        self = .representation
        for field in request.headers where field.name.canonicalName == "prefer" {
            for token in field.value.split(separator: ",") {
                let pair = token.split(separator: "=", maxSplits: 1).map { $0.trimmingSpaces }
                guard pair.count == 2, pair[0].lowercased() == "return" else { continue }
                let asked = pair[1].trimmingCharacters(in: "\"")
                if let preference = ReturnPreference(rawValue: String(asked)) { self = preference; return }
            }
        }
    }
}

extension Substring {
    /// Without the given characters at either end.
    func trimmingCharacters(in characters: String) -> Substring {
        var s = self
        while let f = s.first, characters.contains(f) { s.removeFirst() }
        while let l = s.last, characters.contains(l) { s.removeLast() }
        return s
    }
}
