import Foundation
public import HL7v2

/// Every HL7 v2 mapping in `Mappings/hl7v2/`, read and checked: message files, resource templates, vocabulary
/// tables and settings. A mistake in any file is a ``MappingError`` with the file and line.
public struct HL7MappingSet: Sendable {
    public let messages: [MessageMapping]
    public let templates: [String: ResourceTemplate]
    public let tables: [String: VocabularyTable]
    /// HL7 coding system names (CWE-3: LN, SCT, HL70001, …) to FHIR system URIs.
    public let codingSystems: [String: String]
    /// Assigning authorities (CX-4.1) to FHIR identifier system URIs.
    public let identifierSystems: [String: String]
    /// The offset (minutes from UTC) for times that carry none, or nil: such times keep only their date.
    public let defaultTimeZoneMinutes: Int?
    /// The template of the Provenance every message gets, when there is one.
    public let provenanceTemplate: String?
    private let byMessage: [String: Int]

    /// The message mapping for `message` (by MSH-9.1^MSH-9.2), or nil.
    public func mapping(for message: HL7Message) -> MessageMapping? {
        guard let type = message.messageType, let event = message.triggerEvent else { return nil }
        return byMessage["\(type)^\(event)"].map { messages[$0] }
    }

    /// The message types the set maps (`ADT^A01`, …), sorted.
    public var messageTypes: [String] { byMessage.keys.sorted() }

    /// Reads `directory` (the `Mappings/hl7v2` folder): `messages/*.yaml`, `resources/*.yaml`, `tables/*.yaml`
    /// and `settings.yaml`.
    public static func load(directory: String) throws(MappingError) -> HL7MappingSet {
        return try parse(messages: try MappingFiles.folder(directory, "messages"), resources: try MappingFiles.folder(directory, "resources"),
                         tables: try MappingFiles.folder(directory, "tables"), settings: MappingFiles.file(directory, "settings.yaml"))
    }

    /// Builds the set from file texts (names are used in errors and as template names).
    public static func parse(messages: [(name: String, text: String)], resources: [(name: String, text: String)],
                             tables: [(name: String, text: String)], settings: String?) throws(MappingError) -> HL7MappingSet {
        var templates: [String: ResourceTemplate] = [:]
        for (name, text) in resources {
            let template = try ResourceTemplate.read(MappingNode.parse(text, file: name), file: name)
            guard templates.updateValue(template, forKey: template.name) == nil else { throw MappingError(name, line: nil, "a second template named \(template.name)") }
        }
        var tableSet: [String: VocabularyTable] = [:]
        var codingSystems: [String: String] = [:]
        var identifierSystems: [String: String] = [:]
        for (name, text) in tables {
            let root = try MappingNode.parse(text, file: name)
            let r = Reader(file: name)
            for (key, value) in try r.mapping(root, "a tables file") {
                switch key {
                case "coding-systems":
                    for (code, uri) in try r.mapping(value, "coding-systems") { codingSystems[code] = try r.string(uri, "a coding system URI") }
                case "identifier-systems":
                    for (code, uri) in try r.mapping(value, "identifier-systems") { identifierSystems[code] = try r.string(uri, "an identifier system URI") }
                default:
                    guard tableSet[key] == nil else { throw r.fail(value, "a second table named \(key)") }
                    tableSet[key] = try VocabularyTable.read(value, name: key, reader: r)
                }
            }
        }
        var offset: Int?
        var provenance: String?
        var ignore = Set<String>()
        if let settings {
            let root = try MappingNode.parse(settings, file: "settings.yaml")
            let r = Reader(file: "settings.yaml")
            try r.onlyKeys(root, ["timezone", "provenance", "ignore"], "settings")
            ignore = Set(try r.strings(root["ignore"], "ignore"))
            if let zone = try r.optionalString(root["timezone"], "timezone") {
                guard let minutes = Self.offsetMinutes(zone) else { throw r.fail(root["timezone"], "timezone is an offset such as +01:00 or -05:00") }
                offset = minutes
            }
            provenance = try r.optionalString(root["provenance"], "provenance")
            if let provenance, templates[provenance] == nil { throw r.fail(root["provenance"], "no resource template named \(provenance)") }
        }
        var mappings: [MessageMapping] = []
        var byMessage: [String: Int] = [:]
        for (name, text) in messages {
            let read = try MessageMapping.read(MappingNode.parse(text, file: name), file: name)
            let mapping = MessageMapping(file: read.file, messages: read.messages, structure: read.structure, resources: read.resources,
                                         ignore: read.ignore.union(ignore))
            for use in mapping.resources {
                guard templates[use.template] != nil else { throw MappingError(name, line: nil, "no resource template named \(use.template) (resources/\(use.template).yaml)") }
                let scopes = mapping.structure.allSegments.union(Self.groupNames(mapping.structure))
                guard scopes.contains(use.scope) else { throw MappingError(name, line: nil, "\(use.template) is made for \(use.scope), which is neither a segment nor a group of the structure") }
            }
            for key in mapping.messages {
                if let other = byMessage[key] { throw MappingError(name, line: nil, "\(key) is also mapped by \(mappings[other].file)") }
                byMessage[key] = mappings.count
            }
            mappings.append(mapping)
        }
        // Every table a rule names must exist.
        for template in templates.values {
            for rule in template.rules {
                if let table = rule.table, tableSet[table] == nil {
                    throw MappingError(template.file, line: rule.line, "no vocabulary table named \(table) (tables/*.yaml)")
                }
                if case .reference(let name) = rule.source, templates[name] == nil, !TypeNames.isResource(name) {
                    throw MappingError(template.file, line: rule.line, "reference to \(name): no template or resource type of that name")
                }
            }
        }
        return HL7MappingSet(messages: mappings, templates: templates, tables: tableSet, codingSystems: codingSystems,
                             identifierSystems: identifierSystems, defaultTimeZoneMinutes: offset, provenanceTemplate: provenance,
                             byMessage: byMessage)
    }

    static func groupNames(_ group: GroupSpec) -> Set<String> {
        var out: Set<String> = [group.name]
        for item in group.items { if case .group(let g) = item { out.formUnion(groupNames(g)) } }
        return out
    }

    static func offsetMinutes(_ text: String) -> Int? {
        if text == "Z" || text == "UTC" { return 0 }
        let bytes = Array(text.utf8)
        guard bytes.count == 6, bytes[0] == 0x2B || bytes[0] == 0x2D, bytes[3] == 0x3A,
              let h = Int(String(decoding: bytes[1...2], as: UTF8.self)), let m = Int(String(decoding: bytes[4...5], as: UTF8.self)),
              h <= 14, m < 60 else { return nil }
        return (bytes[0] == 0x2D ? -1 : 1) * (h * 60 + m)
    }
}

extension MessageMapping {
    static func read(_ root: MappingNode, file: String) throws(MappingError) -> MessageMapping {
        let r = Reader(file: file)
        try r.onlyKeys(root, ["messages", "structure", "resources", "ignore"], "a message mapping")
        let messages = try r.strings(root["messages"], "messages")
        guard !messages.isEmpty else { throw r.fail(root, "messages lists the MSH-9 types this file maps, such as ADT^A01") }
        for m in messages where m.split(separator: "^").count != 2 {
            throw r.fail(root["messages"], "\"\(m)\" is not TYPE^EVENT, such as ADT^A01")
        }
        guard let structureNode = root["structure"], let items = structureNode.items else {
            throw r.fail(root, "structure lists the message's segments and groups in order")
        }
        let structure = GroupSpec(name: "MESSAGE", optional: false, repeating: false, items: try readItems(items, reader: r))
        guard case .segment("MSH", _, _) = structure.items.first else { throw r.fail(structureNode, "a structure starts with MSH") }
        var uses: [ResourceUse] = []
        for node in root["resources"]?.items ?? [] {
            try r.onlyKeys(node, ["template", "for", "when"], "a resource entry")
            var condition: Condition?
            if let text = try r.optionalString(node["when"], "when") {
                do { condition = try Condition.parse(text) } catch { throw r.fail(node["when"], error.reason) }
            }
            uses.append(ResourceUse(template: try r.string(node["template"], "template"), scope: try r.string(node["for"], "for"), condition: condition))
        }
        let ignore = try r.strings(root["ignore"], "ignore")
        for entry in ignore where !(entry.count == 3 || ((try? HL7Path(entry))?.field != nil && (try? HL7Path(entry))?.component == nil)) {
            throw r.fail(root["ignore"], "\"\(entry)\" is neither a segment (SFT) nor a field (PID-1)")
        }
        return MessageMapping(file: file, messages: messages, structure: structure, resources: uses, ignore: Set(ignore))
    }

    /// `PID` (required), `PD1?` (optional), `NK1*` (optional, repeating), `OBX+` (required, repeating), and
    /// `{group: NAME*, segments: [...]}` with the same suffixes.
    static func readItems(_ nodes: [MappingNode], reader r: Reader) throws(MappingError) -> [StructureItem] {
        var items: [StructureItem] = []
        for node in nodes {
            if let text = node.string {
                let (name, optional, repeating) = try suffixed(text, node, r)
                guard name.count == 3, name.allSatisfy({ $0.isUppercase || $0.isNumber }) else { throw r.fail(node, "\"\(name)\" is not a segment name (three capitals or digits)") }
                items.append(.segment(name: name, optional: optional, repeating: repeating))
            } else {
                try r.onlyKeys(node, ["group", "segments"], "a group")
                let (name, optional, repeating) = try suffixed(try r.string(node["group"], "group"), node, r)
                guard let children = node["segments"]?.items, !children.isEmpty else { throw r.fail(node, "group \(name) lists its segments") }
                items.append(.group(GroupSpec(name: name, optional: optional, repeating: repeating, items: try readItems(children, reader: r))))
            }
        }
        return items
    }

    static func suffixed(_ text: String, _ node: MappingNode, _ r: Reader) throws(MappingError) -> (String, Bool, Bool) {
        switch text.last {
        case "?": return (String(text.dropLast()), true, false)
        case "*": return (String(text.dropLast()), true, true)
        case "+": return (String(text.dropLast()), false, true)
        default: return (text, false, false)
        }
    }
}

extension ResourceTemplate {
    static func read(_ root: MappingNode, file: String) throws(MappingError) -> ResourceTemplate {
        let r = Reader(file: file)
        try r.onlyKeys(root, ["resourceType", "id", "rules"], "a resource template")
        let resourceType = try r.string(root["resourceType"], "resourceType")
        guard TypeNames.isResource(resourceType) else { throw r.fail(root["resourceType"], "\(resourceType) is not a FHIR R4 resource type") }
        var ids: [HL7Path] = []
        for text in try r.strings(root["id"], "id") {
            do { ids.append(try HL7Path(text)) } catch { throw r.fail(root["id"], error.reason) }
        }
        var rules: [Rule] = []
        for node in root["rules"]?.items ?? [] { rules.append(try Rule.read(node, resourceType: resourceType, reader: r)) }
        let stem = ((file as NSString).lastPathComponent as NSString).deletingPathExtension
        return ResourceTemplate(name: stem, file: file, resourceType: resourceType, idInputs: ids, rules: rules)
    }
}

extension Rule {
    static let keys: Set<String> = ["path", "from", "type", "value", "reference", "references", "each", "when", "table", "with", "default",
                                    "join", "new", "where"]

    static func read(_ node: MappingNode, resourceType: String, reader r: Reader) throws(MappingError) -> Rule {
        try r.onlyKeys(node, keys, "a rule")
        let targetText = try r.string(node["path"], "path")
        let target: TargetPath
        do { target = try TargetPath(targetText) } catch { throw r.fail(node["path"], error.reason) }
        let steps: [TypeNames.ResolvedStep]
        switch TypeNames.resolve(target, in: resourceType) {
        case .success(let resolved): steps = resolved
        case .failure(let error): throw r.fail(node["path"], error.reason)
        }
        func path(_ text: String, _ at: MappingNode?) throws(MappingError) -> HL7Path {
            do { return try HL7Path(text) } catch { throw r.fail(at, error.reason) }
        }
        var sources: [Source] = []
        if let from = try r.optionalString(node["from"], "from") {
            let datatype = try r.optionalString(node["type"], "type") ?? "ST"
            guard Converters.datatypes.contains(datatype) else {
                throw r.fail(node["type"], "type \(datatype) is not one this engine converts (\(Converters.datatypes.sorted().joined(separator: ", ")))")
            }
            sources.append(.path(try path(from, node["from"]), datatype: datatype))
        }
        if let value = node["value"] { sources.append(.constant(value)) }
        if let name = try r.optionalString(node["reference"], "reference") { sources.append(.reference(name)) }
        if let name = try r.optionalString(node["references"], "references") { sources.append(.references(name)) }
        guard sources.count == 1, let source = sources.first else {
            throw r.fail(node, "a rule has exactly one of from, value, reference, references")
        }
        var condition: Condition?
        if let text = try r.optionalString(node["when"], "when") {
            do { condition = try Condition.parse(text) } catch { throw r.fail(node["when"], error.reason) }
        }
        var filter: Condition?
        if let text = try r.optionalString(node["where"], "where") {
            do { filter = try Condition.parse(text) } catch { throw r.fail(node["where"], error.reason) }
        }
        var with: [String: HL7Path] = [:]
        if let w = node["with"] {
            for (key, value) in try r.mapping(w, "with") { with[key] = try path(try r.string(value, "with.\(key)"), value) }
        }
        return Rule(line: node.line, target: target, source: source, each: try r.bool(node["each"], "each"), condition: condition,
                    table: try r.optionalString(node["table"], "table"), with: with, fallback: node["default"],
                    join: try r.bool(node["join"], "join"), filter: filter, startsElement: try r.bool(node["new"], "new"), steps: steps)
    }
}

extension VocabularyTable {
    static func read(_ node: MappingNode, name: String, reader r: Reader) throws(MappingError) -> VocabularyTable {
        var entries: [String: Entry] = [:]
        var otherwise: Entry?
        for (key, value) in try r.mapping(node, "table \(name)") {
            let entry: Entry
            if let code = value.string {
                entry = .code(code)
            } else {
                try r.onlyKeys(value, ["system", "code", "display"], "a table entry")
                entry = .coding(system: try r.optionalString(value["system"], "system"), code: try r.string(value["code"], "code"),
                                display: try r.optionalString(value["display"], "display"))
            }
            if key == "_otherwise" { otherwise = entry } else { entries[key] = entry }
        }
        return VocabularyTable(name: name, entries: entries, otherwise: otherwise)
    }
}
