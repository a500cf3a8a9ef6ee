import Synchronization

/// Access tokens already verified, with the principal each stands for and its expiry: a client sends the same token
/// with every request for up to five minutes, so after the first check a request costs a dictionary lookup instead of
/// an HMAC and two JSON decodings. Bounded: when full it starts over. Only tokens that passed verification enter.
final class VerifiedTokenCache: Sendable {
    private let entries = Mutex<[String: (principal: Principal, expiresAt: Int64)]>([:])
    let capacity: Int

    init(capacity: Int = 16_384) {
        self.capacity = capacity
    }

    /// The principal of `token` if it was verified before and has not expired by `now` (Unix seconds).
    func principal(_ token: String, now: Int64) -> Principal? {
        entries.withLock { entries in
            guard let entry = entries[token] else { return nil }
            if entry.expiresAt > now { return entry.principal }
            entries[token] = nil
            return nil
        }
    }

    func insert(_ token: String, principal: Principal, expiresAt: Int64) {
        entries.withLock { entries in
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            entries[token] = (principal, expiresAt)
        }
    }
}
