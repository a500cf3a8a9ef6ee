public import Foundation

/// Asks several directories in order (local clients first, then the ledger) and remembers each answer, found or not,
/// for ``timeToLive`` (30 s by default): a registration or key rotation on the ledger is seen by the token endpoint
/// within that time. Lookup failures are not remembered.
public actor CachedClientDirectory: ClientDirectory {
    public let sources: [any ClientDirectory]
    public let timeToLive: TimeInterval
    private let clock: @Sendable () -> Date
    private var entries: [String: (client: RegisteredClient?, until: Date)] = [:]

    /// At most this many answers are kept; when full, the cache starts over.
    static let capacity = 4096

    public init(_ sources: [any ClientDirectory], timeToLive: TimeInterval = 30, clock: @escaping @Sendable () -> Date) {
        self.sources = sources
        self.timeToLive = timeToLive
        self.clock = clock
    }

    public func client(id: String) async throws -> RegisteredClient? {
        let now = clock()
        if let entry = entries[id], entry.until > now { return entry.client }
        var found: RegisteredClient?
        for source in sources {
            if let client = try await source.client(id: id) {
                found = client
                break
            }
        }
        if entries.count >= Self.capacity { entries.removeAll() }
        entries[id] = (found, now.addingTimeInterval(timeToLive))
        return found
    }
}
