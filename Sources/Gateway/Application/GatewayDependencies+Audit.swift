import Logging
import Services

extension GatewayDependencies {
    /// Stores the AuditEvent of a partner's access before its answer leaves (issue 17, Deliver 7): not audited means
    /// not served, so a failure is a 503, never an unaudited answer. Without an audit trail (a gateway mounted for
    /// tests of the interactions alone) there is nothing to store.
    func recordAudited(_ access: AuditedAccess) async throws {
        guard let audit else { return }
        do {
            try await audit.record(access)
        } catch {
            logger.error("an AuditEvent could not be stored: \(error)")
            throw ServiceError(.unavailable, "the access could not be audited, so it is not served")
        }
    }
}
