/// Every bound FHIRCore enforces on untrusted input, in one place.
///
/// The defaults are generous for real EHR exports and small enough that a hostile document is refused
/// in bounded time and memory. Callers that import unusually large attachments can raise them.
public struct FHIRLimits: Sendable, Hashable {
    /// Largest document (one resource or Bundle) that is parsed at all, in bytes.
    public var maxDocumentBytes: Int
    /// Deepest nesting of JSON objects/arrays or XML elements.
    public var maxDepth: Int
    /// Longest single string or attribute value, in UTF-8 bytes.
    public var maxStringBytes: Int

    public init(maxDocumentBytes: Int = 64 << 20, maxDepth: Int = 128, maxStringBytes: Int = 32 << 20) {
        self.maxDocumentBytes = maxDocumentBytes
        self.maxDepth = maxDepth
        self.maxStringBytes = maxStringBytes
    }

    /// The limits used when none are given.
    public static let `default` = FHIRLimits()
}
