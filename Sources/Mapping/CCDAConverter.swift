import Crypto
import Foundation
public import FHIRCore

/// A C-CDA document converted: the FHIR transaction Bundle (a PUT of every resource under its deterministic id),
/// the resources, warnings (sections whose entries no template maps, times without zones, codes not in a table,
/// values that do not parse), and the document's digests.
public struct CCDAConversion: Sendable {
    public let bundle: FHIRValue
    public let resources: [Resource]
    public let warnings: [OperationOutcome.Issue]
    /// SHA-256 of the document's bytes, lower-case hex (also in the DocumentReference as `urn:sha256:<hex>`).
    public let sha256: String
    /// SHA-1 of the document's bytes, base64 (the DocumentReference's `content.attachment.hash`).
    public let sha1: String
}

/// Why a document was not converted, as an OperationOutcome (the reason first, then the validation issues of the
/// resources it would have made).
public struct CCDAConversionError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// Over 32 MiB, nested too deep, or a start tag crowded with attributes.
        case tooLarge
        /// Not well-formed (or not namespace-well-formed) XML.
        case malformedXML
        /// A DOCTYPE, an entity declaration or an entity reference: refused (XXE, entity expansion).
        case forbiddenXMLConstruct
        /// The root is not `ClinicalDocument` in `urn:hl7-org:v3`.
        case notCDA
        /// The mapping made a resource that is not valid FHIR R4.
        case invalidResources
    }

    public let code: Code
    public let reason: String
    /// The line of the document the reason is about, when known.
    public let line: Int?
    public let issues: [OperationOutcome.Issue]

    init(_ code: Code, _ reason: String, line: Int? = nil, issues: [OperationOutcome.Issue] = []) {
        self.code = code
        self.reason = reason
        self.line = line
        let type: String = switch code {
        case .tooLarge: "too-costly"
        case .malformedXML: "structure"
        case .forbiddenXMLConstruct: "security"
        case .notCDA: "not-supported"
        case .invalidResources: "processing"
        }
        let first = OperationOutcome.Issue(severity: code == .invalidResources ? "error" : "fatal", code: type,
                                           diagnostics: line.map { "line \($0): \(reason)" } ?? reason,
                                           location: line.map { ["line \($0)"] } ?? [])
        self.issues = [first] + issues
    }

    public var outcome: OperationOutcome { OperationOutcome(issues: issues) }
    public var description: String { line.map { "line \($0): \(reason)" } ?? reason }
}

/// Converts C-CDA documents (CCD, Discharge Summary, Referral Note, …) to FHIR R4 through `Mappings/ccda/`.
public struct CCDAConverter: Sendable {
    public let mappings: CCDAMappingSet
    let validator = Validator()

    public init(mappings: CCDAMappingSet) {
        self.mappings = mappings
    }

    /// The Bundle for the document `bytes`, every resource validated; or why it cannot be made.
    public func convert(_ bytes: [UInt8]) throws(CCDAConversionError) -> CCDAConversion {
        let doc = try CCDAXMLParser.parse(bytes)
        var run = CCDARun(doc: doc, set: mappings, bytes: bytes)
        run.plan()
        let resources = run.build()
        var issues: [OperationOutcome.Issue] = []
        for (k, resource) in resources.enumerated() {
            let m = run.made[k]
            for issue in validator.validate(resource) where issue.isError {
                var issue = issue
                issue.diagnostics = "\(m.template.resourceType) from \(doc.describe(m.node)) at \(doc.place(m.node)) (\(m.template.file)): \(issue.diagnostics)"
                issues.append(issue)
            }
        }
        if !issues.isEmpty {
            throw CCDAConversionError(.invalidResources, "the mapping made resources that are not valid FHIR R4 (see the issues); nothing was converted", issues: issues)
        }
        return CCDAConversion(bundle: run.bundle(resources), resources: resources, warnings: run.warnings(), sha256: run.sha256Hex, sha1: run.sha1Base64)
    }
}

/// One conversion: the elements each template is made for, their ids, the resources.
struct CCDARun {
    final class Made {
        let template: CCDATemplate
        let id: String
        let node: Int32

        init(template: CCDATemplate, id: String, node: Int32) {
            self.template = template
            self.id = id
            self.node = node
        }
    }

    let doc: CCDADocument
    let set: CCDAMappingSet
    let bytes: [UInt8]
    var values: CCDAValues
    var made: [Made] = []
    /// Every element a template was made for (or would have been, but for an equal id).
    var matched: [Int32] = []
    var sections: [(node: Int32, roots: Set<String>)] = []
    let sha256Hex: String
    let sha1Base64: String
    /// What ids fall back on when a template's id inputs are all empty: the document's id (or its digest).
    let documentKey: String

    /// Fixed paths of the engine itself (checked by the tests: a typo here fails every conversion test, and the
    /// fallback keeps a node from crashing on it).
    static let sectionsPath = constant("component/structuredBody//section")
    static let templateRoots = constant("templateId/@root")

    private static func constant(_ text: String) -> CCDAPath {
        (try? CCDAPath(text)) ?? CCDAPath(absolute: false, steps: [], text: text)
    }

    init(doc: CCDADocument, set: CCDAMappingSet, bytes: [UInt8]) {
        self.doc = doc
        self.set = set
        self.bytes = bytes
        values = CCDAValues(doc: doc, set: set)
        sha256Hex = SHA256.hash(data: bytes).map { Self.hex($0) }.joined()
        sha1Base64 = Data(Insecure.SHA1.hash(data: bytes)).base64EncodedString()
        if let id = doc.child(of: CCDADocument.root, named: "id"), let key = Self.idText(doc, CCDAItem(node: id, attribute: -1)) {
            documentKey = key
        } else {
            documentKey = "sha256:\(sha256Hex)"
        }
    }

    static func hex(_ byte: UInt8) -> String {
        let digits = Array("0123456789abcdef".utf8)
        return String(decoding: [digits[Int(byte >> 4)], digits[Int(byte & 15)]], as: UTF8.self)
    }

    /// An id input's text: an II as `root^extension`, an attribute's value, else the element's text.
    static func idText(_ doc: CCDADocument, _ item: CCDAItem) -> String? {
        if item.isAttribute { return doc.string(item) }
        guard !doc.isNull(item.node) else { return nil }
        let root = doc.attribute("root", of: item.node)
        let ext = doc.attribute("extension", of: item.node)
        if root != nil || ext != nil { return "\(root ?? "")^\(ext ?? "")" }
        return doc.normalizedText(item.node)
    }

    // MARK: Planning

    mutating func plan() {
        for item in doc.select(Self.sectionsPath, from: CCDADocument.root) {
            let roots = Set(doc.select(Self.templateRoots, from: item.node).compactMap { doc.string($0) })
            sections.append((item.node, roots))
        }
        var seen: [String: Int32] = [:]
        for use in set.uses {
            guard let template = set.templates[use.template] else { continue }
            var contexts: [Int32] = [CCDADocument.root]
            if let name = use.section {
                let roots = set.sections.first { $0.name == name }?.roots ?? []
                contexts = sections.filter { !$0.roots.isDisjoint(with: roots) }.map(\.node)
            }
            for context in contexts {
                for item in doc.select(use.path, from: context) {
                    let node = item.node
                    if let condition = use.condition, !doc.holds(condition, at: node) { continue }
                    matched.append(node)
                    var id = identifier(template, node)
                    var key = "\(template.resourceType)/\(id)"
                    if let other = seen[key] {
                        guard other != node else { continue }
                        let otherLine = doc.nodes[Int(other)].line
                        // The same entry twice (copied into two sections) is one resource; two different entries
                        // with one id (a sender's mistake) are two, the second with an id from its position.
                        if doc.sameContent(other, node) {
                            values.warn(node, "\(doc.describe(node)) repeats the \(template.resourceType) at line \(otherLine) (same ids, same content); it is converted once")
                            continue
                        }
                        id = identifier(template, node, positional: true)
                        key = "\(template.resourceType)/\(id)"
                        values.warn(node, "\(doc.describe(node)) has the ids of the \(template.resourceType) at line \(otherLine) but other content; it is converted separately, with an id from its position in this document")
                    }
                    seen[key] = node
                    made.append(Made(template: template, id: id, node: node))
                }
            }
        }
    }

    /// The id: a SHA-256 of the resource type and the id inputs' text (32 hex digits). Without any input value
    /// (or when `positional`), the document's id, the template and the element's position are added (stable for
    /// the same document).
    func identifier(_ template: CCDATemplate, _ node: Int32, positional: Bool = false) -> String {
        var material: [UInt8] = Array("careledger/ccda/id/v1".utf8)
        func add(_ text: String) { material.append(0); material += Array(text.utf8) }
        add(template.resourceType)
        var any = false
        for path in template.idInputs {
            let texts = doc.select(path, from: node).compactMap { Self.idText(doc, $0) }
            if !texts.isEmpty { any = true }
            add(texts.joined(separator: "\u{1E}"))
        }
        if !any || positional {
            add(documentKey)
            add(template.name)
            add(String(node))
        }
        return SHA256.hash(data: material).prefix(16).map { Self.hex($0) }.joined()
    }

    // MARK: Building

    mutating func build() -> [Resource] {
        var out: [Resource] = []
        for k in made.indices {
            let m = made[k]
            var object = FHIRObject(members: [.init(name: "resourceType", value: .string(m.template.resourceType)), .init(name: "id", value: .string(m.id))])
            for rule in m.template.rules { apply(rule, index: k, to: &object) }
            // A resourceType member is there, so this cannot fail.
            if let resource = try? Resource(object) { out.append(resource) }
        }
        return out
    }

    mutating func apply(_ rule: CCDARule, index k: Int, to object: inout FHIRObject) {
        let m = made[k]
        if let condition = rule.condition, !doc.holds(condition, at: m.node) { return }
        let type = rule.targetType
        var produced: [FHIRValue] = []
        switch rule.source {
        case .constant(let value):
            produced.append(value)
        case .reference(let name):
            if let target = nearest(name, from: k) { produced.append(reference(made[target])) }
        case .references(let name):
            for (j, other) in made.enumerated() where j != k {
                if name == "*" || ((other.template.name == name || other.template.resourceType == name) && doc.isWithin(other.node, m.node)) {
                    produced.append(reference(other))
                }
            }
        case .document(let fact):
            switch fact {
            case .sha1: produced.append(.string(sha1Base64))
            case .data: produced.append(.string(Data(bytes).base64EncodedString()))
            case .size: produced.append(.number(FHIRNumber(bytes.count)))
            case .sha256:
                let uri = "urn:sha256:\(sha256Hex)"
                produced.append(type == "Identifier"
                    ? .object(FHIRObject(members: [.init(name: "system", value: .string("urn:ietf:rfc:3986")), .init(name: "value", value: .string(uri))]))
                    : .string(type == "string" ? sha256Hex : uri))
            }
        case .path(let path, let datatype):
            for item in doc.select(path, from: m.node) {
                var value: FHIRValue?
                if let tableName = rule.table, let table = set.tables[tableName] {
                    let code = item.isAttribute ? doc.string(item)
                        : (doc.isNull(item.node) ? nil : doc.attribute("code", of: item.node) ?? doc.attribute("value", of: item.node))
                    guard let code = code.flatMap({ CCDADocument.normalize($0) }) else { continue }
                    if let entry = table.entries[code] ?? table.otherwise {
                        value = Converters.tableValue(entry, to: type)
                    } else if !set.quietTables.contains(tableName) {
                        values.warn(item.node, "\(doc.describe(item.node)): \"\(code)\" is not in table \(tableName) (\(m.template.file):\(rule.line)); not mapped")
                    }
                } else if item.isAttribute {
                    value = values.text(doc.attributes[Int(item.attribute)].value, to: type, at: item.node)
                } else if let datatype {
                    value = values.convert(item.node, as: datatype, to: type)
                }
                if let value {
                    produced.append(value)
                    if !rule.each { break }
                }
            }
            if produced.isEmpty, let fallback = rule.fallback { produced.append(fallback) }
        }
        let each = rule.each || rule.startsElement || produced.count > 1
        let split = each ? rule.steps.lastIndex(where: { $0.isArray && $0.selector == nil }) : nil
        for value in produced {
            Self.write(value, rule.steps[...], newElementAt: split, depth: 0, choice: rule.choiceNames, into: &object)
        }
    }

    func reference(_ target: Made) -> FHIRValue {
        .object(FHIRObject(members: [.init(name: "reference", value: .string("\(target.template.resourceType)/\(target.id)"))]))
    }

    /// The resource of template (or resource type) `name` made for the nearest element enclosing resource `k`'s,
    /// else the first in the document.
    func nearest(_ name: String, from k: Int) -> Int? {
        let node = made[k].node
        var best: Int?
        var first: Int?
        for (j, other) in made.enumerated() where j != k && (other.template.name == name || other.template.resourceType == name) {
            if first == nil { first = j }
            if doc.isWithin(node, other.node), best.map({ made[$0].node < other.node }) ?? true { best = j }
        }
        return best ?? first
    }

    /// Writes `value` at the path. A repeating element gets the value appended; a single one keeps its first value,
    /// and a choice (`value[x]`) keeps the first of its types written. Repeating steps without a selector write
    /// into their last element (creating one), except at `split`, where each value starts a new element.
    static func write(_ value: FHIRValue, _ steps: ArraySlice<TypeNames.ResolvedStep>, newElementAt split: Int?, depth: Int,
                      choice: Set<String>, into object: inout FHIRObject) {
        guard let step = steps.first else { return }
        let rest = steps.dropFirst()
        let index = object.members.firstIndex { $0.name == step.name }
        if rest.isEmpty {
            if !choice.isEmpty, object.members.contains(where: { $0.name != step.name && choice.contains($0.name) }) { return }
            if step.isArray {
                var items = index.flatMap { object.members[$0].value.arrayValue } ?? []
                if case .array(let more) = value { items += more } else { items.append(value) }
                set(step.name, .array(items), at: index, in: &object)
            } else if index == nil {
                set(step.name, value, at: nil, in: &object)
            }
            return
        }
        if step.isArray {
            var items = index.flatMap { object.members[$0].value.arrayValue } ?? []
            var position: Int
            if let (key, wanted) = step.selector {
                if let found = items.firstIndex(where: { $0.objectValue?[key]?.stringValue == wanted }) {
                    position = found
                } else {
                    items.append(.object(FHIRObject(members: [.init(name: key, value: .string(wanted))])))
                    position = items.count - 1
                }
            } else if split == depth || items.isEmpty {
                items.append(.object(FHIRObject()))
                position = items.count - 1
            } else {
                position = items.count - 1
            }
            guard var child = items[position].objectValue else { return }
            write(value, rest, newElementAt: split, depth: depth + 1, choice: choice, into: &child)
            if child.members.isEmpty {
                items.remove(at: position)
            } else {
                items[position] = .object(child)
            }
            if items.isEmpty { return }
            set(step.name, .array(items), at: index, in: &object)
        } else {
            var child = index.flatMap { object.members[$0].value.objectValue } ?? FHIRObject()
            write(value, rest, newElementAt: split, depth: depth + 1, choice: choice, into: &child)
            if child.members.isEmpty { return }
            set(step.name, .object(child), at: index, in: &object)
        }
    }

    static func set(_ name: String, _ value: FHIRValue, at index: Int?, in object: inout FHIRObject) {
        if let index { object.members[index].value = value } else { object.members.append(.init(name: name, value: value)) }
    }

    // MARK: Output

    /// The warnings: values left out, then sections whose entries no template was made for.
    func warnings() -> [OperationOutcome.Issue] {
        var out: [OperationOutcome.Issue] = []
        var seen = Set<String>()
        for (line, text) in values.warnings where seen.insert("\(line)|\(text)").inserted {
            out.append(OperationOutcome.Issue(severity: "warning", code: "informational", diagnostics: "line \(line): \(text)", location: ["line \(line)"]))
        }
        // The entries something was made from (or inside of).
        var coveredEntries = Set<Int32>()
        for node in matched {
            var n = node
            while n >= 0 {
                if doc.name(of: n) == "entry" { coveredEntries.insert(n) }
                if doc.name(of: n) == "section" { break }
                n = doc.nodes[Int(n)].parent
            }
        }
        for (section, roots) in sections where roots.isDisjoint(with: set.ignoredRoots) {
            let entries = doc.children(of: section, named: "entry")
            let missed = entries.filter { !coveredEntries.contains($0) }
            guard !missed.isEmpty else { continue }
            let title = doc.child(of: section, named: "title").flatMap { doc.normalizedText($0) } ?? "(no title)"
            let known = set.sections.first { !$0.roots.isDisjoint(with: roots) }?.name
            let ids = roots.isEmpty ? "no templateId" : "templateId \(roots.sorted().joined(separator: ", "))"
            let what = missed.prefix(5).map { e in
                let first = doc.nodes[Int(e)].firstChild
                return first >= 0 ? "\(doc.name(of: first)) (line \(doc.nodes[Int(first)].line))" : "entry (line \(doc.nodes[Int(e)].line))"
            }.joined(separator: ", ") + (missed.count > 5 ? ", …" : "")
            let line = doc.nodes[Int(section)].line
            out.append(OperationOutcome.Issue(
                severity: "warning", code: "informational",
                diagnostics: "line \(line): section \"\(title)\" (\(known.map { "\($0), " } ?? "")\(ids)): \(missed.count) of \(entries.count) entries are not mapped by document.yaml: \(what)",
                location: ["line \(line)"]))
        }
        return out
    }

    func bundle(_ resources: [Resource]) -> FHIRValue { TransactionBundle.make(resources) }
}
