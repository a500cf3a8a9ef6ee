import FHIRCore

/// "Make a resource with template T for every element this path finds (in these sections, when this holds)."
struct CCDAResourceUse: Sendable {
    let template: String
    /// A section name of `document.yaml`'s `sections`: the path starts at every such section; nil: at the
    /// ClinicalDocument.
    let section: String?
    let path: CCDAPath
    let condition: CCDAExpression?
    let line: Int
}

/// A resource template under `Mappings/ccda/resources/`: its id inputs are XML paths from the template's element.
typealias CCDATemplate = MappingTemplate<CCDAPath, CCDARule>

/// The CDA datatypes a rule reads an element as; the FHIR type of the rule's path decides the result.
enum CCDADatatype: String, Sendable, CaseIterable {
    case II, PN, EN, ON, AD, TEL, CD, CE, CV, CO, CS, TS, IVL_TS, PQ, IVL_PQ, INT, REAL, BL, ST, ED

    static let textTargets: Set<String> = ["string", "markdown", "code", "id", "uri", "url", "canonical", "oid", "uuid",
                                           "CodeableConcept", "Annotation", "Reference", "Identifier", "HumanName", "Address"]
    static let quantityTargets: Set<String> = ["Quantity", "SimpleQuantity", "Age", "Duration", "Distance", "Count", "MoneyQuantity"]

    /// The FHIR types this datatype can be written as.
    var targets: Set<String> {
        switch self {
        case .II: ["Identifier", "Reference", "string", "code", "uri", "id"]
        case .PN, .EN: ["HumanName", "string", "Reference"]
        case .ON, .ST, .ED: Self.textTargets
        case .AD: ["Address", "string"]
        case .TEL: ["ContactPoint", "string", "uri", "url"]
        case .CD, .CE, .CV, .CO, .CS: ["CodeableConcept", "Coding", "code", "string", "uri"]
        case .TS: ["date", "dateTime", "instant", "Period", "string"]
        case .IVL_TS: ["Period", "dateTime", "date", "instant"]
        case .PQ: Self.quantityTargets.union(["decimal", "integer", "string"])
        case .IVL_PQ: ["Range", "Quantity", "SimpleQuantity"]
        case .INT: ["integer", "positiveInt", "unsignedInt", "decimal", "string"]
        case .REAL: ["decimal", "Quantity", "string"]
        case .BL: ["boolean"]
        }
    }

    /// The datatype a rule without `type` reads an element as, from the FHIR type it writes.
    static func inferred(for target: String) -> CCDADatatype {
        switch target {
        case "Identifier": .II
        case "HumanName": .PN
        case "Address": .AD
        case "ContactPoint": .TEL
        case "CodeableConcept", "Coding": .CD
        case "code": .CS
        case "Period": .IVL_TS
        case "date", "dateTime", "instant": .TS
        case "Range": .IVL_PQ
        case "boolean": .BL
        case "integer", "positiveInt", "unsignedInt": .INT
        case "decimal": .REAL
        default: quantityTargets.contains(target) ? .PQ : .ST
        }
    }
}

/// What a rule can say about the original document's bytes (a DocumentReference's attachment).
enum CCDADocumentFact: String, Sendable, CaseIterable {
    /// SHA-1 of the bytes, base64 (FHIR R4's Attachment.hash).
    case sha1
    /// SHA-256 of the bytes: an Identifier `urn:ietf:rfc:3986` / `urn:sha256:<hex>`, or the hex text.
    case sha256
    /// The number of bytes.
    case size
    /// The whole document, base64 (Attachment.data): opt-in, since it copies every PHI of the document.
    case data

    var targets: Set<String> {
        switch self {
        case .sha1, .data: ["base64Binary"]
        case .sha256: ["Identifier", "string", "uri"]
        case .size: ["unsignedInt", "integer", "decimal"]
        }
    }
}

/// One rule: write one FHIR element from the document.
final class CCDARule: Sendable {
    enum Source: Sendable {
        /// Values found at a path: elements read as a CDA datatype, or attributes read as text.
        case path(CCDAPath, datatype: CCDADatatype?)
        case constant(FHIRValue)
        /// A reference to the resource made by a template (or of a resource type): for the nearest enclosing
        /// element, else the first in the document.
        case reference(String)
        /// References to every resource of a template made for elements inside this one (`*`: every other).
        case references(String)
        case document(CCDADocumentFact)
    }

    let line: Int
    let target: TargetPath
    let steps: [TypeNames.ResolvedStep]
    /// The JSON names of the choice the last step belongs to (`valueQuantity`, `valueString`, …), when it is one:
    /// a choice takes only its first value.
    let choiceNames: Set<String>
    let source: Source
    let each: Bool
    let condition: CCDAExpression?
    let table: String?
    let fallback: FHIRValue?
    let startsElement: Bool
    /// The FHIR type of the last step.
    let targetType: String

    init(line: Int, target: TargetPath, steps: [TypeNames.ResolvedStep], choiceNames: Set<String>, source: Source, each: Bool,
         condition: CCDAExpression?, table: String?, fallback: FHIRValue?, startsElement: Bool) {
        self.line = line
        self.target = target
        self.steps = steps
        self.choiceNames = choiceNames
        self.source = source
        self.each = each
        self.condition = condition
        self.table = table
        self.fallback = fallback
        self.startsElement = startsElement
        targetType = steps.last?.type ?? ""
    }
}

// MARK: Reading

extension CCDAResourceUse {
    static func read(_ node: MappingNode, reader r: Reader) throws(MappingError) -> CCDAResourceUse {
        try r.onlyKeys(node, ["template", "for", "section", "when"], "a resource entry")
        let pathText = try r.string(node["for"], "for (the path of the elements this template is made for)")
        let path: CCDAPath
        do { path = try CCDAPath(pathText) } catch { throw r.fail(node["for"], error.reason) }
        guard !path.selectsAttribute else { throw r.fail(node["for"], "for names elements, not an attribute") }
        var condition: CCDAExpression?
        if let text = try r.optionalString(node["when"], "when") {
            do { condition = try CCDAExpression(text) } catch { throw r.fail(node["when"], error.reason) }
        }
        return CCDAResourceUse(template: try r.string(node["template"], "template"), section: try r.optionalString(node["section"], "section"),
                               path: path, condition: condition, line: node.line)
    }
}

extension CCDATemplate {
    static func read(_ root: MappingNode, file: String) throws(MappingError) -> CCDATemplate {
        let r = Reader(file: file)
        try r.onlyKeys(root, ["resourceType", "id", "rules"], "a resource template")
        let resourceType = try r.string(root["resourceType"], "resourceType")
        guard TypeNames.isResource(resourceType) else { throw r.fail(root["resourceType"], "\(resourceType) is not a FHIR R4 resource type") }
        var ids: [CCDAPath] = []
        for text in try r.strings(root["id"], "id") {
            do { ids.append(try CCDAPath(text)) } catch { throw r.fail(root["id"], error.reason) }
        }
        guard let ruleNodes = root["rules"]?.items else { throw r.fail(root, "rules lists what the resource is made of") }
        var rules: [CCDARule] = []
        for node in ruleNodes { rules.append(try CCDARule.read(node, resourceType: resourceType, reader: r)) }
        let base = file.split(separator: "/").last.map(String.init) ?? file
        let stem = base.hasSuffix(".yaml") ? String(base.dropLast(5)) : base.hasSuffix(".yml") ? String(base.dropLast(4)) : base
        return CCDATemplate(name: stem, file: file, resourceType: resourceType, idInputs: ids, rules: rules)
    }
}

extension CCDARule {
    static let keys: Set<String> = ["path", "from", "type", "value", "reference", "references", "document", "each", "when", "table",
                                    "default", "new"]

    static func read(_ node: MappingNode, resourceType: String, reader r: Reader) throws(MappingError) -> CCDARule {
        try r.onlyKeys(node, keys, "a rule")
        let targetText = try r.string(node["path"], "path")
        let target: TargetPath
        do { target = try TargetPath(targetText) } catch { throw r.fail(node["path"], error.reason) }
        let steps: [TypeNames.ResolvedStep]
        switch TypeNames.resolve(target, in: resourceType) {
        case .success(let s): steps = s
        case .failure(let error): throw r.fail(node["path"], error.reason)
        }
        guard let last = steps.last else { throw r.fail(node["path"], "an empty FHIR path") }
        let parentType = steps.count > 1 ? steps[steps.count - 2].type : resourceType
        var choiceNames: Set<String> = []
        if let element = TypeTable.r4.type(parentType)?.element(named: last.name)?.element, element.isChoice {
            choiceNames = Set(element.types.map { element.jsonName(for: $0) })
        }
        let type = last.type

        var sources: [Source] = []
        if let from = try r.optionalString(node["from"], "from") {
            let path: CCDAPath
            do { path = try CCDAPath(from) } catch { throw r.fail(node["from"], error.reason) }
            var datatype: CCDADatatype?
            if let name = try r.optionalString(node["type"], "type") {
                guard let d = CCDADatatype(rawValue: name) else {
                    throw r.fail(node["type"], "type \(name) is not a CDA datatype this engine reads (\(CCDADatatype.allCases.map(\.rawValue).joined(separator: ", ")))")
                }
                guard !path.selectsAttribute else { throw r.fail(node["type"], "\(from) is an attribute, read as text: type applies to elements") }
                datatype = d
            }
            if !path.selectsAttribute, node["table"] == nil {
                let d = datatype ?? CCDADatatype.inferred(for: type)
                guard d.targets.contains(type) else {
                    throw r.fail(node["type"] ?? node["path"], "\(d.rawValue) cannot be written as a FHIR \(type) (\(targetText)); it gives \(d.targets.sorted().joined(separator: ", "))")
                }
                datatype = d
            }
            sources.append(.path(path, datatype: datatype))
        } else if node["type"] != nil {
            throw r.fail(node["type"], "type goes with from")
        }
        if let value = node["value"] { sources.append(.constant(try CCDAConstant.make(value, type: type, isArray: last.isArray, reader: r))) }
        if let name = try r.optionalString(node["reference"], "reference") { sources.append(.reference(name)) }
        if let name = try r.optionalString(node["references"], "references") { sources.append(.references(name)) }
        if let name = try r.optionalString(node["document"], "document") {
            guard let fact = CCDADocumentFact(rawValue: name) else {
                throw r.fail(node["document"], "document is one of \(CCDADocumentFact.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            guard fact.targets.contains(type) else { throw r.fail(node["document"], "document: \(name) cannot be written as a FHIR \(type)") }
            sources.append(.document(fact))
        }
        guard sources.count == 1, let source = sources.first else {
            throw r.fail(node, "a rule has exactly one of from, value, reference, references, document")
        }
        switch source {
        case .reference, .references:
            guard type == "Reference" else { throw r.fail(node["path"], "\(targetText) is a FHIR \(type), not a Reference") }
        default: break
        }
        var condition: CCDAExpression?
        if let text = try r.optionalString(node["when"], "when") {
            do { condition = try CCDAExpression(text) } catch { throw r.fail(node["when"], error.reason) }
        }
        let each = try r.bool(node["each"], "each")
        if each, !steps.contains(where: \.isArray) {
            throw r.fail(node["each"], "each: \(targetText) does not repeat, so it takes one value")
        }
        let table = try r.optionalString(node["table"], "table")
        if table != nil, case .path = source {} else if table != nil {
            throw r.fail(node["table"], "table goes with from")
        }
        var fallback: FHIRValue?
        if let d = node["default"] { fallback = try CCDAConstant.make(d, type: type, isArray: false, reader: r) }
        return CCDARule(line: node.line, target: target, steps: steps, choiceNames: choiceNames, source: source, each: each,
                        condition: condition, table: table, fallback: fallback, startsElement: try r.bool(node["new"], "new"))
    }
}

/// A constant of a rule (`value`, `default`) as FHIR JSON of the target's type, checked against R4 when loaded:
/// `{coding: [{system: http://loinc.org, code: 8867-4}]}` for a CodeableConcept, `true` for a boolean.
enum CCDAConstant {
    static let numeric: Set<String> = ["integer", "positiveInt", "unsignedInt", "decimal"]

    static func make(_ node: MappingNode, type: String, isArray: Bool, reader r: Reader) throws(MappingError) -> FHIRValue {
        switch node {
        case .sequence(let items, _):
            guard isArray else { throw r.fail(node, "a list, but the FHIR element takes one \(type)") }
            var out: [FHIRValue] = []
            for item in items { out.append(try make(item, type: type, isArray: false, reader: r)) }
            return .array(out)
        case .scalar(let text, _):
            switch type {
            case "boolean":
                guard text == "true" || text == "false" else { throw r.fail(node, "a boolean is true or false") }
                return .bool(text == "true")
            case _ where numeric.contains(type):
                guard let n = FHIRNumber(text) else { throw r.fail(node, "\"\(text)\" is not a number") }
                return .number(n)
            case "CodeableConcept":
                return .object(FHIRObject(members: [.init(name: "text", value: .string(text))]))
            default:
                guard let definition = TypeTable.r4.type(type), definition.kind == .primitive else {
                    throw r.fail(node, "a FHIR \(type) is written as a mapping of its elements, not as text")
                }
                guard !text.isEmpty else { throw r.fail(node, "an empty value") }
                return .string(text)
            }
        case .mapping(let pairs, _):
            guard let definition = TypeTable.r4.type(type), definition.kind == .complex || definition.kind == .backbone else {
                throw r.fail(node, "a FHIR \(type) is not written as a mapping")
            }
            var members: [FHIRObject.Member] = []
            for (key, value) in pairs {
                guard let match = definition.element(named: key) else { throw r.fail(value, "\(type) has no element \(key)") }
                let item: FHIRValue
                if match.element.isArray, value.items == nil {
                    item = .array([try make(value, type: match.type, isArray: false, reader: r)])
                } else {
                    item = try make(value, type: match.type, isArray: match.element.isArray, reader: r)
                }
                members.append(.init(name: key, value: item))
            }
            return .object(FHIRObject(members: members))
        }
    }
}
