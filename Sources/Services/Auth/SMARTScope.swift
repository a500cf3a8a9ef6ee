/// One granted SMART system scope: a resource type (or `*` for every type) and the permissions on it.
///
/// Parsed from both versions of SMART App Launch:
/// - v2: `system/Patient.rs`, `system/*.cruds` (permissions `c r u d s` in that order);
/// - v1: `system/*.read` (= `rs`), `system/Patient.write` (= `cud`), `system/*.*` (= `cruds`), as the v2 specification
///   maps them.
///
/// Refused (parsed as nil, so never granted): `patient/` and `user/` scopes (Backend Services has no user or launch
/// context), and v2 scopes with a query such as `system/Observation.rs?category=laboratory` — matching those by type
/// alone would grant more than the scope says, and the gateway does not narrow searches by scope parameters.
public struct SMARTScope: Sendable, Hashable, CustomStringConvertible {
    /// The resource type, or `*` for every type.
    public var resourceType: String
    public var permissions: ScopePermissions

    public init(resourceType: String, permissions: ScopePermissions) {
        self.resourceType = resourceType
        self.permissions = permissions
    }

    /// The longest scope string read; longer tokens are not scopes of ours.
    static let maximumLength = 128

    public init?(_ scope: some StringProtocol) {
        let text = Substring(scope)
        guard text.utf8.count <= Self.maximumLength, text.hasPrefix("system/"), !text.contains("?") else { return nil }
        let body = text.dropFirst("system/".count)
        guard let dot = body.lastIndex(of: ".") else { return nil }
        let type = body[..<dot], action = body[body.index(after: dot)...]
        guard type == "*" || Self.isResourceTypeName(type) else { return nil }
        let permissions: ScopePermissions
        switch action {
        case "read": permissions = [.read, .search]
        case "write": permissions = [.create, .update, .delete]
        case "*": permissions = .all
        default:
            guard let v2 = ScopePermissions(v2: action) else { return nil }
            permissions = v2
        }
        self.init(resourceType: String(type), permissions: permissions)
    }

    /// A FHIR resource type name: an upper-case ASCII letter, then ASCII letters and digits.
    static func isResourceTypeName(_ s: Substring) -> Bool {
        guard let first = s.utf8.first, (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(first) else { return false }
        return s.utf8.allSatisfy {
            (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0)
        }
    }

    /// True when the scope grants `interaction` on `type`. A type of `*` (an interaction across every type, such as
    /// system history) needs a `*` scope.
    public func permits(_ interaction: AccessInteraction, type: String) -> Bool {
        (resourceType == "*" || resourceType == type) && permissions.contains(interaction.permission)
    }

    /// What both scopes grant, or nil when they share nothing: `system/*.rs` ∩ `system/Patient.cruds` is
    /// `system/Patient.rs`.
    public func intersection(_ other: SMARTScope) -> SMARTScope? {
        let type: String
        if resourceType == other.resourceType || other.resourceType == "*" { type = resourceType }
        else if resourceType == "*" { type = other.resourceType }
        else { return nil }
        let shared = permissions.intersection(other.permissions)
        return shared.isEmpty ? nil : SMARTScope(resourceType: type, permissions: shared)
    }

    /// The v2 form (`system/Patient.rs`).
    public var description: String { "system/\(resourceType).\(permissions.letters)" }
}
