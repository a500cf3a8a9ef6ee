public import FHIRCore
import Foundation

/// A part of a resource a client asked for instead of the whole (FHIR R4 search §3.1.1.5.8–9, which http.html's
/// general parameters apply to every interaction that returns resources): `_elements` (the named top-level
/// elements), `_summary=true` (the elements the base definitions mark `isSummary`), `_summary=text` or
/// `_summary=data`. The subset carries the `SUBSETTED` tag in `meta.tag`, so nobody takes it for the stored record
/// (its commitment does not cover it).
///
/// Read, search, history and `$everything` all subset through this one type (``asked(summary:elements:)``).
public enum ResourceSubset: Sendable, Hashable {
    /// `_elements=a,b`: these top-level elements, with `resourceType`, `id` and `meta` (and, as the specification
    /// asks, the mandatory top-level elements) kept.
    case elements([String])
    /// `_summary=true`: at every level, the elements marked `isSummary` in the R4 definitions and the mandatory
    /// ones (minimum cardinality ≥ 1) of every element kept; nothing else (no narrative, extensions, contained
    /// resources or non-summary backbone elements).
    case summary
    /// `_summary=text`: the narrative (`text`), `id`, `meta` and the mandatory top-level elements.
    case text
    /// `_summary=data`: everything but the narrative (`text`).
    case data

    /// The values of `_summary` (FHIR R4 search §3.1.1.5.8, code system `search-summary`).
    public enum Summary: String, Sendable, Hashable, CaseIterable {
        case `true`, text, data, count, `false`

        /// `_summary` as given; 400 for a value outside the code system (a required binding: not a parameter to
        /// ignore under lenient handling, but a malformed value, as a bad `_count` is).
        public init(parameter value: some StringProtocol) throws(ServiceError) {
            guard let mode = Summary(rawValue: String(value)) else {
                throw ServiceError(.invalidRequest, "_summary must be one of true, text, data, count or false, not '\(value.prefix(40))'")
            }
            self = mode
        }

        /// The subset this value asks of each resource: nil for `false` (the whole resource) and for `count` (which
        /// asks for no resources at all: each caller decides what a count is, or refuses it).
        public var subset: ResourceSubset? {
            switch self {
            case .true: .summary
            case .text: .text
            case .data: .data
            case .count, .false: nil
            }
        }
    }

    /// `_elements` as its element names (comma-separated, spaces around them dropped).
    public static func elementNames(_ value: some StringProtocol) -> [String] {
        value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// What `_summary` and `_elements` ask of each resource: `_elements` when given (the narrower ask), else the
    /// `_summary` value's subset; nil for the whole resource.
    public static func asked(summary: Summary?, elements: String?) -> ResourceSubset? {
        if let elements { return .elements(elementNames(elements)) }
        return summary?.subset
    }

    /// The `meta.tag` every subset carries (FHIR R4: the v3 ObservationValue code `SUBSETTED`).
    public static let subsettedTag = FHIRObject([
        "system": .string("http://terminology.hl7.org/CodeSystem/v3-ObservationValue"),
        "code": .string("SUBSETTED"),
    ])

    /// The subset of `resource` (a resource's JSON object), tagged `SUBSETTED`. An object that is no resource of
    /// the type table is returned as it is.
    public func apply(to resource: FHIRObject, table: TypeTable = .r4) -> FHIRObject {
        guard let type = resource["resourceType"]?.stringValue, let definition = table.type(type) else { return resource }
        var subset: FHIRObject
        switch self {
        case .elements(let names):
            subset = Self.topLevel(of: resource, keeping: names, definition: definition)
        case .text:
            subset = Self.topLevel(of: resource, keeping: ["text"], definition: definition)
        case .data:
            subset = FHIRObject(members: resource.members.filter { $0.name != "text" })
        case .summary:
            subset = Self.summary(of: resource, definition: definition, table: table, isResource: true)
        }
        var meta = subset["meta"]?.objectValue ?? FHIRObject()
        var tags = meta["tag"]?.arrayValue ?? []
        if !tags.contains(.object(Self.subsettedTag)) { tags.append(.object(Self.subsettedTag)) }
        meta["tag"] = .array(tags)
        subset["meta"] = .object(meta)
        return subset
    }

    /// The top-level members named in `names`, `resourceType`, `id`, `meta` and the mandatory top-level elements
    /// (`_elements`, `_summary=text`). A choice element is named by its base name (`value` or `value[x]` keeps
    /// `valueQuantity`: `_elements` lists base element names, search §3.1.1.5.9) or by its JSON name.
    static func topLevel(of resource: FHIRObject, keeping names: [String], definition: TypeDefinition) -> FHIRObject {
        let keep = Set((names + ["resourceType", "id", "meta"]).map { $0.hasSuffix("[x]") ? String($0.dropLast(3)) : $0 })
        return FHIRObject(members: resource.members.filter { member in
            let name = Self.elementName(member.name)
            if keep.contains(member.name) || keep.contains(name) { return true }
            guard let match = definition.element(named: name) else { return false }
            return keep.contains(match.element.name) || match.element.min > 0
        })
    }

    /// `_birthDate` names the same element as `birthDate` (its primitive extension twin).
    static func elementName(_ member: String) -> String {
        member.hasPrefix("_") ? String(member.dropFirst()) : member
    }

    /// The members of `object` (of `definition`) that `_summary=true` keeps, each value reduced the same way.
    static func summary(of object: FHIRObject, definition: TypeDefinition, table: TypeTable, isResource: Bool) -> FHIRObject {
        var kept: [FHIRObject.Member] = []
        for member in object.members {
            if isResource && member.name == "resourceType" {
                kept.append(member)
                continue
            }
            guard let match = definition.element(named: elementName(member.name)),
                  match.element.isSummary || match.element.min > 0 else { continue }
            // A primitive's `_name` twin holds its id and extensions, which are not summary elements.
            if member.name.hasPrefix("_") { continue }
            let value = reduce(member.value, type: match.type, table: table)
            if let value { kept.append(FHIRObject.Member(name: member.name, value: value)) }
        }
        return FHIRObject(members: kept)
    }

    /// A value of `type` reduced to its summary: objects of complex and backbone types element by element, a
    /// resource (`Bundle.entry.resource`) by its own type; nil when nothing of it is left.
    static func reduce(_ value: FHIRValue, type: String, table: TypeTable) -> FHIRValue? {
        switch value {
        case .array(let values):
            let reduced = values.compactMap { reduce($0, type: type, table: table) }
            return reduced.isEmpty ? nil : .array(reduced)
        case .object(let object):
            if type == "Resource" {
                guard let inner = object["resourceType"]?.stringValue, let definition = table.type(inner) else { return value }
                return .object(summary(of: object, definition: definition, table: table, isResource: true))
            }
            guard let definition = table.type(type), definition.kind != .primitive else { return value }
            let reduced = summary(of: object, definition: definition, table: table, isResource: false)
            return reduced.isEmpty ? nil : .object(reduced)
        default:
            return value
        }
    }
}
