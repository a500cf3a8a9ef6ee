/// Failures of the services a use case calls (the record store, the node), as the application layer's error.
extension ServiceError {
    /// Runs `body`, turning what it throws into ``ServiceError``: a `ServiceError` passes through, anything else is
    /// `code` with `what` and the underlying error as the reason.
    static func wrapping<T>(_ code: Code, _ what: String, _ body: () async throws -> T) async throws(ServiceError) -> T {
        do {
            return try await body()
        } catch let error as ServiceError {
            throw error
        } catch {
            throw ServiceError(code, "\(what): \(error)")
        }
    }

    /// A call on the record store: a failure there is the store being unavailable.
    static func store<T>(_ what: String, _ body: () async throws -> T) async throws(ServiceError) -> T {
        try await wrapping(.unavailable, "the record store failed to \(what)", body)
    }
}
