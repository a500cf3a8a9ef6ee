/// Structural validation of a resource against the FHIR R4 type table.
///
/// It checks what the base specification's structure says, everywhere in the tree (contained resources and Bundle
/// entries included): known resource types and elements, JSON value kinds, arrays exactly where an element
/// repeats, the lexical form of every primitive, cardinality, choice elements (`value[x]`) used with an allowed
/// type and only once, the `_element` twins of primitives (shape and alignment with their arrays), no empty
/// strings, objects or arrays, and a well-formed narrative div of basic XHTML without active content (txt-1,
/// ``NarrativePolicy``). It does not evaluate other invariants (FHIRPath constraints), terminology bindings or
/// profiles.
///
/// Every issue names its place twice: `location` holds the JSON pointer (`/name/0/given/1`) and `expression` the
/// FHIRPath-style path (`Patient.name[0].given[1]`). Validation is bounded: it visits each value once, and the
/// tree it walks was already bounded by the reader's ``FHIRLimits``.
public struct Validator: Sendable {
    public let table: TypeTable
    public let limits: FHIRLimits
    /// Stop after this many issues (a hostile document cannot make the outcome unbounded).
    public var maxIssues: Int = 1000

    public init(table: TypeTable = .r4, limits: FHIRLimits = .default) {
        self.table = table
        self.limits = limits
    }

    /// The problems in `resource`; empty when it is structurally valid.
    public func validate(_ resource: Resource) -> [OperationOutcome.Issue] {
        validate(JSONTape(resource))
    }

    /// The problems in the resource a tape holds (``JSONReader/readTape(_:)``), read straight from the tape.
    public func validate(_ tape: JSONTape) -> [OperationOutcome.Issue] {
        var run = Run(tape: tape, table: table, maxIssues: maxIssues, maxDepth: limits.maxDepth)
        guard tape.kind(at: 0) == .object else {
            run.report(.notAResource, "a resource is a JSON object, found \(tape.kindName(at: 0))")
            return run.issues
        }
        run.resource(0, expected: nil)
        return run.issues
    }

    /// The same, as an OperationOutcome.
    public func outcome(_ resource: Resource) -> OperationOutcome {
        OperationOutcome(issues: validate(resource))
    }
}

/// One validation pass: the path to the current value and the issues so far.
private struct Run {
    typealias Value = Int
    enum Step {
        case member(String)
        /// A member named by its name node in the tape (the String is made only if an issue needs it).
        case name(Int)
        case index(Int)
    }

    /// The document; values are its node indices.
    let tape: JSONTape
    let table: TypeTable
    let maxIssues: Int
    let maxDepth: Int
    var issues: [OperationOutcome.Issue] = []
    /// The JSON path from the root to the value being checked.
    var steps: [Step] = []
    /// The FHIRPath root of each resource on the path (`Patient`, then `Bundle` for an entry's resource …).
    var resourceStarts: [(index: Int, type: String)] = []
    /// Per open object, one slot per element of its type: how many values it has …
    var counts: [Int] = []
    /// … and the choice name (`valueQuantity`) it was given with: an index into ``choiceNameTexts``, -1 for none
    /// (integers, so opening an object's frame copies no strings).
    var choiceNames: [Int32] = []
    var choiceNameTexts: [String] = []

    init(tape: JSONTape, table: TypeTable, maxIssues: Int, maxDepth: Int) {
        self.tape = tape
        self.table = table
        self.maxIssues = maxIssues
        self.maxDepth = maxDepth
    }

    // MARK: Reporting

    mutating func report(_ code: FHIRError.Code, _ message: String, extra: Step? = nil) {
        guard issues.count < maxIssues else { return }
        if let extra { steps.append(extra) }
        defer { if extra != nil { steps.removeLast() } }
        issues.append(OperationOutcome.Issue(
            severity: "error", code: code.issueType, diagnostics: message, location: [pointer], expression: [expression]
        ))
        if issues.count == maxIssues {
            issues.append(OperationOutcome.Issue(
                severity: "error", code: "too-costly", diagnostics: "validation stopped after \(maxIssues) issues"
            ))
        }
    }

    /// RFC 6901 pointer of the current position.
    var pointer: String {
        var out = ""
        for step in steps {
            out += "/"
            switch step {
            case .member, .name:
                let name = self.name(step)
                if name.contains("~") || name.contains("/") {
                    out += name.replacingTilde()
                } else {
                    out += name
                }
            case .index(let i):
                out += String(i)
            }
        }
        return out
    }

    /// FHIRPath-style path of the current position: `Patient.name[0].given[1]`; `_given` reads as `given`.
    var expression: String {
        var out = ""
        var start = 0
        if let last = resourceStarts.last {
            start = last.index
            // Nested resources: the path from the outer resource, then the inner one's elements.
            out = resourceStarts.count > 1 ? outerExpression(upTo: last.index) : last.type
        }
        for step in steps[start...] {
            switch step {
            case .member, .name:
                let name = self.name(step)
                if !out.isEmpty { out += "." }
                out += name.hasPrefix("_") ? String(name.dropFirst()) : name
            case .index(let i):
                out += "[\(i)]"
            }
        }
        return out
    }

    private func outerExpression(upTo index: Int) -> String {
        var out = resourceStarts.first?.type ?? ""
        for step in steps[..<index] {
            switch step {
            case .member, .name: out += "." + name(step)
            case .index(let i): out += "[\(i)]"
            }
        }
        return out
    }

    /// The member name of a step (empty for an index).
    func name(_ step: Step) -> String {
        switch step {
        case .member(let name): name
        case .name(let node): tape.text(at: node)
        case .index: ""
        }
    }

    // MARK: Resources

    mutating func resource(_ object: Value, expected: String?) {
        guard let typeIndex = tape.member("resourceType", of: object), let type = tape.string(at: typeIndex) else {
            report(.notAResource, "a resource needs a resourceType (a string)", extra: .member("resourceType"))
            return
        }
        guard table.isResourceType(type), let definition = table.type(type) else {
            report(.unknownResourceType, "'\(type)' is not a FHIR R4 resource type", extra: .member("resourceType"))
            return
        }
        if let expected, expected != "Resource", expected != "DomainResource", expected != type {
            report(.wrongValueKind, "expected a \(expected) resource here, found \(type)", extra: .member("resourceType"))
        }
        resourceStarts.append((steps.count, type))
        defer { resourceStarts.removeLast() }
        complex(object, definition, isResource: true)
    }

    // MARK: Complex types and backbone elements

    mutating func complex(_ object: Value, _ definition: TypeDefinition, isResource: Bool = false) {
        guard steps.count <= maxDepth * 2 else {
            report(.tooDeep, "nesting is deeper than \(maxDepth) levels")
            return
        }
        if tape.count(of: object) == 0 {
            report(.emptyValue, "an object must have content: FHIR forbids empty objects")
            return
        }
        // How many values each element has (`given` and `_given` together), and which choice name was used: a
        // frame of its own on two stacks shared by the whole pass, so an object costs no allocation.
        let frame = counts.count
        let elementCount = definition.elements.count
        counts.append(contentsOf: repeatElement(0, count: elementCount))
        choiceNames.append(contentsOf: repeatElement(-1, count: elementCount))
        defer {
            counts.removeLast(elementCount)
            choiceNames.removeLast(elementCount)
        }

        for member in tape.members(of: object) {
            let (first, match) = tape.withBytes(at: member.name) { bytes in (bytes.first, definition.element(named: bytes)) }
            if let match {
                countValues(match, nameNode: member.name, frame: frame, values: member.value)
                steps.append(.name(member.name))
                elementValue(member.value, match, in: object)
                steps.removeLast()
                continue
            }
            let name = tape.text(at: member.name)
            if isResource && name == "resourceType" { continue }
            if first == UInt8(ascii: "_") {
                let base = String(name.dropFirst())
                guard let match = definition.element(named: base) else {
                    report(.unknownElement, "'\(base)' is not an element of \(definition.name)", extra: .member(name))
                    continue
                }
                guard let primitive = table.type(match.type), primitive.kind == .primitive else {
                    report(.unknownElement, "'\(name)' is only allowed for primitive elements; \(base) is a \(match.type)", extra: .member(name))
                    continue
                }
                let values = tape.member(base, of: object)
                countValues(match, name: base, frame: frame, values: values == nil ? member.value : nil)
                steps.append(.member(name))
                primitiveExtras(member.value, match, primitive, values: values)
                steps.removeLast()
                continue
            }
            if let choice = choiceBase(of: name, in: definition) {
                report(.invalidChoice, "\(definition.name).\(choice.name)[x] does not allow '\(name)'; allowed: \(choice.types.map { choice.jsonName(for: $0) }.joined(separator: ", "))", extra: .member(name))
            } else {
                report(.unknownElement, "'\(name)' is not an element of \(definition.name)", extra: .member(name))
            }
        }

        // Bounds as plain integers: the elements themselves are read only for a report.
        definition.cardinality.withUnsafeBufferPointer { bounds in
            for i in 0..<elementCount {
                let count = counts[frame + i]
                guard count < bounds[i].min || count > bounds[i].max else { continue }
                let element = definition.elements[i]
                let label = element.isChoice ? element.name + "[x]" : element.name
                if count < element.min {
                    report(.cardinality, "\(definition.name).\(label) is required (min \(element.min)), found \(count)", extra: .member(element.name))
                } else if let max = element.max, count > max, !element.isChoice {
                    report(.cardinality, "\(definition.name).\(label) allows at most \(max), found \(count)", extra: .member(element.name))
                }
            }
        }
    }

    /// ``countValues(_:name:frame:values:)`` for a member named by its name node: the name is read only for
    /// a choice element.
    mutating func countValues(_ match: ElementMatch, nameNode: Int, frame: Int, values: Value?) {
        if match.element.isChoice {
            countValues(match, name: tape.text(at: nameNode), frame: frame, values: values)
        } else if let value = values {
            let i = frame + match.position
            if tape.kind(at: value) == .array { counts[i] += tape.count(of: value) } else { counts[i] += 1 }
        }
    }

    /// Counts one element's values for the cardinality check, and reports a second choice name for one element.
    mutating func countValues(_ match: ElementMatch, name: String, frame: Int, values: Value?) {
        let i = frame + match.position
        if match.element.isChoice {
            let previousIndex = choiceNames[i]
            if previousIndex >= 0 {
                let previous = choiceNameTexts[Int(previousIndex)]
                if previous != name {
                    report(.invalidChoice, "\(match.element.name)[x] is given twice, as '\(previous)' and '\(name)'; a choice element takes one type", extra: .member(name))
                }
            }
            choiceNames[i] = Int32(truncatingIfNeeded: choiceNameTexts.count)
            choiceNameTexts.append(name)
        }
        guard let value = values else { return }
        if tape.kind(at: value) == .array { counts[i] += tape.count(of: value) } else { counts[i] += 1 }
    }

    /// The choice element that `name` was probably meant for (`valueFoo` → `value[x]`), nil when none.
    func choiceBase(of name: String, in definition: TypeDefinition) -> ElementDefinition? {
        definition.elements.first { element in
            guard element.isChoice, name.hasPrefix(element.name), name.count > element.name.count else { return false }
            let next = name[name.index(name.startIndex, offsetBy: element.name.count)]
            return next.isUppercase
        }
    }

    // MARK: Element values

    /// One element's JSON value (an array for repeating elements). `parent` holds the `_name` twin, looked up
    /// only when a null in the array needs it.
    mutating func elementValue(_ value: Value, _ match: ElementMatch, in parent: Value) {
        let element = match.element
        if element.isArray {
            guard tape.kind(at: value) == .array else {
                report(.cardinality, "\(element.name) repeats, so it must be a JSON array, found \(tape.kindName(at: value))")
                return
            }
            if tape.count(of: value) == 0 {
                report(.emptyValue, "an array must have content: FHIR forbids empty arrays")
                return
            }
            var twinItems: [Value]?
            for (i, item) in tape.items(of: value).enumerated() {
                steps.append(.index(i))
                if tape.kind(at: item) == .null {
                    if twinItems == nil, let t = tape.member("_" + element.name, of: parent), tape.kind(at: t) == .array {
                        twinItems = Array(tape.items(of: t))
                    }
                    let twinHasValue: Bool
                    if let t = twinItems, i < t.count, tape.kind(at: t[i]) == .object { twinHasValue = true } else { twinHasValue = false }
                    if !twinHasValue {
                        report(.emptyValue, "null in \(element.name) is only allowed where _\(element.name) has extensions at the same index")
                    }
                } else {
                    single(item, match)
                }
                steps.removeLast()
            }
        } else {
            if tape.kind(at: value) == .array {
                report(.cardinality, "\(element.name) does not repeat (max 1), so it must not be an array")
                return
            }
            single(value, match)
        }
    }

    /// One value of an element, by the element's type.
    mutating func single(_ value: Value, _ match: ElementMatch) {
        let type = match.type
        if type == "xhtml" || match.element.representation == .xhtml {
            narrative(value)
            return
        }
        guard let index = match.typeIndex else { return }  // every type the table names is in the table
        let definition = table.definition(at: index)
        if definition.kind == .resource {
            guard tape.kind(at: value) == .object else {
                report(.wrongValueKind, "expected a resource (a JSON object), found \(tape.kindName(at: value))")
                return
            }
            resource(value, expected: type)
            return
        }
        if definition.kind == .primitive {
            primitive(value, definition)
            return
        }
        guard tape.kind(at: value) == .object else {
            report(.wrongValueKind, "\(match.element.name) is a \(type), so it must be a JSON object, found \(tape.kindName(at: value))")
            return
        }
        complex(value, definition)
    }

    mutating func primitive(_ value: Value, _ definition: TypeDefinition) {
        let type = definition.name
        switch (definition.jsonKind ?? .string, tape.kind(at: value)) {
        case (_, .null):
            // JSON null, or an XML element with neither a value attribute nor children (`<id/>`).
            report(.emptyValue, "the \(type) has no value: FHIR elements have a value or children (ele-1)")
        case (.bool, .true), (.bool, .false):
            return
        case (.number, .number):
            let lexeme = tape.text(at: value)
            if let problem = PrimitiveSyntax.problem(number: lexeme, type: type) {
                report(.invalidPrimitive, "'\(lexeme)' is not a valid \(type): \(problem)")
            }
        case (.string, .string):
            if let problem = tape.withBytes(at: value, { PrimitiveSyntax.problem(utf8: $0, type: type) }) {
                report(.invalidPrimitive, "'\(Self.excerpt(tape.text(at: value)))' is not a valid \(type): \(problem)")
            }
        case (.number, .string):
            report(.wrongValueKind, "a \(type) is a JSON number, found the string '\(Self.excerpt(tape.text(at: value)))'")
        case (.bool, _):
            report(.wrongValueKind, "a boolean is JSON true or false, found \(tape.kindName(at: value))")
        default:
            let expected = definition.jsonKind == .number ? "a JSON number" : "a JSON string"
            report(.wrongValueKind, "a \(type) is \(expected), found \(tape.kindName(at: value))")
        }
    }

    /// `_name`: the id and extensions of a primitive (an object), or of each value of a repeating one (an array
    /// aligned with the values, null where a value has none).
    mutating func primitiveExtras(_ value: Value, _ match: ElementMatch, _ primitive: TypeDefinition, values: Value?) {
        let name = match.element.name
        if match.element.isArray {
            guard tape.kind(at: value) == .array else {
                report(.cardinality, "_\(name) must be an array aligned with \(name), found \(tape.kindName(at: value))")
                return
            }
            let count = tape.count(of: value)
            if count == 0 {
                report(.emptyValue, "an array must have content: FHIR forbids empty arrays")
                return
            }
            var valueItems: [Value]?
            if let values, tape.kind(at: values) == .array {
                valueItems = Array(tape.items(of: values))
                if tape.count(of: values) != count {
                    report(.cardinality, "_\(name) has \(count) entries but \(name) has \(tape.count(of: values)); they must align")
                }
            }
            for (i, item) in tape.items(of: value).enumerated() {
                steps.append(.index(i))
                switch tape.kind(at: item) {
                case .null:
                    var hasValue = false
                    if let v = valueItems, i < v.count, tape.kind(at: v[i]) != .null { hasValue = true }
                    if !hasValue { report(.emptyValue, "_\(name)[\(i)] and \(name)[\(i)] are both null") }
                case .object:
                    complex(item, primitive)
                default:
                    report(.wrongValueKind, "entries of _\(name) are objects (id, extension) or null, found \(tape.kindName(at: item))")
                }
                steps.removeLast()
            }
        } else {
            guard tape.kind(at: value) == .object else {
                report(.wrongValueKind, "_\(name) holds the id and extensions of \(name): a JSON object, found \(tape.kindName(at: value))")
                return
            }
            complex(value, primitive)
        }
    }

    mutating func narrative(_ value: Value) {
        guard let div = tape.string(at: value) else {
            report(.wrongValueKind, "the narrative div is a JSON string of XHTML, found \(tape.kindName(at: value))")
            return
        }
        do {
            let root = try XHTML.verify(div)
            if root.localName != "div" || root.namespace != XHTML.namespace {
                report(.invalidNarrative, "the narrative must be a single <div> in the XHTML namespace (\(XHTML.namespace)), found <\(root.localName)>")
            } else if let refusal = root.refusal {
                // FHIR R4 txt-1: basic XHTML only, no active content.
                report(.unsafeNarrative, "\(refusal.reason) (line \(refusal.line) of the div)")
            } else if !root.hasContent {
                // FHIR R4 txt-2.
                report(.invalidNarrative, "the narrative div has no content: FHIR txt-2 requires some text other than white space (or an image)")
            }
        } catch {
            report(error.code, "the narrative div is not well-formed XHTML: \(error.reason)")
        }
    }

    static func excerpt(_ s: String) -> String {
        s.count <= 80 ? s : String(s.prefix(77)) + "..."
    }
}

extension String {
    /// RFC 6901 escaping of one reference token.
    fileprivate func replacingTilde() -> String {
        var out = ""
        for c in self {
            switch c {
            case "~": out += "~0"
            case "/": out += "~1"
            default: out.append(c)
            }
        }
        return out
    }
}
