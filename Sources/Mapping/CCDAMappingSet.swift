import Foundation

/// Every C-CDA mapping in `Mappings/ccda/`, read and checked: `document.yaml` (sections, and which resource template
/// runs for which elements), `resources/*.yaml` (templates) and `tables/*.yaml` (vocabulary tables, code and
/// identifier systems). A mistake in any file is a ``MappingError`` with the file and line.
public struct CCDAMappingSet: Sendable {
    let uses: [CCDAResourceUse]
    let templates: [String: CCDATemplate]
    /// Section names and the templateId roots that identify each, in the file's order.
    let sections: [(name: String, roots: Set<String>)]
    /// Roots of sections whose unmapped entries are not worth a warning.
    let ignoredRoots: Set<String>
    let tables: [String: VocabularyTable]
    /// Code system OIDs (CD/@codeSystem) → FHIR system URIs.
    let codeSystems: [String: String]
    /// Identifier roots (II/@root) → FHIR identifier system URIs.
    let identifierSystems: [String: String]
    /// Tables whose unlisted codes are left out without a warning (`_otherwise: ~`).
    let quietTables: Set<String>
    /// The offset (minutes from UTC) for times that carry none (`timezone` in document.yaml), or nil: such times
    /// keep only their date.
    let defaultTimeZoneMinutes: Int?

    /// The resource templates' names, sorted.
    public var templateNames: [String] { templates.keys.sorted() }
    /// The section names of `document.yaml`, in its order.
    public var sectionNames: [String] { sections.map(\.name) }

    /// Reads `directory` (the `Mappings/ccda` folder): `document.yaml`, `resources/*.yaml`, `tables/*.yaml`.
    public static func load(directory: String) throws(MappingError) -> CCDAMappingSet {
        guard let document = MappingFiles.file(directory, "document.yaml") else {
            throw MappingError((directory as NSString).appendingPathComponent("document.yaml"), line: nil, "cannot read the file (the C-CDA mapping starts there)")
        }
        return try parse(document: document, resources: try MappingFiles.folder(directory, "resources"), tables: try MappingFiles.folder(directory, "tables"))
    }

    /// Builds the set from file texts (names are used in errors and, for resources, as template names).
    public static func parse(document: String, resources: [(name: String, text: String)],
                             tables: [(name: String, text: String)]) throws(MappingError) -> CCDAMappingSet {
        var templates: [String: CCDATemplate] = [:]
        for (name, text) in resources {
            let template = try CCDATemplate.read(MappingNode.parse(text, file: name), file: name)
            guard templates.updateValue(template, forKey: template.name) == nil else { throw MappingError(name, line: nil, "a second template named \(template.name)") }
        }

        var tableSet: [String: VocabularyTable] = [:]
        var codeSystems: [String: String] = [:]
        var identifierSystems: [String: String] = [:]
        var quiet = Set<String>()
        for (name, text) in tables {
            let root = try MappingNode.parse(text, file: name)
            let r = Reader(file: name)
            for (key, value) in try r.mapping(root, "a tables file") {
                switch key {
                case "code-systems":
                    for (oid, uri) in try r.mapping(value, "code-systems") { codeSystems[oid] = try Self.uri(uri, r) }
                case "identifier-systems":
                    for (oid, uri) in try r.mapping(value, "identifier-systems") { identifierSystems[oid] = try Self.uri(uri, r) }
                default:
                    guard tableSet[key] == nil else { throw r.fail(value, "a second table named \(key)") }
                    // `_otherwise: ~`: a code the table does not list is left out without a warning.
                    var node = value
                    if case .mapping(let pairs, let line) = value, let other = pairs.first(where: { $0.key == "_otherwise" }),
                       let text = other.value.string, text == "~" || text == "null" || text.isEmpty {
                        quiet.insert(key)
                        node = .mapping(pairs.filter { $0.key != "_otherwise" }, line: line)
                    }
                    tableSet[key] = try VocabularyTable.read(node, name: key, reader: r)
                }
            }
        }

        let file = "document.yaml"
        let r = Reader(file: file)
        let root = try MappingNode.parse(document, file: file)
        try r.onlyKeys(root, ["sections", "resources", "ignore", "timezone"], "document.yaml")
        var offset: Int?
        if let zone = try r.optionalString(root["timezone"], "timezone") {
            guard let minutes = HL7MappingSet.offsetMinutes(zone) else { throw r.fail(root["timezone"], "timezone is an offset such as +01:00 or -05:00") }
            offset = minutes
        }
        var sections: [(name: String, roots: Set<String>)] = []
        if let node = root["sections"] {
            for (name, rootsNode) in try r.mapping(node, "sections") {
                let roots = try r.strings(rootsNode, "the templateId roots of section \(name)")
                guard !roots.isEmpty else { throw r.fail(rootsNode, "section \(name) lists the templateId roots that identify it") }
                for oid in roots where !Self.isOID(oid) { throw r.fail(rootsNode, "\"\(oid)\" is not a templateId root (an OID such as 2.16.840.1.113883.10.20.22.2.5.1)") }
                sections.append((name, Set(roots)))
            }
        }
        var ignored = Set<String>()
        for entry in try r.strings(root["ignore"], "ignore") {
            if let section = sections.first(where: { $0.name == entry }) {
                ignored.formUnion(section.roots)
            } else if Self.isOID(entry) {
                ignored.insert(entry)
            } else {
                throw r.fail(root["ignore"], "\"\(entry)\" is neither a section of sections nor a templateId root")
            }
        }
        guard let useNodes = root["resources"]?.items, !useNodes.isEmpty else {
            throw r.fail(root, "resources lists the templates to run and the elements each is made for")
        }
        var uses: [CCDAResourceUse] = []
        for node in useNodes {
            let use = try CCDAResourceUse.read(node, reader: r)
            guard templates[use.template] != nil else { throw r.fail(node["template"], "no resource template named \(use.template) (resources/\(use.template).yaml)") }
            if let section = use.section, !sections.contains(where: { $0.name == section }) {
                throw r.fail(node["section"], "no section named \(section) under sections")
            }
            uses.append(use)
        }

        // Every table and reference a rule names must exist.
        for template in templates.values {
            for rule in template.rules {
                if let table = rule.table, tableSet[table] == nil {
                    throw MappingError(template.file, line: rule.line, "no vocabulary table named \(table) (tables/*.yaml)")
                }
                switch rule.source {
                case .reference(let name), .references(let name):
                    if name != "*", templates[name] == nil, !TypeNames.isResource(name) {
                        throw MappingError(template.file, line: rule.line, "reference to \(name): no template or resource type of that name")
                    }
                default: break
                }
            }
        }
        return CCDAMappingSet(uses: uses, templates: templates, sections: sections, ignoredRoots: ignored, tables: tableSet,
                              codeSystems: codeSystems, identifierSystems: identifierSystems, quietTables: quiet,
                              defaultTimeZoneMinutes: offset)
    }

    static func isOID(_ text: String) -> Bool {
        // Digits in dot-separated arcs, the first arc 0, 1 or 2; no empty arc. Read as bytes.
        guard let first = text.utf8.first, (0x30...0x32).contains(first) else { return false }
        var previousDot = false
        for c in text.utf8 {
            if c == UInt8(ascii: ".") {
                if previousDot { return false }
                previousDot = true
            } else if (0x30...0x39).contains(c) {
                previousDot = false
            } else {
                return false
            }
        }
        return !previousDot
    }

    private static func uri(_ node: MappingNode, _ r: Reader) throws(MappingError) -> String {
        let text = try r.string(node, "a system URI")
        guard !text.contains(" ") else { throw r.fail(node, "\"\(text)\" is not a URI (it contains a space)") }
        return text
    }
}
