public import FHIRCore

/// A use case's failure, with what failed and where: the one error type the application layer throws, so that the
/// command-line tool and the HTTP gateway map it the same way (``exitCode``, ``httpStatus``, ``operationOutcome``),
/// each in one place.
public struct ServiceError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure it is; the edge's mapping depends on it alone.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable, Hashable {
            case invalidRequest = "invalid-request"
            case unauthorized, forbidden
            case notFound = "not-found"
            case methodNotAllowed = "method-not-allowed"
            case notAcceptable = "not-acceptable"
            case conflict
            case gone
            case preconditionFailed = "precondition-failed"
            case tooLarge = "too-large"
            case unsupportedMediaType = "unsupported-media-type"
            case unprocessable
            case tooManyRequests = "too-many-requests"
            case notReady = "not-ready"
            case unavailable
            case configuration
            case `internal`
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The request itself is wrong: a malformed parameter, an unknown search parameter under strict handling.
        public static let invalidRequest = Code(.invalidRequest)
        /// No credentials, or credentials that are expired or invalid.
        public static let unauthorized = Code(.unauthorized)
        /// Authenticated, but not allowed: out of scope, or refused by the patient's consent.
        public static let forbidden = Code(.forbidden)
        public static let notFound = Code(.notFound)
        public static let methodNotAllowed = Code(.methodNotAllowed)
        public static let notAcceptable = Code(.notAcceptable)
        /// A version conflict or a duplicate that the request did not expect.
        public static let conflict = Code(.conflict)
        /// The resource existed and was deleted.
        public static let gone = Code(.gone)
        /// `If-Match` named another version.
        public static let preconditionFailed = Code(.preconditionFailed)
        public static let tooLarge = Code(.tooLarge)
        public static let unsupportedMediaType = Code(.unsupportedMediaType)
        /// Well-formed but refused by validation or by the ledger: the issues say what and where.
        public static let unprocessable = Code(.unprocessable)
        public static let tooManyRequests = Code(.tooManyRequests)
        /// Not yet: a version not anchored yet, a chain with no block yet. Try again later.
        public static let notReady = Code(.notReady)
        /// A service this one needs (the store, the node) cannot be reached.
        public static let unavailable = Code(.unavailable)
        /// The node's configuration is unusable.
        public static let configuration = Code(.configuration)
        /// A bug or an unexpected failure midway.
        public static let `internal` = Code(.internal)

        public var description: String { base.rawValue }
    }

    /// What kind of failure.
    public var code: Code
    /// One sentence for a person: what failed, naming the input.
    public var reason: String
    /// The FHIR issues behind it (validation problems with their pointers), when there are any.
    public var issues: [OperationOutcome.Issue]

    public init(_ code: Code, _ reason: String, issues: [OperationOutcome.Issue] = []) {
        self.code = code
        self.reason = reason
        self.issues = issues
    }

    /// A FHIR problem with the input (parse or validation), as an unprocessable request with its location.
    public init(_ error: FHIRError) {
        self.init(.unprocessable, error.description, issues: [OperationOutcome.Issue(error: error)])
    }

    public var description: String { "\(code): \(reason)" }

    /// The HTTP status the gateway answers with.
    public var httpStatus: Int {
        switch code {
        case .invalidRequest: 400
        case .unauthorized: 401
        case .forbidden: 403
        case .notFound: 404
        case .methodNotAllowed: 405
        case .notAcceptable: 406
        case .conflict: 409
        case .gone: 410
        case .preconditionFailed: 412
        case .tooLarge: 413
        case .unsupportedMediaType: 415
        case .unprocessable: 422
        case .tooManyRequests: 429
        case .notReady: 503
        case .unavailable: 503
        case .configuration: 500
        default: 500
        }
    }

    /// The command-line tool's exit code (README, "Command line"; `careledger --help`).
    public var exitCode: Int32 {
        switch code {
        case .invalidRequest, .methodNotAllowed, .notAcceptable, .unsupportedMediaType: 64
        case .notFound: 66
        case .unavailable: 69
        case .notReady, .tooManyRequests: 75
        case .configuration: 78
        case .internal: 70
        default: 1
        }
    }

    /// The FHIR issue type (`issue.code`) of the summary issue.
    public var issueType: String {
        switch code {
        case .invalidRequest: "invalid"
        case .unauthorized: "login"
        case .forbidden: "forbidden"
        case .notFound, .gone: "not-found"
        case .methodNotAllowed, .notAcceptable, .unsupportedMediaType: "not-supported"
        case .conflict, .preconditionFailed: "conflict"
        case .tooLarge: "too-costly"
        case .unprocessable: "processing"
        case .tooManyRequests: "throttled"
        case .notReady: "transient"
        case .unavailable: "transient"
        default: "exception"
        }
    }

    /// The OperationOutcome every 4xx and 5xx carries: the FHIR issues when there are any, else one issue with the
    /// reason.
    public var operationOutcome: OperationOutcome {
        if !issues.isEmpty { return OperationOutcome(issues: issues) }
        return OperationOutcome(issues: [OperationOutcome.Issue(severity: "error", code: issueType, diagnostics: reason)])
    }
}
