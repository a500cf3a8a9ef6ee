/// The SMART token endpoint's memory of client assertion `jti`s (SMART App Launch 2.x, client-confidential-asymmetric:
/// a `jti` must not be reused before the assertion expires). It lives in the store so that every gateway process
/// sharing the store refuses a replay, not only the process that saw the assertion first.
public protocol TokenReplayCache: Sendable {
    /// Records that `clientId` used `jti` in an assertion valid until `expiresAt` (Unix seconds). Returns true when
    /// the pair is new, false when it was recorded before and has not expired by `now` (Unix seconds): a replay.
    /// Entries that expired before `now` are purged on the way.
    func recordAssertion(jti: String, clientId: String, expiresAt: Int64, now: Int64) async throws -> Bool
}
