import Synchronization

/// Consent decisions cached per (partner, patient, purpose, height), so that consent is not what bounds a
/// partner's read rate. A newer finalized height invalidates every entry at once (the next lookup at it starts an
/// empty cache); a request still deciding at an older height neither reads nor fills the cache. Bounded: when full,
/// it starts over.
public final class ConsentDecisionCache: Sendable {
    public struct Key: Sendable, Hashable {
        public var actors: [String]
        public var patient: String
        public var purpose: String
        public var height: UInt64
    }

    /// How many lookups were answered from the cache and how many computed.
    public struct Counts: Sendable, Hashable {
        public var hits: Int
        public var misses: Int

        public init(hits: Int = 0, misses: Int = 0) {
            self.hits = hits
            self.misses = misses
        }
    }

    struct State {
        var height: UInt64 = 0
        var entries: [Key: PatientConsent] = [:]
        var counts = Counts()
    }

    public let capacity: Int
    private let state = Mutex(State())

    public init(capacity: Int = 50_000) {
        precondition(capacity > 0, "a cache holds at least one decision")
        self.capacity = capacity
    }

    public var counts: Counts { state.withLock { $0.counts } }

    /// The cached consent for `key`, or what `compute` gives (cached unless the key's height is behind).
    public func consent(_ key: Key, compute: () async throws -> PatientConsent) async rethrows -> PatientConsent {
        let cached = state.withLock { s -> PatientConsent? in
            if key.height > s.height {
                s.height = key.height
                s.entries.removeAll(keepingCapacity: true)
            }
            let found = key.height == s.height ? s.entries[key] : nil
            if found != nil { s.counts.hits += 1 } else { s.counts.misses += 1 }
            return found
        }
        if let cached { return cached }
        let computed = try await compute()
        state.withLock { s in
            guard key.height == s.height else { return }
            if s.entries.count >= capacity { s.entries.removeAll(keepingCapacity: true) }
            s.entries[key] = computed
        }
        return computed
    }
}
