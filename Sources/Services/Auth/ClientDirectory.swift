/// Where the token endpoint looks a client up. Two real sources: the ledger (partners' clients, through the node's
/// RPC: ``LedgerClientDirectory``) and the node's own config (``LocalClientDirectory``); ``CachedClientDirectory``
/// asks them in order and remembers answers briefly.
public protocol ClientDirectory: Sendable {
    /// The client with this id, or nil when this directory does not know it. Throws ``ServiceError`` when the
    /// directory cannot be read (node unreachable, bad config).
    func client(id: String) async throws -> RegisteredClient?
}
