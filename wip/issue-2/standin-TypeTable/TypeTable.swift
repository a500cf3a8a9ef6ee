import Glibc

// Development stub with the agreed API (the real table is written elsewhere).
public struct TypeTable: Sendable {
    public static let r4: TypeTable = TypeTable.load()
    let types: [String: TypeDefinition]
    let resources: Set<String>
    public func type(_ name: String) -> TypeDefinition? { types[name] }
    public func isResourceType(_ name: String) -> Bool { resources.contains(name) }
    public var resourceTypeNames: [String] { resources.sorted() }

    static func load() -> TypeTable {
        var types: [String: TypeDefinition] = [:]
        var resources = Set<String>()
        for file in ["profiles-types.json", "profiles-resources.json"] {
            let bytes = readFile("/work/shared/fhir-r4-definitions/" + file)
            let bundle = try! JSONReader(limits: FHIRLimits(maxDocumentBytes: 1 << 30)).readValue(bytes).objectValue!
            for entry in bundle["entry"]!.arrayValue! {
                let r = entry.objectValue!["resource"]!.objectValue!
                guard r["resourceType"]?.stringValue == "StructureDefinition", r["derivation"]?.stringValue == "specialization" else { continue }
                let kind = r["kind"]!.stringValue!
                guard kind != "logical" else { continue }
                let name = r["id"]!.stringValue!
                var abstract = false
                if case .bool(let b)? = r["abstract"] { abstract = b }
                if kind == "resource" && !abstract { resources.insert(name) }
                let elements = r["snapshot"]!.objectValue!["element"]!.arrayValue!.map { $0.objectValue! }
                let allPaths = elements.map { $0["path"]!.stringValue! }
                var byParent: [String: [ElementDefinition]] = [:]
                var order: [String] = [name]
                for el in elements {
                    let path = el["path"]!.stringValue!
                    guard let dot = path.lastIndex(of: ".") else { continue }
                    let parent = String(path[..<dot])
                    var ename = String(path[path.index(after: dot)...])
                    var isChoice = false
                    if ename.hasSuffix("[x]") { ename.removeLast(3); isChoice = true }
                    var codes = (el["type"]?.arrayValue ?? []).map { $0.objectValue!["code"]!.stringValue! }
                    codes = codes.map { $0.hasPrefix("http://hl7.org/fhirpath/System.") ? "string" : $0 }
                    if let cr = el["contentReference"]?.stringValue { codes = [String(cr.dropFirst())] }
                    if (codes == ["BackboneElement"] || codes == ["Element"]) && allPaths.contains(where: { $0.hasPrefix(path + ".") }) {
                        codes = [path]; order.append(path)
                    }
                    let reps = (el["representation"]?.arrayValue ?? []).compactMap { $0.stringValue }
                    var rep = ElementDefinition.Representation.element
                    if reps.contains("xmlAttr") { rep = .xmlAttribute }
                    if codes == ["xhtml"] { rep = .xhtml }
                    let maxS = el["max"]!.stringValue!
                    let minV = Int(el["min"].flatMap { if case .number(let n) = $0 { return n.lexeme } else { return nil } } ?? "0")!
                    byParent[parent, default: []].append(ElementDefinition(name: ename, isChoice: isChoice, types: codes, min: minV, max: maxS == "*" ? nil : Int(maxS)!, representation: rep))
                }
                for p in order {
                    let k: TypeDefinition.Kind = p != name ? .backbone : (kind == "primitive-type" ? .primitive : kind == "resource" ? .resource : .complex)
                    var jk: TypeDefinition.JSONKind? = nil
                    if k == .primitive { jk = name == "boolean" ? .bool : ["integer", "decimal", "positiveInt", "unsignedInt"].contains(name) ? .number : .string }
                    types[p] = TypeDefinition(name: p, kind: k, elements: byParent[p] ?? [], jsonKind: jk, pattern: nil)
                }
            }
        }
        return TypeTable(types: types, resources: resources)
    }
}
func readFile(_ path: String) -> [UInt8] {
    let f = fopen(path, "rb")!
    defer { fclose(f) }
    var out: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = fread(&buf, 1, buf.count, f)
        if n <= 0 { break }
        out.append(contentsOf: buf[0..<n])
    }
    return out
}
public struct TypeDefinition: Sendable {
    public enum Kind: Sendable, Hashable { case primitive, complex, resource, backbone }
    public enum JSONKind: Sendable, Hashable { case string, number, bool }
    public let name: String
    public let kind: Kind
    public let elements: [ElementDefinition]
    public let jsonKind: JSONKind?
    public let pattern: String?
    public func element(named jsonName: String) -> ElementMatch? {
        for e in elements {
            if !e.isChoice { if e.name == jsonName { return ElementMatch(element: e, type: e.types.first ?? "") } ; continue }
            guard jsonName.hasPrefix(e.name) else { continue }
            for t in e.types where e.jsonName(for: t) == jsonName { return ElementMatch(element: e, type: t) }
        }
        return nil
    }
}
public struct ElementDefinition: Sendable {
    public enum Representation: Sendable, Hashable { case element, xmlAttribute, xhtml }
    public let name: String; public let isChoice: Bool
    public let types: [String]
    public let min: Int; public let max: Int?
    public var isArray: Bool { max != 1 }
    public let representation: Representation
    public func jsonName(for type: String) -> String { isChoice ? name + type.prefix(1).uppercased() + type.dropFirst() : name }
}
public struct ElementMatch: Sendable { public let element: ElementDefinition; public let type: String }
