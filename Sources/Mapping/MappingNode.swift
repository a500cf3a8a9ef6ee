import Yams

/// Why a mapping file cannot be used: the file, the line, and what is wrong. Raised when mappings are loaded, so a
/// mistake in `Mappings/` stops the node at start rather than corrupting data later.
public struct MappingError: Error, Sendable, Hashable, CustomStringConvertible {
    public let file: String
    public let line: Int?
    public let reason: String

    public init(_ file: String, line: Int?, _ reason: String) {
        self.file = file
        self.line = line
        self.reason = reason
    }

    public var description: String {
        if let line { return "\(file):\(line): \(reason)" }
        return "\(file): \(reason)"
    }
}

/// A YAML document as plain Sendable values with line numbers (Yams' nodes are not Sendable).
public indirect enum MappingNode: Sendable {
    case scalar(String, line: Int)
    case mapping([(key: String, value: MappingNode)], line: Int)
    case sequence([MappingNode], line: Int)

    public var line: Int {
        switch self {
        case .scalar(_, let line), .mapping(_, let line), .sequence(_, let line): line
        }
    }

    /// Parses YAML text (one document).
    public static func parse(_ text: String, file: String) throws(MappingError) -> MappingNode {
        let node: Yams.Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch {
            throw MappingError(file, line: nil, "not valid YAML: \(error)")
        }
        guard let node else { throw MappingError(file, line: nil, "the file is empty") }
        return try convert(node, file: file)
    }

    private static func convert(_ node: Yams.Node, file: String) throws(MappingError) -> MappingNode {
        let line = node.mark?.line ?? 0
        switch node {
        case .scalar(let scalar):
            return .scalar(scalar.string, line: line)
        case .sequence(let sequence):
            var items: [MappingNode] = []
            for item in sequence { items.append(try convert(item, file: file)) }
            return .sequence(items, line: line)
        case .mapping(let mapping):
            var pairs: [(key: String, value: MappingNode)] = []
            var seen = Set<String>()
            for (key, value) in mapping {
                guard let name = key.scalar?.string else { throw MappingError(file, line: key.mark?.line, "a key must be text") }
                guard seen.insert(name).inserted else { throw MappingError(file, line: key.mark?.line, "the key \"\(name)\" appears twice") }
                pairs.append((name, try convert(value, file: file)))
            }
            return .mapping(pairs, line: line)
        case .alias:
            throw MappingError(file, line: line, "YAML aliases are not used in mappings")
        }
    }

    public var string: String? { if case .scalar(let s, _) = self { return s } else { return nil } }
    public var items: [MappingNode]? { if case .sequence(let items, _) = self { return items } else { return nil } }
    public var pairs: [(key: String, value: MappingNode)]? { if case .mapping(let pairs, _) = self { return pairs } else { return nil } }

    public subscript(key: String) -> MappingNode? { pairs?.first { $0.key == key }?.value }
}

/// Reads a mapping document with errors that name the file and line.
struct Reader {
    let file: String

    func fail(_ node: MappingNode?, _ reason: String) -> MappingError { MappingError(file, line: node?.line, reason) }

    func mapping(_ node: MappingNode, _ what: String) throws(MappingError) -> [(key: String, value: MappingNode)] {
        guard let pairs = node.pairs else { throw fail(node, "\(what) must be a mapping (key: value)") }
        return pairs
    }

    func string(_ node: MappingNode?, _ what: String) throws(MappingError) -> String {
        guard let node, let s = node.string, !s.isEmpty else { throw fail(node, "\(what) must be a non-empty text") }
        return s
    }

    func optionalString(_ node: MappingNode?, _ what: String) throws(MappingError) -> String? {
        guard let node else { return nil }
        guard let s = node.string else { throw fail(node, "\(what) must be a text") }
        return s.isEmpty || s == "~" || s == "null" ? nil : s
    }

    func strings(_ node: MappingNode?, _ what: String) throws(MappingError) -> [String] {
        guard let node else { return [] }
        if let s = node.string { return [s] }
        guard let items = node.items else { throw fail(node, "\(what) must be a text or a list of texts") }
        var out: [String] = []
        for item in items { out.append(try string(item, what)) }
        return out
    }

    func bool(_ node: MappingNode?, _ what: String) throws(MappingError) -> Bool {
        guard let node else { return false }
        switch node.string {
        case "true", "yes": return true
        case "false", "no": return false
        default: throw fail(node, "\(what) must be true or false")
        }
    }

    /// Refuses keys other than `allowed`: a misspelt key is an error, never silently ignored.
    func onlyKeys(_ node: MappingNode, _ allowed: Set<String>, _ what: String) throws(MappingError) {
        for (key, value) in try mapping(node, what) where !allowed.contains(key) {
            throw fail(value, "\(what) has no key \"\(key)\" (allowed: \(allowed.sorted().joined(separator: ", ")))")
        }
    }
}
