import FHIRCore
import Foundation
public import Hummingbird
import Logging
public import Services

extension Gateway {
    /// The largest token request body read: a form with one assertion.
    static let maximumTokenRequestBytes = 64 << 10

    /// Mounts SMART Backend Services' open endpoints: `GET /.well-known/smart-configuration` and `POST /auth/token`
    /// (form-encoded `client_credentials` with a `private_key_jwt` assertion; OAuth 2.0 JSON errors).
    ///
    /// `tokenURL`, when given, is asked on each request for the token URL to advertise and to check `aud` against
    /// (a gateway told to listen on port 0 knows its port only once bound); else the issuer's is used.
    public static func addAuthRoutes(to router: Router<GatewayRequestContext>, issuer: TokenIssuer,
                                     tokenURL: (@Sendable () -> String)? = nil) {
        router.get("/.well-known/smart-configuration") { _, _ in
            authJSON(SMARTConfiguration(tokenEndpoint: tokenURL?() ?? issuer.tokenURL), status: .ok)
        }
        router.post("/auth/token") { request, context in
            let current = tokenURL?()
            let issuer = current.map { $0 == issuer.tokenURL ? issuer : issuer.at(tokenURL: $0) } ?? issuer
            return await tokenEndpoint(request, issuer: issuer, logger: context.logger)
        }
    }

    /// The token endpoint: every outcome is a JSON answer that must not be cached (RFC 6749 §5.1).
    /// Failures of the gateway itself (directory or store unreachable) are logged; the client only learns that it may
    /// try again, not paths or addresses.
    static func tokenEndpoint(_ request: Request, issuer: TokenIssuer, logger: Logger) async -> Response {
        var request = request
        do {
            let contentType = request.headers[.contentType] ?? ""
            guard contentType.lowercased().hasPrefix("application/x-www-form-urlencoded") else {
                throw TokenError(.invalidRequest, "the token request must be application/x-www-form-urlencoded")
            }
            let body: ByteBuffer
            do {
                body = try await request.collectBody(upTo: maximumTokenRequestBytes)
            } catch {
                throw TokenError(.invalidRequest, "the token request is over \(maximumTokenRequestBytes) bytes")
            }
            let form: TokenRequest
            do {
                form = try URLEncodedFormDecoder().decode(TokenRequest.self, from: String(buffer: body))
            } catch {
                throw TokenError(.invalidRequest, "the token request form cannot be read")
            }
            return authJSON(try await issuer.issue(form), status: .ok)
        } catch let error as TokenError {
            return authJSON(error.body, status: HTTPResponse.Status(code: error.httpStatus))
        } catch let error as ServiceError {
            logger.error("token endpoint: \(error)")
            let unavailable = error.httpStatus == 503
            let body = TokenError.Body(error: unavailable ? "temporarily_unavailable" : "server_error",
                                       errorDescription: unavailable ? "the client registry cannot be read now; try again later"
                                           : "the token could not be issued")
            return authJSON(body, status: HTTPResponse.Status(code: error.httpStatus))
        } catch {
            logger.error("token endpoint: \(error)")
            return authJSON(TokenError.Body(error: "server_error", errorDescription: "the token could not be issued"),
                        status: .internalServerError)
        }
    }

    /// A JSON response that no cache keeps.
    static func authJSON(_ value: some Encodable, status: HTTPResponse.Status) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let bytes = (try? encoder.encode(value)).map { Array($0) } ?? Array("{}".utf8)
        let headers: HTTPFields = [.contentType: "application/json", .cacheControl: "no-store"]
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}
