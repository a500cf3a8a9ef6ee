/// The two FHIR wire formats the record core reads and writes.
public enum FHIRFormat: String, Sendable, Hashable, CaseIterable {
    case json
    case xml

    /// Detects the format from the first significant byte (after a UTF-8 byte order mark and whitespace):
    /// `{` is JSON, `<` is XML.
    public static func detect(_ bytes: UnsafeRawBufferPointer) -> FHIRFormat? {
        var i = 0
        if bytes.count >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF { i = 3 }
        while i < bytes.count {
            switch bytes[i] {
            case 0x20, 0x09, 0x0A, 0x0D: i += 1
            case UInt8(ascii: "{"): return .json
            case UInt8(ascii: "<"): return .xml
            default: return nil
            }
        }
        return nil
    }

    public static func detect(_ bytes: [UInt8]) -> FHIRFormat? {
        bytes.withUnsafeBytes { detect($0) }
    }
}

/// A resource read from bytes in either format.
public struct FHIRDocument: Sendable {
    public var resource: Resource
    public var format: FHIRFormat

    public init(resource: Resource, format: FHIRFormat) {
        self.resource = resource
        self.format = format
    }

    /// Detects the format and parses the resource.
    public static func read(_ bytes: [UInt8], limits: FHIRLimits = .default) throws(FHIRError) -> FHIRDocument {
        switch FHIRFormat.detect(bytes) {
        case .json:
            return FHIRDocument(resource: try JSONReader(limits: limits).read(bytes), format: .json)
        case .xml:
            return FHIRDocument(resource: try XMLReader(limits: limits).read(bytes), format: .xml)
        case nil:
            throw FHIRError(.unsupportedInput, "the input is neither FHIR JSON (starts with '{') nor FHIR XML (starts with '<')", at: SourceLocation(line: 1, column: 1))
        }
    }

    /// Detects the format and returns the resource's canonical bytes (docs/canonical-form.md). JSON is
    /// canonicalized straight from its ``JSONTape``, without building the tree; XML through the tree.
    public static func canonicalBytes(_ bytes: [UInt8], limits: FHIRLimits = .default) throws(FHIRError) -> [UInt8] {
        if FHIRFormat.detect(bytes) == .json {
            let tape = try JSONReader(limits: limits).readTape(bytes)
            try tape.requireResource()
            return try CanonicalForm.bytes(of: tape)
        }
        return try CanonicalForm.bytes(of: read(bytes, limits: limits).resource)
    }

    /// Parses and validates, returning every problem found as one OperationOutcome. For XML input each
    /// issue's location gets the line and column of the element as well as its JSON pointer.
    public static func validate(_ bytes: [UInt8], limits: FHIRLimits = .default) -> OperationOutcome {
        check(bytes, limits: limits).outcome
    }

    /// A resource refused by ``readValidated(_:limits:)`` or ``validatedCanonicalBytes(_:limits:)``: the
    /// OperationOutcome ``validate(_:limits:)`` gives for the same bytes.
    public struct Rejection: Error, Sendable {
        /// Every problem found, with its JSON pointer (and line and column for XML).
        public let outcome: OperationOutcome
    }

    /// Detects the format, parses and validates: the resource only if ``validate(_:limits:)`` finds no error,
    /// so that converting, canonicalizing or hashing refuses exactly what validating refuses.
    public static func readValidated(_ bytes: [UInt8], limits: FHIRLimits = .default) throws(Rejection) -> FHIRDocument {
        let checked = check(bytes, limits: limits)
        guard !checked.outcome.hasErrors, let parsed = checked.parsed else { throw Rejection(outcome: checked.outcome) }
        switch parsed {
        case .json(let tape):
            do throws(FHIRError) {
                return FHIRDocument(resource: try Resource(tape.value()), format: .json)
            } catch {
                throw Rejection(outcome: OperationOutcome(error: error))
            }
        case .xml(let resource):
            return FHIRDocument(resource: resource, format: .xml)
        }
    }

    /// ``canonicalBytes(_:limits:)`` of a resource that ``validate(_:limits:)`` accepts; JSON still goes
    /// straight from its tape.
    public static func validatedCanonicalBytes(_ bytes: [UInt8], limits: FHIRLimits = .default) throws(Rejection) -> [UInt8] {
        let checked = check(bytes, limits: limits)
        guard !checked.outcome.hasErrors, let parsed = checked.parsed else { throw Rejection(outcome: checked.outcome) }
        do throws(FHIRError) {
            switch parsed {
            case .json(let tape): return try CanonicalForm.bytes(of: tape)
            case .xml(let resource): return try CanonicalForm.bytes(of: resource)
            }
        } catch {
            throw Rejection(outcome: OperationOutcome(error: error))
        }
    }

    /// What ``check(_:limits:)`` parsed: a JSON document stays a tape (validated and canonicalized without a tree).
    private enum Parsed {
        case json(JSONTape)
        case xml(Resource)
    }

    /// Parses and validates once, for every command: the parse (nil when it failed) and the outcome. XML is
    /// parsed again with locations only when there are issues to place.
    private static func check(_ bytes: [UInt8], limits: FHIRLimits) -> (parsed: Parsed?, outcome: OperationOutcome) {
        let parsed: Parsed
        var issues: [OperationOutcome.Issue]
        do throws(FHIRError) {
            switch FHIRFormat.detect(bytes) {
            case .json:
                let tape = try JSONReader(limits: limits).readTape(bytes)
                try tape.requireResource()
                parsed = .json(tape)
                issues = Validator(limits: limits).validate(tape)
            case .xml:
                let reader = XMLReader(limits: limits)
                let resource = try reader.read(bytes)
                parsed = .xml(resource)
                issues = Validator(limits: limits).validate(resource)
                if !issues.isEmpty {
                    let locations = try reader.readWithLocations(bytes).1
                    for i in issues.indices {
                        guard let pointer = issues[i].location.first, let loc = nearestLocation(pointer, in: locations), let line = loc.line else { continue }
                        issues[i].location.append(loc.column.map { "line \(line), column \($0)" } ?? "line \(line)")
                    }
                }
            case nil:
                throw FHIRError(.unsupportedInput, "the input is neither FHIR JSON (starts with '{') nor FHIR XML (starts with '<')", at: SourceLocation(line: 1, column: 1))
            }
        } catch {
            return (nil, OperationOutcome(error: error))
        }
        return (parsed, OperationOutcome(issues: issues))
    }

    /// The location of `pointer`, or of its nearest ancestor that has one (a missing element is reported
    /// at its parent).
    static func nearestLocation(_ pointer: String, in locations: [String: SourceLocation]) -> SourceLocation? {
        var p = Substring(pointer)
        while true {
            if let loc = locations[String(p)] { return loc }
            guard let slash = p.lastIndex(of: "/") else { return nil }
            p = p[..<slash]
        }
    }
}
