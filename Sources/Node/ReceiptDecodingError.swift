/// Why a receipt or consent proof cannot be read (before any of its checks run): what is wrong, and where — the
/// byte, line and column, and the member as an RFC 6901 JSON pointer (`/lightPath/2/commit/round`).
public struct ReceiptDecodingError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of failure; new kinds can be added without breaking callers.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Value: String, Sendable, Hashable {
            case tooLarge, truncated, malformed, tooDeep, member
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// Larger than ``ReceiptLimits/maxBytes``.
        public static let tooLarge = Code(.tooLarge)
        /// The JSON text ends before its top-level object does.
        public static let truncated = Code(.truncated)
        /// Not JSON, not an object, or JSON this format refuses (a member name twice in one object).
        public static let malformed = Code(.malformed)
        /// Nested deeper than ``ReceiptLimits/maxDepth``.
        public static let tooDeep = Code(.tooDeep)
        /// A member is missing, of the wrong type (`true` where an integer belongs), malformed, or longer than its limit.
        public static let member = Code(.member)

        public var description: String { value.rawValue }
    }

    /// The kind of failure.
    public let code: Code
    /// What was read: "receipt" or "consent proof".
    public let subject: String
    /// The member, as an RFC 6901 JSON pointer (`/block/commit/signatures/3/validator`); "" for the document itself.
    public let pointer: String
    /// The byte offset (from 0) of the offending value or byte; nil when there is none (the input is too large).
    public let offset: Int?
    /// The line and column (from 1, the column in bytes) of ``offset``.
    public let line: Int?
    public let column: Int?
    /// What is wrong, without the location.
    public let reason: String

    public init(_ code: Code, subject: String, pointer: String = "", offset: Int? = nil, line: Int? = nil, column: Int? = nil, reason: String) {
        self.code = code
        self.subject = subject
        self.pointer = pointer
        self.offset = offset
        self.line = line
        self.column = column
        self.reason = reason
    }

    /// The error for an input larger than ``ReceiptLimits/maxBytes``, which says the bound.
    public static func tooLarge(subject: String) -> ReceiptDecodingError {
        ReceiptDecodingError(.tooLarge, subject: subject,
                             reason: "is larger than \(ReceiptLimits.maxBytes) bytes (\(ReceiptLimits.maxBytes >> 20) MiB), the most a receipt or consent proof may have")
    }

    /// `line 12, column 21, byte 345`, or "" without an offset.
    public var location: String {
        guard let offset else { return "" }
        guard let line, let column else { return "byte \(offset)" }
        return "line \(line), column \(column), byte \(offset)"
    }

    public var description: String {
        let at = location.isEmpty ? "" : " at \(location)"
        switch code {
        case .tooLarge: return "the \(subject) \(reason)"
        case .truncated: return "the \(subject) is truncated\(at): \(reason)"
        case .member: return "\(subject) member \(pointer.isEmpty ? "/" : pointer)\(location.isEmpty ? "" : " (\(location))") \(reason)"
        default: return "the \(subject) is not valid JSON\(at)\(pointer.isEmpty ? "" : ", in member \(pointer)"): \(reason)"
        }
    }
}
