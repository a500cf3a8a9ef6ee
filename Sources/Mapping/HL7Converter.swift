import Crypto
import Foundation
public import FHIRCore
public import HL7v2

/// A message converted: the FHIR transaction Bundle (PUT of every resource under its deterministic id), the
/// resources, and warnings (unmapped segments and fields, times without zones, codes not in a table).
public struct HL7Conversion: Sendable {
    public let bundle: FHIRValue
    public let resources: [Resource]
    public let warnings: [OperationOutcome.Issue]
    /// The mapping file used.
    public let mapping: String
}

/// Why a message was not converted: the HL7 problem (for the ACK's MSA-1 and ERR) and the OperationOutcome issues.
public struct HL7ConversionError: Error, Sendable, CustomStringConvertible {
    public let error: HL7Error
    /// The issues: the error itself first, then validation issues of the resources it would have made.
    public let issues: [OperationOutcome.Issue]

    public init(_ error: HL7Error, issues: [OperationOutcome.Issue] = []) {
        self.error = error
        self.issues = [Self.issue(error)] + issues
    }

    public var outcome: OperationOutcome { OperationOutcome(issues: issues) }
    public var description: String { error.description }

    static func issue(_ error: HL7Error) -> OperationOutcome.Issue {
        let code: String = switch error.code {
        case .unsupportedMessageType, .unsupportedEvent, .unsupportedVersion, .unsupportedProcessingId: "not-supported"
        case .tooLarge: "too-costly"
        case .requiredFieldMissing: "required"
        case .dataType, .tableValue: "value"
        case .internalError, .invalidPath: "exception"
        default: "structure"
        }
        return OperationOutcome.Issue(severity: error.acknowledgmentCode == .reject ? "fatal" : "error", code: code,
                                      diagnostics: error.description, location: error.location.map { [$0.description] } ?? [])
    }
}

/// Converts HL7 v2 messages to FHIR through the mappings in `Mappings/hl7v2/`.
public struct HL7Converter: Sendable {
    public let mappings: HL7MappingSet
    let validator = Validator()

    public init(mappings: HL7MappingSet) {
        self.mappings = mappings
    }

    /// The Bundle for `message`, validated; or the reason it cannot be made.
    public func convert(_ message: HL7Message) throws(HL7ConversionError) -> HL7Conversion {
        do { try message.validateHeader() } catch { throw HL7ConversionError(error) }
        guard let mapping = mappings.mapping(for: message) else {
            let type = "\(message.messageType ?? "?")^\(message.triggerEvent ?? "?")"
            throw HL7ConversionError(HL7Error(.unsupportedMessageType, "no mapping in Mappings/hl7v2/messages handles \(type) (mapped: \(mappings.messageTypes.joined(separator: ", ")))",
                                              at: HL7Location(segment: "MSH", segmentIndex: 1, field: 9)))
        }
        var run = Run(message: message, mapping: mapping, set: mappings)
        do {
            try run.match()
            try run.makeResources()
        } catch {
            throw HL7ConversionError(error)
        }
        var issues: [OperationOutcome.Issue] = []
        for (k, resource) in run.resources.enumerated() {
            for issue in validator.validate(resource) where issue.isError {
                var issue = issue
                issue.diagnostics = "\(run.made[k].template) (\(mapping.file)): \(issue.diagnostics)"
                issues.append(issue)
            }
        }
        if !issues.isEmpty {
            throw HL7ConversionError(HL7Error(.internalError, "the mapping made resources that are not valid FHIR R4 (see the issues); nothing was stored"), issues: issues)
        }
        let warnings = run.unmappedWarnings() + (run.converters.allWarnings() + message.notes).map {
            OperationOutcome.Issue(severity: "warning", code: "informational", diagnostics: $0)
        }
        return HL7Conversion(bundle: run.bundle(), resources: run.resources, warnings: warnings, mapping: mapping.file)
    }
}

extension HL7Message {
    /// What the parser repaired or guessed, as warnings.
    var notes: [String] {
        var out: [String] = []
        if delimiters.repaired { out.append("MSH-2 repeats an encoding character; it was read once") }
        if charsetWasGuessed { out.append("the message is not UTF-8 and MSH-18 declares no character set; it was read as ISO 8859-1") }
        out += escapeRepairs.map(\.description)
        return out
    }
}

/// A matched instance of a group: its own segments (by index) and its child groups, by index into the run's
/// flat list (a parent always comes before its children).
struct GroupNode {
    let name: String
    let parent: Int?
    var segments: [Int] = []
    var children: [Int] = []
}

/// One conversion: the matched structure, the resources made, what was read.
struct Run {
    /// A class: rules read it many times, and a reference is one retain.
    final class Made {
        init(template: String, resourceType: String, id: String, segment: Int?, group: Int) {
            self.template = template
            self.resourceType = resourceType
            self.id = id
            self.segment = segment
            self.group = group
        }

        let template: String
        let resourceType: String
        let id: String
        let segment: Int?
        let group: Int
    }

    let message: HL7Message
    let mapping: MessageMapping
    let set: HL7MappingSet
    let names: [String]
    let segments: [HL7Segment]
    let sendingFacility: String
    var groups: [GroupNode] = []
    /// Per group, by name id (``nameIds``): its own segments, and every segment of its subtree (in message order).
    var own: [[[Int]]] = []
    var subtree: [[[Int]]] = []
    /// The group that holds each segment as its own.
    var owner: [Int] = []
    /// Every segment by name, in message order.
    var byName: [String: [Int]] = [:]
    /// The message's distinct segment names (packed, see ``SegmentKey``), a name's id being its position here;
    /// and each segment's name id.
    var nameKeys: [SegmentKey] = []
    var nameIds: [Int] = []
    /// Every segment by name id, in message order.
    var byNameId: [[Int]] = []
    var made: [Made] = []
    var madeByName: [String: [Int]] = [:]
    var resources: [Resource] = []
    var converters: Converters
    /// Field numbers read, per segment index.
    var consumed: [FieldSet]
    var outOfOrder: [Int] = []
    /// Required segments or groups found elsewhere than the structure expects them.
    var misplaced: [String] = []

    init(message: HL7Message, mapping: MessageMapping, set: HL7MappingSet) {
        self.message = message
        self.mapping = mapping
        self.set = set
        segments = message.segments
        names = segments.map(\.name)
        sendingFacility = message.sendingFacility ?? ""
        converters = Converters(set: set)
        consumed = Array(repeating: FieldSet(), count: segments.count)
        for field in [1, 2, 9, 10, 12] { consumed[0].insert(field) }
        for (i, n) in names.enumerated() { byName[n, default: []].append(i) }
        nameIds.reserveCapacity(names.count)
        for (i, n) in names.enumerated() {
            let key = SegmentKey(n)
            if let id = nameKeys.firstIndex(of: key) {
                nameIds.append(id)
                byNameId[id].append(i)
            } else {
                nameIds.append(nameKeys.count)
                byNameId.append([i])
                nameKeys.append(key)
            }
        }
    }

    func isWithin(_ group: Int, _ other: Int) -> Bool {
        var g: Int? = group
        while let cur = g { if cur == other { return true }; g = groups[cur].parent }
        return false
    }

    // MARK: Structure

    mutating func match() throws(HL7Error) {
        let known = mapping.structure.allSegments
        groups = [GroupNode(name: mapping.structure.name, parent: nil)]
        var i = 0
        try match(mapping.structure, into: 0, at: &i, known: known)
        while i < names.count {
            // A known segment where the structure does not expect it: kept in the message's scope, and warned.
            groups[0].segments.append(i)
            outOfOrder.append(i)
            i += 1
        }
        // The indexes every path lookup uses: own segments, and subtrees merged from the leaves up (a child's
        // index is always larger than its parent's).
        let empty = Array(repeating: [Int](), count: nameKeys.count)
        owner = Array(repeating: 0, count: names.count)
        own = groups.indices.map { g in
            var table = empty
            for s in groups[g].segments {
                table[nameIds[s]].append(s)
                owner[s] = g
            }
            return table
        }
        subtree = own
        for g in groups.indices.reversed() {
            guard let parent = groups[g].parent else { continue }
            for id in subtree[g].indices where !subtree[g][id].isEmpty { subtree[parent][id].append(contentsOf: subtree[g][id]) }
        }
        for g in subtree.indices {
            for id in subtree[g].indices where subtree[g][id].count > 1 { subtree[g][id].sort() }
        }
    }

    private mutating func match(_ group: GroupSpec, into instance: Int, at i: inout Int, known: Set<String>) throws(HL7Error) {
        for item in group.items {
            switch item {
            case .segment(let name, let optional, let repeating):
                var count = 0
                while i < names.count {
                    if names[i] == name {
                        if count > 0, !repeating { break }
                        groups[instance].segments.append(i)
                        i += 1
                        count += 1
                    } else if !known.contains(names[i]) {
                        // Z-segments and others the structure does not name stay where they are.
                        groups[instance].segments.append(i)
                        i += 1
                    } else {
                        break
                    }
                }
                if count == 0, !optional {
                    // Missing here but present elsewhere: out of order, which senders often are; read, and warn.
                    guard byName[name] != nil else { throw missing(name, in: group, at: i) }
                    misplaced.append("\(name) is missing where \(mapping.file) expects it\(group.name == "MESSAGE" ? "" : " in group \(group.name)")\(i < names.count ? " (before \(names[i]) at line \(segments[i].line))" : "")")
                }
            case .group(let spec):
                var count = 0
                let first = spec.firstSegments
                while i < names.count, first.contains(names[i]) {
                    if count > 0, !spec.repeating { break }
                    let child = groups.count
                    groups.append(GroupNode(name: spec.name, parent: instance))
                    groups[instance].children.append(child)
                    let before = i
                    try match(spec, into: child, at: &i, known: known)
                    count += 1
                    if i == before { break }
                }
                if count == 0, !spec.optional {
                    let firsts = spec.firstSegments
                    guard names.contains(where: firsts.contains) else {
                        throw missing(firsts.sorted().joined(separator: " or "), in: group, at: i)
                    }
                    misplaced.append("group \(spec.name) is missing where \(mapping.file) expects it\(i < names.count ? " (before \(names[i]) at line \(segments[i].line))" : "")")
                }
            }
        }
    }

    private func missing(_ name: String, in group: GroupSpec, at i: Int) -> HL7Error {
        let whereText = i < names.count ? "before \(names[i]) at line \(segments[i].line)" : "at the end of the message"
        let groupText = group.name == "MESSAGE" ? "" : " (group \(group.name))"
        return HL7Error(.segmentSequence, "required segment \(name)\(groupText) is missing \(whereText); \(mapping.file) defines the structure",
                        at: HL7Location(segment: name, segmentIndex: i < names.count ? i + 1 : nil))
    }

    // MARK: Resources

    mutating func makeResources() throws(HL7Error) {
        var instances: [(use: ResourceUse, segment: Int?, group: Int)] = []
        for use in mapping.resources {
            let matching = groups.indices.filter { groups[$0].name == use.scope }
            if !matching.isEmpty {
                for g in matching { instances.append((use, nil, g)) }
            } else {
                for s in byName[use.scope] ?? [] {
                    // The group that holds the segment as its own.
                    let g = owner[s]
                    instances.append((use, s, g))
                }
            }
        }
        if let provenance = set.provenanceTemplate, let template = set.templates[provenance] {
            instances.append((ResourceUse(template: template.name, scope: "MSH", condition: nil), 0, 0))
        }
        // Ids first (they depend only on id inputs), so rules can reference any resource of the message.
        var seen = Set<String>()
        var chosen: [ResourceTemplate] = []
        for (use, segment, group) in instances {
            guard let template = set.templates[use.template] else { continue }
            let scope = Scope(segment: segment, group: group)
            if let condition = use.condition, !evaluate(condition, in: scope) { continue }
            let id = identifier(template, scope: scope)
            // The same business identity twice (one practitioner in PV1-7 and ORC-12) is one resource.
            guard seen.insert("\(template.resourceType)/\(id)").inserted else { continue }
            chosen.append(template)
            madeByName[template.name, default: []].append(made.count)
            if template.name != template.resourceType { madeByName[template.resourceType, default: []].append(made.count) }
            made.append(Made(template: template.name, resourceType: template.resourceType, id: id, segment: segment, group: group))
        }
        for (k, template) in chosen.enumerated() {
            var object = FHIRObject(members: [.init(name: "resourceType", value: .string(template.resourceType)), .init(name: "id", value: .string(made[k].id))])
            let rules = template.rules
            for r in rules.indices {
                try apply(rules[r], template: template, index: k, to: &object)
            }
            do {
                resources.append(try Resource(object))
            } catch {
                throw HL7Error(.internalError, "\(template.file): \(error.reason)")
            }
        }
    }

    struct Scope {
        let segment: Int?
        let group: Int
    }

    /// The segments a path's segment name means in a scope: the resource's own segment, else the nearest group
    /// (itself, then its parents) that has such segments, else the nearest whose sub-groups do (the root's
    /// sub-groups are the whole message); the `occurrence`-th of the message when one is given.
    func resolve(_ name: String, occurrence: Int, in scope: Scope, all: Bool = false) -> ArraySlice<Int> {
        let key = SegmentKey(name)
        guard let id = nameKeys.firstIndex(of: key) else { return [] }
        guard occurrence == 1 else {
            let list = byNameId[id]
            guard list.count >= occurrence else { return [] }
            return list[(occurrence - 1)...(occurrence - 1)]
        }
        if let s = scope.segment, nameIds[s] == id { return [s] }
        var g: Int? = scope.group
        while let cur = g {
            let found = own[cur][id]
            if !found.isEmpty { return found[...] }
            g = groups[cur].parent
        }
        g = scope.group
        while let cur = g {
            let found = subtree[cur][id]
            if !found.isEmpty { return all ? found[...] : found.prefix(1) }
            g = groups[cur].parent
        }
        return []
    }

    /// The values at `path` in scope: one per segment found (the field, or the element the path names).
    func found(_ path: HL7Path, in scope: Scope, all: Bool = false) -> [(segment: Int, value: HL7Value)] {
        var out: [(segment: Int, value: HL7Value)] = []
        for s in resolve(path.segment, occurrence: path.occurrence, in: scope, all: all) {
            if let value = segments[s].value(at: path) { out.append((s, value)) }
        }
        return out
    }

    /// The first value of ``found(_:in:all:)``, marking the field as read in every segment the path resolves to.
    mutating func firstValue(_ path: HL7Path, in scope: Scope) -> HL7Value? {
        let resolved = resolve(path.segment, occurrence: path.occurrence, in: scope)
        var first: HL7Value?
        for s in resolved {
            if first == nil, let value = segments[s].value(at: path) { first = value }
            if let field = path.field { consumed[s].insert(field) }
        }
        return first
    }

    mutating func evaluate(_ condition: Condition, in scope: Scope) -> Bool {
        switch condition {
        case .present(let p): return firstValue(p, in: scope)?.string != nil
        case .empty(let p): return firstValue(p, in: scope)?.string == nil
        case .equals(let p, let v): return firstValue(p, in: scope)?.string == v
        case .notEquals(let p, let v): return firstValue(p, in: scope)?.string != v
        case .oneOf(let p, let vs): return firstValue(p, in: scope)?.string.map(vs.contains) ?? false
        case .noneOf(let p, let vs): return !(firstValue(p, in: scope)?.string.map(vs.contains) ?? false)
        case .all(let cs):
            for c in cs where !evaluate(c, in: scope) { return false }
            return true
        case .any(let cs):
            for c in cs where evaluate(c, in: scope) { return true }
            return false
        }
    }

    /// The id: a hash of the resource type, the sending facility (MSH-4) and the id inputs' text. Without any
    /// input value, the message control id and the segment's position stand in (stable for the same message).
    func identifier(_ template: ResourceTemplate, scope: Scope) -> String {
        var material = Self.idPrefix
        material.reserveCapacity(256)
        func add(_ text: String) { material.append(0); material.append(contentsOf: text.utf8) }
        add(template.resourceType)
        add(sendingFacility)
        var any = false
        for path in template.idInputs {
            var first = true
            for s in resolve(path.segment, occurrence: path.occurrence, in: scope) {
                guard let value = segments[s].value(at: path) else { continue }
                if !first { material.append(0x1E) }
                first = false
                let bytes = value.raw
                if !bytes.isEmpty { any = true }
                material.append(contentsOf: bytes)
            }
            material.append(0)
        }
        if !any {
            add(message.controlId ?? "")
            add(String(scope.segment ?? groups[scope.group].segments.first ?? 0))
        }
        let digest = SHA256.hash(data: material)
        var out: [UInt8] = []
        out.reserveCapacity(32)
        for byte in digest.prefix(16) {
            out.append(Self.hexDigits[Int(byte >> 4)])
            out.append(Self.hexDigits[Int(byte & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    static let idPrefix: [UInt8] = Array("careledger/hl7v2/id/v1".utf8)
    static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    // MARK: Rules

    mutating func apply(_ rule: Rule, template: ResourceTemplate, index k: Int, to object: inout FHIRObject) throws(HL7Error) {
        let m = made[k]
        let scope = Scope(segment: m.segment, group: m.group)
        if let condition = rule.condition, !evaluate(condition, in: scope) { return }
        let steps = rule.steps
        guard let last = steps.last else { return }
        var produced: [FHIRValue] = []
        switch rule.source {
        case .constant(let node):
            if let value = constant(node, type: last.type) { produced.append(value) }
        case .reference(let name):
            if let target = nearest(name, from: m) { produced.append(reference(target)) }
        case .references(let name):
            if name == "*" {
                for (j, other) in made.enumerated() where j != k { produced.append(reference(other)) }
            } else {
                for j in madeByName[name] ?? [] where j != k && isWithin(made[j].group, m.group) { produced.append(reference(made[j])) }
            }
        case .path(let path, let datatype):
            var extra: [String: HL7Value] = [:]
            for (key, p) in rule.with { extra[key] = firstValue(p, in: scope) }
            var found = self.found(path, in: scope, all: rule.each || rule.join)
            if let filter = rule.filter {
                var kept: [(segment: Int, value: HL7Value)] = []
                for entry in found where evaluate(filter, in: Scope(segment: entry.segment, group: m.group)) { kept.append(entry) }
                found = kept
            }
            if let field = path.field { for (segment, _) in found { consumed[segment].insert(field) } }
            if rule.join {
                // One text from every value in scope (the lines of a report, a document's OBX segments).
                var lines: [String] = []
                for (segment, value) in found {
                    let location = HL7Location(segment: names[segment], segmentIndex: segment + 1, line: segments[segment].line, field: path.field)
                    for item in value.level == .field ? value.repetitions : [value] where !item.isEmpty && !item.isExplicitNull {
                        if case .string(let text)? = try converters.convert(item, datatype: datatype, to: "string", with: extra, at: location) { lines.append(text) }
                    }
                }
                if !lines.isEmpty {
                    let location = HL7Location(segment: path.segment, field: path.field)
                    if let value = try converters.text(lines.joined(separator: "\n"), to: last.type, at: location) { produced.append(value) }
                }
                if produced.isEmpty, let fallback = rule.fallback, let value = constant(fallback, type: last.type) { produced.append(value) }
                for value in produced { write(value, steps: steps, each: rule.startsElement, into: &object) }
                return
            }
            func take(_ item: HL7Value, from segment: Int) throws(HL7Error) {
                guard !item.isEmpty, !item.isExplicitNull else { return }
                let location = HL7Location(segment: names[segment], segmentIndex: segment + 1, line: segments[segment].line,
                                           field: path.field, repetition: path.repetition, component: path.component)
                var converted: FHIRValue?
                if let tableName = rule.table, let table = set.tables[tableName] {
                    let code = item.composite.component(1)?.string ?? ""
                    if let entry = table.entries[code] ?? table.otherwise {
                        converted = Converters.tableValue(entry, to: last.type)
                    } else {
                        converters.warnings.append("\(location): \"\(code)\" is not in table \(tableName); not mapped")
                    }
                } else {
                    converted = try converters.convert(item, datatype: datatype, to: last.type, with: extra, at: location)
                }
                if let converted { produced.append(converted) }
            }
            for (segment, value) in found.prefix(rule.each ? found.count : 1) {
                if rule.each && value.level == .field {
                    for item in value.repetitions { try take(item, from: segment) }
                } else {
                    try take(value, from: segment)
                }
            }
            if produced.isEmpty, let fallback = rule.fallback, let value = constant(fallback, type: last.type) { produced.append(value) }
        }
        for value in produced { write(value, steps: steps, each: rule.each || rule.startsElement || produced.count > 1, into: &object) }
    }

    func reference(_ target: Made) -> FHIRValue {
        .object(FHIRObject(members: [.init(name: "reference", value: .string("\(target.resourceType)/\(target.id)"))]))
    }

    /// The resource made by template (or of resource type) `name` nearest to `m`: in its group or a parent's,
    /// else the first in the message.
    func nearest(_ name: String, from m: Made) -> Made? {
        guard let candidates = madeByName[name], let first = candidates.first else { return nil }
        var g: Int? = m.group
        while let cur = g {
            if let hit = candidates.first(where: { made[$0].group == cur }) { return made[hit] }
            g = groups[cur].parent
        }
        return made[first]
    }

    func constant(_ node: MappingNode, type: String) -> FHIRValue? {
        switch node {
        case .scalar(let text, _):
            switch type {
            case "boolean": return text == "true" ? .bool(true) : text == "false" ? .bool(false) : nil
            case "integer", "positiveInt", "unsignedInt", "decimal": return FHIRNumber(text).map { .number($0) }
            case "CodeableConcept": return Converters.object([("text", .string(text))])
            default: return .string(text)
            }
        case .sequence(let items, _):
            return .array(items.compactMap { constant($0, type: type) })
        case .mapping(let pairs, _):
            return .object(FHIRObject(members: pairs.compactMap { pair in
                constant(pair.value, type: "string").map { FHIRObject.Member(name: pair.key, value: $0) }
            }))
        }
    }

    /// Writes `value` at the path. Array steps without a selector write into their last element (creating one),
    /// except the deepest array step of a rule that makes several values or starts an element: each value gets a
    /// new element there.
    func write(_ value: FHIRValue, steps: [TypeNames.ResolvedStep], each: Bool, into object: inout FHIRObject) {
        let split = each ? steps.lastIndex(where: { $0.isArray && $0.selector == nil }) : nil
        Self.write(value, steps[...], newElementAt: split.map { $0 - 0 }, depth: 0, into: &object)
    }

    static func write(_ value: FHIRValue, _ steps: ArraySlice<TypeNames.ResolvedStep>, newElementAt split: Int?, depth: Int, into object: inout FHIRObject) {
        guard let step = steps.first else { return }
        let rest = steps.dropFirst()
        let index = object.members.firstIndex { $0.name == step.name }
        if rest.isEmpty {
            if step.isArray {
                var items = index.flatMap { object.members[$0].value.arrayValue } ?? []
                if let index { object.members[index].value = .null }
                if case .array(let more) = value { items += more } else { items.append(value) }
                set(step.name, .array(items), at: index, in: &object)
            } else if index == nil {
                set(step.name, value, at: nil, in: &object)
            }
            return
        }
        if step.isArray {
            var items = index.flatMap { object.members[$0].value.arrayValue } ?? []
            // The parent lets go of the array while it changes, so it is not copied.
            if let index { object.members[index].value = .null }
            var position: Int?
            if let (key, wanted) = step.selector {
                position = items.firstIndex { $0.objectValue?[key]?.stringValue == wanted }
                if position == nil {
                    items.append(.object(FHIRObject(members: [.init(name: key, value: .string(wanted))])))
                    position = items.count - 1
                }
            } else if split == depth || items.isEmpty {
                items.append(.object(FHIRObject()))
                position = items.count - 1
            } else {
                position = items.count - 1
            }
            guard let position, var child = items[position].objectValue else {
                set(step.name, .array(items), at: index, in: &object)
                return
            }
            items[position] = .null
            write(value, rest, newElementAt: split, depth: depth + 1, into: &child)
            items[position] = .object(child)
            set(step.name, .array(items), at: index, in: &object)
        } else {
            var child = index.flatMap { object.members[$0].value.objectValue } ?? FHIRObject()
            if let index { object.members[index].value = .null }
            write(value, rest, newElementAt: split, depth: depth + 1, into: &child)
            set(step.name, .object(child), at: index, in: &object)
        }
    }

    static func set(_ name: String, _ value: FHIRValue, at index: Int?, in object: inout FHIRObject) {
        if let index { object.members[index].value = value } else { object.members.append(.init(name: name, value: value)) }
    }

    // MARK: Output

    /// Warnings for segments and fields no rule read (segments the mapping lists under `ignore` excepted).
    func unmappedWarnings() -> [OperationOutcome.Issue] {
        var out: [OperationOutcome.Issue] = []
        let known = mapping.structure.allSegments
        for (i, segment) in segments.enumerated() where !mapping.ignore.contains(segment.name) {
            var unread: [Int] = []
            var ignored: Set<Int>?
            for f in 1...max(1, segment.fieldCount) where !consumed[i].contains(f) {
                guard let v = segment.field(f), !v.isEmpty else { continue }
                if ignored == nil { ignored = mapping.ignoredFields[segment.name] ?? [] }
                if ignored?.contains(f) == true { continue }
                unread.append(f)
            }
            guard !unread.isEmpty else { continue }
            let place = "\(segment.name) (segment \(i + 1), line \(segment.line))"
            let text: String
            if consumed[i].isEmpty {
                text = known.contains(segment.name) || segment.name.hasPrefix("Z")
                    ? "\(place) is not mapped by \(mapping.file)"
                    : "\(place) is not a segment \(mapping.file) knows; it is not mapped"
            } else {
                text = "\(place): field\(unread.count == 1 ? "" : "s") \(unread.map(String.init).joined(separator: ", ")) \(unread.count == 1 ? "is" : "are") not mapped"
            }
            out.append(OperationOutcome.Issue(severity: "warning", code: "informational", diagnostics: text,
                                              location: ["\(segment.name)[\(i + 1)]"]))
        }
        for text in misplaced {
            out.append(OperationOutcome.Issue(severity: "warning", code: "structure", diagnostics: text))
        }
        for i in outOfOrder {
            out.append(OperationOutcome.Issue(severity: "warning", code: "structure",
                                              diagnostics: "\(names[i]) (segment \(i + 1), line \(segments[i].line)) is out of the order \(mapping.file) defines; it was read in the message's scope"))
        }
        return out
    }

    func bundle() -> FHIRValue { TransactionBundle.make(resources) }
}

/// A set of field numbers: a bit per field below 64 (all that segments usually have), a Set beyond.
struct FieldSet {
    private var low: UInt64 = 0
    private var high: Set<Int> = []

    var isEmpty: Bool { low == 0 && high.isEmpty }

    mutating func insert(_ field: Int) {
        if field >= 0 && field < 64 { low |= 1 << UInt64(field) } else { high.insert(field) }
    }

    func contains(_ field: Int) -> Bool {
        field >= 0 && field < 64 ? low & (1 << UInt64(field)) != 0 : high.contains(field)
    }
}

/// A segment name packed into an integer, so that names compare in one step: its bytes, big-endian. The parser
/// keeps names of exactly 3 bytes and paths name 3, so every name that can meet another packs exactly; a name
/// longer than 8 bytes gets a key no name of capitals and digits has.
struct SegmentKey: Equatable {
    let packed: UInt64

    init(_ name: String) {
        var packed: UInt64 = 0
        var count = 0
        for byte in name.utf8 {
            count += 1
            if count > 8 { packed = .max; break }
            packed = packed << 8 | UInt64(byte)
        }
        self.packed = packed
    }
}
