/// A FHIR REST interaction as SMART scopes see it: each needs one permission (`c`, `r`, `u`, `d` or `s`) on the
/// resource type it touches (SMART App Launch 2.x, scopes-and-launch-context, "Scopes for requesting FHIR resources").
public enum AccessInteraction: String, Sendable, Hashable, CaseIterable {
    case create
    case read
    case vread
    case historyInstance = "history-instance"
    case update
    case patch
    case delete
    case search
    case historyType = "history-type"
    case historySystem = "history-system"

    /// The permission the interaction needs: reads of one resource (read, vread, its history) need `r`; searches and
    /// histories across resources need `s`; a patch is an update.
    public var permission: ScopePermissions {
        switch self {
        case .create: .create
        case .read, .vread, .historyInstance: .read
        case .update, .patch: .update
        case .delete: .delete
        case .search, .historyType, .historySystem: .search
        }
    }
}

/// The SMART v2 permissions `c r u d s`, as a set.
public struct ScopePermissions: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let create = ScopePermissions(rawValue: 1 << 0)
    public static let read = ScopePermissions(rawValue: 1 << 1)
    public static let update = ScopePermissions(rawValue: 1 << 2)
    public static let delete = ScopePermissions(rawValue: 1 << 3)
    public static let search = ScopePermissions(rawValue: 1 << 4)
    public static let all: ScopePermissions = [.create, .read, .update, .delete, .search]

    /// The letters in the order SMART v2 requires them (`cruds`).
    public var letters: String {
        var out = ""
        for (flag, letter) in [(Self.create, "c"), (.read, "r"), (.update, "u"), (.delete, "d"), (.search, "s")]
            where contains(flag) { out += letter }
        return out
    }

    /// Parses a v2 permission string: one or more of `c r u d s`, each at most once and in that order
    /// (`rs`, `cud`, `cruds`); anything else is nil.
    public init?(v2 letters: Substring) {
        var set: ScopePermissions = []
        var last = -1
        for ch in letters {
            guard let index = "cruds".firstIndex(of: ch).map({ "cruds".distance(from: "cruds".startIndex, to: $0) }),
                  index > last else { return nil }
            last = index
            set.insert(ScopePermissions(rawValue: 1 << UInt8(index)))
        }
        guard !set.isEmpty else { return nil }
        self = set
    }
}
