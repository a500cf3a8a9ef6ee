import Foundation
import Ledger
import Node
import Services
import TestSupport
import Testing

/// `client register`'s checks before anything is signed, and the derived client id: the RFC 7638 thumbprint of the
/// first key, checked against the thumbprints the RFCs publish.
@Suite("Client registration use case")
struct ClientRegistrarTests {
    static let rsa = #"{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"}"#
    static let ed25519 = #"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#

    static func jwks(_ keys: String...) -> [UInt8] { Array(#"{"keys":[\#(keys.joined(separator: ","))]}"#.utf8) }

    @Test func theDerivedIdIsTheRFC7638ThumbprintOfTheFirstKey() throws {
        // RFC 7638 §3.1 and RFC 8037 §A.3 give these thumbprints.
        #expect(try ClientRegistrar.derivedClientId(jwks: Self.jwks(Self.rsa)) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
        #expect(try ClientRegistrar.derivedClientId(jwks: Self.jwks(Self.ed25519, Self.rsa)) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k")
        let error = #expect(throws: ServiceError.self) { try ClientRegistrar.derivedClientId(jwks: Self.jwks(#"{"kty":"X","x":"AA"}"#)) }
        #expect(error?.code == .invalidRequest && error?.exitCode == 64)
        #expect(throws: ServiceError.self) { try ClientRegistrar.derivedClientId(jwks: Self.jwks(#"{"kty":"EC","crv":"P-384","x":"AA"}"#)) }
    }

    /// Partner hospital B's sample JWKS (Samples/clients) is a registration the ledger takes.
    @Test func theSamplePartnerKeyRegisters() throws {
        let jwks = Array(try Data(contentsOf: Repository.root.appendingPathComponent("Samples/clients/partner-hospital-b.jwks")))
        let registration = try ClientRegistrar.registration(jwks: jwks, scopes: ["system/*.rs"], clientId: nil)
        #expect(registration.problem() == nil)
        #expect(registration.clientId.count == 43, "a SHA-256 thumbprint in base64url")
    }

    @Test func registrationsAreCheckedAndCanonicalBeforeSigning() throws {
        let registration = try ClientRegistrar.registration(jwks: Self.jwks(Self.ed25519), scopes: ["system/Patient.rs", "system/*.read", "system/Patient.rs"],
                                                            clientId: nil)
        #expect(registration.clientId == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k")
        #expect(registration.scopes == ["system/*.read", "system/Patient.rs"])
        #expect(registration.problem() == nil, "what the use case makes, the ledger takes")
        for (jwks, scopes, id) in [(Self.jwks(Self.ed25519), ["patient/*.rs"], "a"), (Array("{}".utf8), ["system/*.rs"], "a"),
                                   (Self.jwks(Self.ed25519), ["system/*.rs"], ""), (Self.jwks(Self.ed25519), [], "a")] {
            let error = #expect(throws: ServiceError.self) { try ClientRegistrar.registration(jwks: jwks, scopes: scopes, clientId: id) }
            #expect(error?.exitCode == 64, "\(scopes) \(id)")
        }
    }
}
