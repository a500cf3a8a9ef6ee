/// Why FHIRCore refused an input: what went wrong, where, and in words a hospital integration engineer can act on.
///
/// Converts to a FHIR ``OperationOutcome`` at the edge (``OperationOutcome/init(error:)``).
public struct FHIRError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of problem. New codes can be added without breaking callers.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable, Hashable {
            case malformedJSON, malformedXML, invalidUTF8, tooDeep, tooLarge, duplicateMember
            case forbiddenXMLConstruct, notAResource, unknownResourceType, unknownElement
            case invalidPrimitive, cardinality, invalidChoice, wrongValueKind, emptyValue
            case invalidNarrative, unsupportedInput, foreignNamespace, unsafeNarrative
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The text is not well-formed JSON.
        public static let malformedJSON = Code(.malformedJSON)
        /// The text is not well-formed XML.
        public static let malformedXML = Code(.malformedXML)
        /// The bytes are not valid UTF-8.
        public static let invalidUTF8 = Code(.invalidUTF8)
        /// Nesting exceeds ``FHIRLimits/maxDepth``.
        public static let tooDeep = Code(.tooDeep)
        /// The document or a string exceeds ``FHIRLimits``.
        public static let tooLarge = Code(.tooLarge)
        /// A JSON object names the same member twice.
        public static let duplicateMember = Code(.duplicateMember)
        /// A DTD, entity declaration or external entity reference: never allowed in FHIR XML.
        public static let forbiddenXMLConstruct = Code(.forbiddenXMLConstruct)
        /// The top level is not a resource (no `resourceType`, not an object, wrong XML namespace).
        public static let notAResource = Code(.notAResource)
        /// `resourceType` (or the XML root) names no FHIR R4 resource.
        public static let unknownResourceType = Code(.unknownResourceType)
        /// An element that the type does not define.
        public static let unknownElement = Code(.unknownElement)
        /// A primitive whose lexical form is wrong for its type.
        public static let invalidPrimitive = Code(.invalidPrimitive)
        /// Too few or too many values, or an array where one value belongs (or the reverse).
        public static let cardinality = Code(.cardinality)
        /// A choice element (`value[x]`) with a type it does not allow, or given more than once.
        public static let invalidChoice = Code(.invalidChoice)
        /// A JSON value of the wrong kind (a string where a boolean belongs).
        public static let wrongValueKind = Code(.wrongValueKind)
        /// An empty string, object or array, which FHIR forbids.
        public static let emptyValue = Code(.emptyValue)
        /// The narrative `div` is not well-formed XHTML.
        public static let invalidNarrative = Code(.invalidNarrative)
        /// The input is neither FHIR JSON nor FHIR XML.
        public static let unsupportedInput = Code(.unsupportedInput)
        /// An XML element or attribute in a namespace where FHIR defines none (only the FHIR namespace, and XHTML
        /// inside the narrative `div`, are FHIR).
        public static let foreignNamespace = Code(.foreignNamespace)
        /// The narrative holds what FHIR's txt-1 does not allow: active content (script, event handlers,
        /// `javascript:` URLs) or elements beyond basic XHTML.
        public static let unsafeNarrative = Code(.unsafeNarrative)

        public var description: String { base.rawValue }

        /// The FHIR IssueType code (http://hl7.org/fhir/issue-type) that fits this problem.
        public var issueType: String {
            switch base {
            case .malformedJSON, .malformedXML, .invalidUTF8, .duplicateMember, .notAResource, .unsupportedInput, .foreignNamespace:
                "structure"
            case .tooDeep, .tooLarge: "too-costly"
            case .forbiddenXMLConstruct, .unsafeNarrative: "security"
            case .unknownResourceType, .unknownElement, .wrongValueKind, .invalidChoice: "structure"
            case .invalidPrimitive, .emptyValue, .invalidNarrative: "value"
            case .cardinality: "required"
            }
        }
    }

    public let code: Code
    /// Where the problem is, as precisely as the reader knows it.
    public let location: SourceLocation?
    /// What is wrong, in one sentence.
    public let reason: String

    public init(_ code: Code, _ reason: String, at location: SourceLocation? = nil) {
        self.code = code
        self.reason = reason
        self.location = location
    }

    public var description: String {
        if let location { return "\(reason) (\(location))" }
        return reason
    }
}
