public import JWTKit

/// The claims of a SMART Backend Services client assertion (SMART App Launch 2.x, client-confidential-asymmetric;
/// RFC 7523 §3). Every claim is optional here so that a missing one is refused by ``ClientAssertionVerifier`` with
/// its name, not as an undecodable payload; the time checks also happen there, against the injected clock.
public struct ClientAssertionClaims: JWTPayload, Equatable {
    public var iss: String?
    public var sub: String?
    public var aud: AudienceClaim?
    /// Expiry, Unix seconds.
    public var exp: Double?
    /// Not before, Unix seconds.
    public var nbf: Double?
    public var iat: Double?
    public var jti: String?
    /// The purpose of use (IHE IUA style): a code (`TREAT`), `system|code`, or a Coding `{"system", "code"}`.
    public var purposeOfUse: PurposeOfUseClaim?

    public init(iss: String?, sub: String?, aud: AudienceClaim?, exp: Double?, nbf: Double? = nil, iat: Double? = nil,
                jti: String?, purposeOfUse: PurposeOfUseClaim? = nil) {
        self.iss = iss
        self.sub = sub
        self.aud = aud
        self.exp = exp
        self.nbf = nbf
        self.iat = iat
        self.jti = jti
        self.purposeOfUse = purposeOfUse
    }

    enum CodingKeys: String, CodingKey {
        case iss, sub, aud, exp, nbf, iat, jti
        case purposeOfUse = "purpose_of_use"
    }

    /// The checks need the injected clock and the token URL, so ``ClientAssertionVerifier`` makes them.
    public func verify(using algorithm: some JWTAlgorithm) async throws {}
}

/// A `purpose_of_use` claim: a string (`TREAT`, `http://terminology.hl7.org/CodeSystem/v3-ActReason|TREAT`) or a
/// Coding object as IHE IUA writes it.
public struct PurposeOfUseClaim: Codable, Sendable, Hashable {
    public var system: String?
    public var code: String

    public init(system: String? = nil, code: String) {
        self.system = system
        self.code = code
    }

    /// The v3 PurposeOfUse code system: codes from it are carried as the bare code.
    public static let v3ActReason = "http://terminology.hl7.org/CodeSystem/v3-ActReason"

    private struct Coding: Codable {
        var system: String?
        var code: String
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let text = try? container.decode(String.self) {
            if let bar = text.lastIndex(of: "|") {
                let system = text[..<bar]
                self.init(system: system.isEmpty ? nil : String(system), code: String(text[text.index(after: bar)...]))
            } else {
                self.init(code: text)
            }
        } else {
            let coding = try container.decode(Coding.self)
            self.init(system: coding.system, code: coding.code)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(Coding(system: system, code: code))
    }

    /// As the token and the consent decision carry it: the bare code for v3 PurposeOfUse codes, else `system|code`.
    public var tokenValue: String {
        guard let system, system != Self.v3ActReason else { return code }
        return "\(system)|\(code)"
    }
}
