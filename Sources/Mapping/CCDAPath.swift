/// A path into a C-CDA document: the part of XPath 1.0 a mapping needs, read by an integration engineer as XPath.
///
/// `recordTarget/patientRole`, `entry/act/entryRelationship/observation[templateId/@root='2.16.840.1.113883.10.20.22.4.4']`,
/// `effectiveTime/low/@value`, `../../statusCode/@code`, `value[@xsi:type='PQ']`, `component/structuredBody//section`,
/// `author[1]/time`, `/ClinicalDocument/id`. Steps are element names (CDA namespace without a prefix; `sdtc:` and
/// `cda:` prefixes), `*`, `@attribute` (last step only; `@xsi:type`), `.` and `..`; `/` separates steps and `//`
/// reaches descendants. Predicates are a position (`[1]`) or a test: `PATH`, `PATH = 'text'`, `PATH != 'text'`,
/// `not(TEST)`, `TEST and TEST`, `TEST or TEST`, parentheses. Paths are evaluated from the node a resource or
/// section is made for; a leading `/` starts at the document.
struct CCDAPath: Sendable, CustomStringConvertible {
    enum Axis: Sendable { case child, descendant, attribute, parent, this }

    struct Step: Sendable {
        let axis: Axis
        /// Nil for `*` (and for `.`, `..`).
        let name: String?
        let namespace: CCDADocument.Namespace
        let predicates: [Predicate]
    }

    enum Predicate: Sendable {
        case position(Int)
        case test(CCDAExpression)
    }

    let absolute: Bool
    let steps: [Step]
    let text: String

    var description: String { text }

    /// Whether the path ends at an attribute (`@code`) rather than an element.
    var selectsAttribute: Bool { steps.last?.axis == .attribute }

    init(_ text: String) throws(MappingError) {
        var parser = CCDAPathParser(text)
        let path = try parser.path()
        guard parser.atEnd else { throw parser.fail("unexpected \(parser.remainder)") }
        self = path
    }

    init(absolute: Bool, steps: [Step], text: String) {
        self.absolute = absolute
        self.steps = steps
        self.text = text
    }
}

/// A test on a node: the conditions of `when`, and the predicates of paths.
indirect enum CCDAExpression: Sendable {
    case exists(CCDAPath)
    case equals(CCDAPath, String)
    /// True when no value of the path equals the text (so also when the path finds nothing).
    case notEquals(CCDAPath, String)
    case not(CCDAExpression)
    case all([CCDAExpression])
    case any([CCDAExpression])

    init(_ text: String) throws(MappingError) {
        var parser = CCDAPathParser(text)
        let expression = try parser.expression()
        guard parser.atEnd else { throw parser.fail("unexpected \(parser.remainder)") }
        self = expression
    }
}

/// A node a path found: an element, or one attribute of it.
struct CCDAItem: Sendable, Hashable {
    let node: Int32
    /// The attribute's index in the document's attributes, or -1 for the element itself.
    let attribute: Int32

    var isAttribute: Bool { attribute >= 0 }
}

/// Recursive descent over the path and test grammar.
struct CCDAPathParser {
    enum Token: Equatable {
        case slash, doubleSlash, dot, dotDot, at, star, open, close, openParen, closeParen, equals, notEquals
        case name(String)
        case literal(String)
        case number(Int)
        /// A character that begins no token (or an unclosed quote).
        case invalid
        case end
    }

    let text: String
    private let bytes: [UInt8]
    private var i = 0

    init(_ text: String) {
        self.text = text
        bytes = Array(text.utf8)
    }

    var atEnd: Bool {
        var copy = self
        return copy.peek() == .end
    }

    var remainder: String {
        var j = i
        while j < bytes.count, bytes[j] == 0x20 { j += 1 }
        return "\"\(String(decoding: bytes[j...], as: UTF8.self))\""
    }

    func fail(_ why: String) -> MappingError {
        MappingError("", line: nil, "path \"\(text)\": \(why) (paths are XPath steps such as entry/act/entryRelationship/observation[templateId/@root='…']/value/@code)")
    }

    private static func isNameStart(_ b: UInt8) -> Bool { (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x5F }
    private static func isNameChar(_ b: UInt8) -> Bool { isNameStart(b) || (b >= 0x30 && b <= 0x39) || b == 0x2D || b == 0x2E }

    mutating func peek() -> Token {
        let save = i
        let t = next()
        i = save
        return t
    }

    mutating func next() -> Token {
        while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x09 || bytes[i] == 0x0A { i += 1 }
        guard i < bytes.count else { return .end }
        let c = bytes[i]
        switch c {
        case UInt8(ascii: "/"):
            if i + 1 < bytes.count, bytes[i + 1] == UInt8(ascii: "/") { i += 2; return .doubleSlash }
            i += 1; return .slash
        case UInt8(ascii: "."):
            if i + 1 < bytes.count, bytes[i + 1] == UInt8(ascii: ".") { i += 2; return .dotDot }
            i += 1; return .dot
        case UInt8(ascii: "@"): i += 1; return .at
        case UInt8(ascii: "*"): i += 1; return .star
        case UInt8(ascii: "["): i += 1; return .open
        case UInt8(ascii: "]"): i += 1; return .close
        case UInt8(ascii: "("): i += 1; return .openParen
        case UInt8(ascii: ")"): i += 1; return .closeParen
        case UInt8(ascii: "="): i += 1; return .equals
        case UInt8(ascii: "!"):
            if i + 1 < bytes.count, bytes[i + 1] == UInt8(ascii: "=") { i += 2; return .notEquals }
            return .invalid
        case UInt8(ascii: "'"), UInt8(ascii: "\""):
            let start = i + 1
            var j = start
            while j < bytes.count, bytes[j] != c { j += 1 }
            guard j < bytes.count else { return .invalid }
            i = j + 1
            return .literal(String(decoding: bytes[start..<j], as: UTF8.self))
        case 0x30...0x39:
            var n = 0
            while i < bytes.count, (0x30...0x39).contains(bytes[i]), n < 1_000_000 { n = n * 10 + Int(bytes[i] - 0x30); i += 1 }
            return .number(n)
        default:
            guard Self.isNameStart(c) else { return .invalid }
            let start = i
            while i < bytes.count, Self.isNameChar(bytes[i]) { i += 1 }
            if i + 1 < bytes.count, bytes[i] == UInt8(ascii: ":"), Self.isNameStart(bytes[i + 1]) {
                i += 1
                while i < bytes.count, Self.isNameChar(bytes[i]) { i += 1 }
            }
            return .name(String(decoding: bytes[start..<i], as: UTF8.self))
        }
    }

    mutating func path() throws(MappingError) -> CCDAPath {
        var steps: [CCDAPath.Step] = []
        var absolute = false
        var axis = CCDAPath.Axis.child
        switch peek() {
        case .slash: _ = next(); absolute = true
        case .doubleSlash: throw fail("a path cannot start with //")
        default: break
        }
        while true {
            let step = try self.step(axis)
            if let last = steps.last, last.axis == .attribute { throw fail("an attribute (@…) can only be the last step") }
            steps.append(step)
            switch peek() {
            case .slash: _ = next(); axis = .child
            case .doubleSlash: _ = next(); axis = .descendant
            default:
                guard !steps.isEmpty else { throw fail("an empty path") }
                return CCDAPath(absolute: absolute, steps: steps, text: text)
            }
        }
    }

    private mutating func qualified(_ name: String, isAttribute: Bool) throws(MappingError) -> (String, CCDADocument.Namespace) {
        let parts = name.split(separator: ":", maxSplits: 1).map(String.init)
        let prefix = parts.count == 2 ? parts[0] : nil
        guard let ns = CCDADocument.Namespace(prefix: prefix, isAttribute: isAttribute) else {
            throw fail("the prefix \(prefix ?? "") is not one of cda, sdtc, xsi")
        }
        return (parts.last ?? name, ns)
    }

    private mutating func step(_ axis: CCDAPath.Axis) throws(MappingError) -> CCDAPath.Step {
        switch next() {
        case .dot:
            guard axis == .child else { throw fail("// must be followed by an element name") }
            return CCDAPath.Step(axis: .this, name: nil, namespace: .cda, predicates: [])
        case .dotDot:
            guard axis == .child else { throw fail("// must be followed by an element name") }
            return CCDAPath.Step(axis: .parent, name: nil, namespace: .cda, predicates: [])
        case .at:
            guard axis == .child, case .name(let raw) = next() else { throw fail("@ must be followed by an attribute name") }
            let (name, ns) = try qualified(raw, isAttribute: true)
            return CCDAPath.Step(axis: .attribute, name: name, namespace: ns, predicates: [])
        case .star:
            return CCDAPath.Step(axis: axis, name: nil, namespace: .cda, predicates: try predicates())
        case .name(let raw):
            let (name, ns) = try qualified(raw, isAttribute: false)
            return CCDAPath.Step(axis: axis, name: name, namespace: ns, predicates: try predicates())
        default:
            throw fail("expected an element name, *, @attribute, . or ..")
        }
    }

    private mutating func predicates() throws(MappingError) -> [CCDAPath.Predicate] {
        var out: [CCDAPath.Predicate] = []
        while peek() == .open {
            _ = next()
            if case .number(let n) = peek() {
                _ = next()
                guard n >= 1 else { throw fail("positions count from 1") }
                out.append(.position(n))
            } else {
                out.append(.test(try expression()))
            }
            guard next() == .close else { throw fail("a [ is not closed") }
        }
        return out
    }

    mutating func expression() throws(MappingError) -> CCDAExpression {
        var alternatives = [try conjunction()]
        while peek() == .name("or") {
            _ = next()
            alternatives.append(try conjunction())
        }
        return alternatives.count == 1 ? alternatives[0] : .any(alternatives)
    }

    private mutating func conjunction() throws(MappingError) -> CCDAExpression {
        var parts = [try unary()]
        while peek() == .name("and") {
            _ = next()
            parts.append(try unary())
        }
        return parts.count == 1 ? parts[0] : .all(parts)
    }

    private mutating func unary() throws(MappingError) -> CCDAExpression {
        if peek() == .name("not") {
            let save = i
            _ = next()
            if peek() == .openParen {
                _ = next()
                let inner = try expression()
                guard next() == .closeParen else { throw fail("not( is not closed") }
                return .not(inner)
            }
            i = save
        }
        if peek() == .openParen {
            _ = next()
            let inner = try expression()
            guard next() == .closeParen else { throw fail("a ( is not closed") }
            return inner
        }
        let start = i
        var sub = CCDAPathParser(text)
        sub.i = start
        let operand = try sub.path()
        i = sub.i
        let operandText = String(decoding: bytes[start..<i], as: UTF8.self).trimming(" ")
        let path = CCDAPath(absolute: operand.absolute, steps: operand.steps, text: operandText)
        switch peek() {
        case .equals, .notEquals:
            let negated = next() == .notEquals
            let literal: String
            switch next() {
            case .literal(let s): literal = s
            case .number(let n): literal = String(n)
            default: throw fail("a comparison needs a quoted value: PATH = 'text'")
            }
            return negated ? .notEquals(path, literal) : .equals(path, literal)
        default:
            return .exists(path)
        }
    }
}

// MARK: Evaluation

extension CCDADocument {
    /// The nodes `path` finds from `context`, in document order.
    func select(_ path: CCDAPath, from context: Int32) -> [CCDAItem] {
        // -1 stands for the document itself, the parent of the root element.
        var current: [Int32] = [path.absolute ? -1 : context]
        for step in path.steps {
            switch step.axis {
            case .this:
                continue
            case .attribute:
                var out: [CCDAItem] = []
                for n in current where n >= 0 {
                    if let a = attributeIndex(step.name ?? "", step.namespace, of: n) { out.append(CCDAItem(node: n, attribute: a)) }
                }
                return out
            case .parent:
                var next: [Int32] = []
                for n in current where n >= 0 {
                    let p = nodes[Int(n)].parent
                    if p >= 0, next.last != p { next.append(p) }
                }
                current = current.count > 1 ? Array(Set(next)).sorted() : next
            case .child:
                // The step's name as an id: a name the document does not have matches nothing.
                let wanted: Int32? = step.name.map { nameIds[$0] ?? -1 }
                var next: [Int32] = []
                for n in current {
                    var matched: [Int32] = []
                    if n < 0 {
                        if !nodes.isEmpty, matches(0, wanted, step.namespace) { matched.append(0) }
                    } else {
                        var c = nodes[Int(n)].firstChild
                        while c >= 0 {
                            if matches(c, wanted, step.namespace) { matched.append(c) }
                            c = nodes[Int(c)].nextSibling
                        }
                    }
                    next += filter(matched, step.predicates)
                }
                current = next
            case .descendant:
                let wanted: Int32? = step.name.map { nameIds[$0] ?? -1 }
                var next: [Int32] = []
                for n in current {
                    var matched: [Int32] = []
                    var k = n < 0 ? 0 : Int(n) + 1
                    let end = n < 0 ? nodes.count - 1 : Int(nodes[Int(n)].end)
                    while k <= end {
                        if matches(Int32(k), wanted, step.namespace) { matched.append(Int32(k)) }
                        k += 1
                    }
                    next += filter(matched, step.predicates)
                }
                current = current.count > 1 ? Array(Set(next)).sorted() : next
            }
            if current.isEmpty { return [] }
        }
        return current.map { CCDAItem(node: $0, attribute: -1) }
    }

    /// Whether `node` is an element with that name id (any element when nil) in that namespace.
    @inline(__always)
    private func matches(_ node: Int32, _ name: Int32?, _ namespace: Namespace) -> Bool {
        let n = nodes[Int(node)]
        guard !n.isText else { return false }
        guard let name else { return true }
        return n.namespace == namespace && n.name == name
    }

    private func filter(_ matched: [Int32], _ predicates: [CCDAPath.Predicate]) -> [Int32] {
        var out = matched
        for predicate in predicates {
            switch predicate {
            case .position(let p): out = p <= out.count ? [out[p - 1]] : []
            case .test(let e): out = out.filter { holds(e, at: $0) }
            }
            if out.isEmpty { break }
        }
        return out
    }

    func attributeIndex(_ name: String, _ namespace: Namespace, of node: Int32) -> Int32? {
        guard let id = nameIds[name] else { return nil }
        let n = nodes[Int(node)]
        var i = Int(n.firstAttribute)
        let end = i + Int(n.attributeCount)
        while i < end {
            if attributes[i].name == id && attributes[i].namespace == namespace { return Int32(i) }
            i += 1
        }
        return nil
    }

    /// An attribute's value, or an element's normalised text.
    func string(_ item: CCDAItem) -> String? {
        item.isAttribute ? attributes[Int(item.attribute)].value : normalizedText(item.node)
    }

    /// Whether a test holds at `node`.
    func holds(_ expression: CCDAExpression, at node: Int32) -> Bool {
        switch expression {
        case .exists(let path): return !select(path, from: node).isEmpty
        case .equals(let path, let value): return select(path, from: node).contains { string($0) == value }
        case .notEquals(let path, let value): return !select(path, from: node).contains { string($0) == value }
        case .not(let inner): return !holds(inner, at: node)
        case .all(let parts):
            for p in parts where !holds(p, at: node) { return false }
            return true
        case .any(let parts):
            for p in parts where holds(p, at: node) { return true }
            return false
        }
    }
}
