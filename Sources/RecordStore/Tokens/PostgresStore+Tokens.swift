import Logging
import PostgresNIO

extension PostgresStore: TokenReplayCache {
    public func recordAssertion(jti: String, clientId: String, expiresAt: Int64, now: Int64) async throws -> Bool {
        // Expired entries go first, so a jti whose earlier assertion has expired may be used again; the primary key
        // decides between two processes inserting the same pair at once (one of them gets no row back).
        try await client.query("DELETE FROM careledger.assertion_jtis WHERE expires_at < \(now)", logger: logger)
        let rows = try await client.query("""
            INSERT INTO careledger.assertion_jtis (client_id, jti, expires_at) VALUES (\(clientId), \(jti), \(expiresAt))
            ON CONFLICT (client_id, jti) DO NOTHING RETURNING 1::bigint
            """, logger: logger)
        var inserted = false
        for try await _ in rows.decode(Int64.self) { inserted = true }
        return inserted
    }
}
