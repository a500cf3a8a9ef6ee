import FHIRCore
public import Hummingbird
import Logging
import Services

/// The one place where failures become HTTP: any error a route throws leaves as its status with an
/// OperationOutcome body, in JSON or XML as the request negotiated (JSON when the negotiation itself failed).
///
/// - ``ServiceError``: its ``ServiceError/httpStatus`` and ``ServiceError/operationOutcome``.
/// - ``FHIRError``: a body the gateway could not read or that fails validation, 422 with its location.
/// - Hummingbird's own errors: the router's "no route" becomes 404 for an unknown path and 405 (with `Allow`) for
///   a method a FHIR path does not allow; an oversized body 413; anything else its status.
/// - Anything else is a 500 whose body names no internals; the error is logged.
///
/// It is the router's first middleware, so it also wraps the authentication middleware and every route.
public struct OperationOutcomeMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    public func handle(_ request: Request, context: Context,
                       next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let failure = Self.serviceError(for: error, request: request, logger: context.logger)
            return Self.response(for: failure, request: request)
        }
    }

    /// The ``ServiceError`` that any thrown error stands for.
    static func serviceError(for error: any Error, request: Request, logger: Logger) -> ServiceError {
        switch error {
        case let failure as ServiceError:
            if failure.httpStatus >= 500 {
                logger.error("\(request.method) \(request.uri.path): \(failure)")
            }
            return failure
        case let failure as FHIRError:
            return ServiceError(failure)
        case let failure as HTTPError:
            return serviceError(status: failure.status, message: failure.body, request: request)
        case let failure as any HTTPResponseError:
            // NIO's and Hummingbird's own (a body over the upload limit is NIOTooManyBytesError, 413).
            return serviceError(status: failure.status, message: nil, request: request)
        default:
            logger.error("\(request.method) \(request.uri.path) failed: \(String(describing: type(of: error))): \(error)")
            return ServiceError(.internal, "the request failed inside the gateway; the gateway's log has the details")
        }
    }

    /// Hummingbird's errors: the router's 404 is told apart into an unknown path (404) and a method the FHIR path
    /// does not allow (405).
    static func serviceError(status: HTTPResponse.Status, message: String?, request: Request) -> ServiceError {
        switch status {
        case .notFound:
            let allowed = FHIRPathShape.allowedMethods(forPath: request.uri.path)
            if !allowed.isEmpty, !allowed.contains(request.method) {
                return ServiceError(.methodNotAllowed, "\(request.method) is not allowed on \(request.uri.path); allowed: \(allowed.map(\.rawValue).joined(separator: ", "))")
            }
            return ServiceError(.notFound, "no FHIR interaction at \(request.method) \(request.uri.path)")
        case .contentTooLarge:
            return ServiceError(.tooLarge, "the request body is larger than the gateway accepts")
        case .badRequest:
            return ServiceError(.invalidRequest, message ?? "the request is malformed")
        case .unsupportedMediaType:
            return ServiceError(.unsupportedMediaType, message ?? "unsupported Content-Type")
        case .unauthorized:
            return ServiceError(.unauthorized, message ?? "authentication required")
        case .forbidden:
            return ServiceError(.forbidden, message ?? "forbidden")
        default:
            return ServiceError(status.code >= 500 ? .internal : .invalidRequest,
                                message ?? "\(status.code) \(status.reasonPhrase)")
        }
    }

    /// The error's response: its status, its OperationOutcome in the negotiated format, `Allow` on a 405.
    static func response(for failure: ServiceError, request: Request) -> Response {
        let negotiation = FHIRNegotiation.lenient(request)
        var headers = HTTPFields()
        if failure.code == .methodNotAllowed {
            let allowed = FHIRPathShape.allowedMethods(forPath: request.uri.path)
            if !allowed.isEmpty { headers[.allow] = allowed.map(\.rawValue).joined(separator: ", ") }
        }
        if failure.code == .unauthorized, headers[.wwwAuthenticate] == nil {
            headers[.wwwAuthenticate] = "Bearer"
        }
        let status = HTTPResponse.Status(code: failure.httpStatus)
        let body: [UInt8]
        do {
            body = try FHIRRepresentation.bytes(of: Resource(failure.operationOutcome.resource), negotiation: negotiation)
        } catch {
            // An outcome that XML cannot carry (a diagnostic with a control character): JSON always can.
            let json = FHIRNegotiation(format: .json, pretty: negotiation.pretty)
            let bytes = (try? FHIRRepresentation.bytes(of: Resource(failure.operationOutcome.resource), negotiation: json)) ?? []
            return FHIRRepresentation.response(body: bytes, status: status, negotiation: json, headers: headers)
        }
        return FHIRRepresentation.response(body: body, status: status, negotiation: negotiation, headers: headers)
    }
}
