import FHIRCore
public import Hummingbird

/// The shapes of the gateway's FHIR paths and the methods each allows (FHIR R4 http.html §3.1.0): what tells a
/// method a path does not allow (405, with `Allow`) from a path that names nothing (404).
///
/// Kept beside the routes: a new interaction on an existing path shape is one more method here.
public enum FHIRPathShape {
    /// The methods the gateway answers on `path`; empty when the path names no FHIR endpoint (an unknown resource
    /// type, an unknown operation).
    public static func allowedMethods(forPath path: String) -> [HTTPRequest.Method] {
        var segments = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        if segments.first == "fhir" { segments.removeFirst() }
        switch segments.count {
        case 0:
            return [.get, .post]
        case 1:
            switch segments[0] {
            case "metadata", "_history", "health": return [.get]
            case "_search": return [.get, .post]
            case let type where isType(type): return [.get, .post, .put]
            default: return []
            }
        case 2:
            guard isType(segments[0]) else { return [] }
            switch segments[1] {
            case "_history": return [.get]
            case "_search": return [.get, .post]
            case let operation where operation.hasPrefix("$"): return []
            default: return [.get, .put, .delete, .patch]
            }
        case 3:
            guard isType(segments[0]) else { return [] }
            if segments[2] == "_history" { return [.get] }
            if segments[0] == "Patient" && segments[2] == "$everything" { return [.get] }
            return []
        case 4:
            return isType(segments[0]) && segments[2] == "_history" ? [.get] : []
        default:
            return []
        }
    }

    /// Whether `name` is a concrete FHIR R4 resource type.
    public static func isType(_ name: String) -> Bool {
        TypeTable.r4.isResourceType(name) && name != "Resource" && name != "DomainResource"
    }
}
