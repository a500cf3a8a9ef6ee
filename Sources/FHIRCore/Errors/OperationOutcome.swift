/// A FHIR R4 OperationOutcome: the one shape in which CareLedger reports rejected input.
public struct OperationOutcome: Sendable, Equatable {
    /// One problem, with where it is.
    public struct Issue: Sendable, Equatable {
        /// fatal | error | warning | information (http://hl7.org/fhir/issue-severity).
        public var severity: String
        /// An IssueType code (http://hl7.org/fhir/issue-type): structure, value, required, security, too-costly…
        public var code: String
        /// What is wrong, for a person.
        public var diagnostics: String
        /// Where in the source: a JSON pointer and/or `line L, column C`.
        public var location: [String]
        /// Where in the resource, as a FHIRPath-style path (`Patient.name[0].given`), when known.
        public var expression: [String]

        /// Whether the issue rejects the input (severity `error` or `fatal`, not a warning).
        public var isError: Bool { severity == "error" || severity == "fatal" }

        public init(severity: String = "error", code: String, diagnostics: String, location: [String] = [], expression: [String] = []) {
            self.severity = severity
            self.code = code
            self.diagnostics = diagnostics
            self.location = location
            self.expression = expression
        }

        /// The issue for one ``FHIRError``.
        public init(error: FHIRError, severity: String = "error") {
            var location: [String] = []
            if let loc = error.location {
                if let p = loc.pointer { location.append(p) }
                if let line = loc.line {
                    location.append(loc.column.map { "line \(line), column \($0)" } ?? "line \(line)")
                }
            }
            self.init(severity: severity, code: error.code.issueType, diagnostics: error.reason, location: location)
        }
    }

    public var issues: [Issue]

    public init(issues: [Issue]) {
        self.issues = issues
    }

    /// An outcome with one fatal issue for an input that could not be read at all.
    public init(error: FHIRError) {
        issues = [Issue(error: error, severity: error.code.issueType == "structure" || error.code.issueType == "security" || error.code.issueType == "too-costly" ? "fatal" : "error")]
    }

    /// True when any issue is fatal or an error.
    public var hasErrors: Bool { issues.contains(where: \.isError) }

    /// The outcome as a FHIR resource tree (ready for ``JSONWriter`` or ``XMLWriter``).
    public var resource: FHIRObject {
        var root = FHIRObject(["resourceType": .string("OperationOutcome")])
        let list: [FHIRValue] = (issues.isEmpty
            ? [Issue(severity: "information", code: "informational", diagnostics: "No issues found")]
            : issues).map { issue in
                var o = FHIRObject([
                    "severity": .string(issue.severity),
                    "code": .string(issue.code),
                    "diagnostics": .string(issue.diagnostics),
                ])
                if !issue.location.isEmpty { o["location"] = .array(issue.location.map(FHIRValue.string)) }
                if !issue.expression.isEmpty { o["expression"] = .array(issue.expression.map(FHIRValue.string)) }
                return .object(o)
            }
        root["issue"] = .array(list)
        return root
    }
}
