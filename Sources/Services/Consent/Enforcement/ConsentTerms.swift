import Node

/// Who asks and why, for every consent decision of one partner request: the partner's identifiers (from its
/// token, the participant's `system|value` identifiers by which Consents name it) and the purpose of use.
public struct ConsentTerms: Sendable, Hashable {
    /// The partner's client id (for the audit trail; decisions go by ``actors``).
    public var clientId: String
    /// The participant (hex public key) the client belongs to, if known.
    public var participant: String?
    /// The actors a Consent may name the partner by, `system|value`, sorted.
    public var actors: [String]
    /// The purpose of use, `system|code` (v3 ActReason by default).
    public var purpose: String

    public init(clientId: String, participant: String?, actors: [String], purpose: String) {
        self.clientId = clientId
        self.participant = participant
        self.actors = actors.sorted()
        self.purpose = purpose
    }

    /// The purpose when neither the token nor the request names one (issue 17: TREAT when absent).
    public static let defaultPurpose = "TREAT"
    /// The request header that names the purpose when the token does not.
    public static let purposeHeader = "X-Purpose-Of-Use"

    /// The terms of a request by `principal`, or nil for a local client (the hospital's own systems are not
    /// consent-filtered). The token's `purpose_of_use` claim wins over the `X-Purpose-Of-Use` header; TREAT when
    /// neither says. A purpose that no Consent could name (`''`, `a|b|c`) is refused as an invalid request.
    public static func of(_ principal: Principal, purposeHeader: String?) throws(ServiceError) -> ConsentTerms? {
        guard principal.kind == .partner else { return nil }
        let header = purposeHeader.map(trimmed).flatMap { $0.isEmpty ? nil : $0 }
        let written = principal.purposeOfUse ?? header ?? defaultPurpose
        let source = principal.purposeOfUse != nil ? "the token's purpose_of_use" : header != nil ? Self.purposeHeader : "the default purpose"
        let purpose: String
        do {
            purpose = try ConsentMapping.queryCode(written, option: source, defaultSystem: ConsentMapping.QuerySystem.purpose)
        } catch {
            throw ServiceError(.invalidRequest, "\(error.pointer): the purpose of use is not a code: \(error.reason)")
        }
        return ConsentTerms(clientId: principal.clientId, participant: principal.participant, actors: principal.identifiers, purpose: purpose)
    }
}

/// `s` without leading and trailing spaces and tabs.
private func trimmed(_ s: String) -> String {
    var rest = Substring(s)
    while let f = rest.first, f == " " || f == "\t" { rest.removeFirst() }
    while let l = rest.last, l == " " || l == "\t" { rest.removeLast() }
    return String(rest)
}
