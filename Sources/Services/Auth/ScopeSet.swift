/// The scopes a client holds, parsed once: what the gateway checks each interaction against.
public struct ScopeSet: Sendable, Hashable {
    /// The granted scopes, in the order given, without duplicates.
    public private(set) var scopes: [SMARTScope]
    /// The scope strings as written that were not understood or are refused (see ``SMARTScope``); they grant nothing.
    public private(set) var refused: [String]

    public init(_ scopes: [SMARTScope]) {
        var seen = Set<SMARTScope>()
        self.scopes = scopes.filter { seen.insert($0).inserted }
        self.refused = []
    }

    /// Parses scope strings (one per element, or a space-separated OAuth `scope` parameter split beforehand).
    public init(parsing texts: some Sequence<some StringProtocol>) {
        var parsed: [SMARTScope] = []
        var refused: [String] = []
        for text in texts where !text.isEmpty {
            if let scope = SMARTScope(text) { parsed.append(scope) } else { refused.append(String(text)) }
        }
        self.init(parsed)
        self.refused = refused
    }

    /// Parses an OAuth `scope` parameter: scopes separated by spaces (RFC 6749 §3.3).
    public init(parameter: String) {
        self.init(parsing: parameter.split(separator: " ", omittingEmptySubsequences: true))
    }

    public var isEmpty: Bool { scopes.isEmpty }

    /// True when some scope grants `interaction` on resources of `type` (`*`: across every type).
    public func permits(_ interaction: AccessInteraction, type: String) -> Bool {
        scopes.contains { $0.permits(interaction, type: type) }
    }

    /// What the client asked for, cut down to what it holds: each requested scope intersected with each granted one.
    /// Empty when nothing requested is granted (the token endpoint then answers `invalid_scope`).
    public func granting(_ requested: ScopeSet) -> ScopeSet {
        var out: [SMARTScope] = []
        for want in requested.scopes {
            for held in scopes {
                if let shared = want.intersection(held) { out.append(shared) }
            }
        }
        return ScopeSet(out)
    }

    /// The scopes in v2 form, space-separated: the token response's `scope`.
    public var parameter: String { scopes.map(\.description).joined(separator: " ") }
}
