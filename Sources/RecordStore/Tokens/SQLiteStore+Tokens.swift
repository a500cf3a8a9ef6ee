extension SQLiteStore: TokenReplayCache {
    public func recordAssertion(jti: String, clientId: String, expiresAt: Int64, now: Int64) async throws -> Bool {
        // The actor runs one statement at a time, so changes() below is this insert's.
        try db.run("DELETE FROM assertion_jtis WHERE expires_at < ?", [.int(now)])
        try db.run("INSERT OR IGNORE INTO assertion_jtis (client_id, jti, expires_at) VALUES (?, ?, ?)",
                   [.text(clientId), .text(jti), .int(expiresAt)])
        var inserted: Int64 = 0
        try db.query("SELECT changes()") { row in inserted = row.int(0) }
        try await durable()
        return inserted == 1
    }
}
