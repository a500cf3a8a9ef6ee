import FHIRCore
import Foundation
public import HL7v2

/// The datatype templates: an HL7 v2 value of one datatype written as a FHIR value of the target's type
/// (CX → Identifier, XPN → HumanName, XAD → Address, CWE → CodeableConcept, XTN → ContactPoint, DTM → dateTime, …).
struct Converters {
    static let text: Set<String> = ["ST", "TX", "FT", "ID", "IS", "SI", "TN", "GTS"]
    static let datatypes: Set<String> = text.union(["NM", "DTM", "TS", "DT", "CX", "XPN", "XCN", "XAD", "XTN", "CWE", "CE", "CNE", "CF",
                                                     "EI", "HD", "XON", "PL", "CQ", "SN", "ED", "RP"])

    let set: HL7MappingSet
    /// Notes for the OperationOutcome (a code not in a table, …); times without a zone are in ``zoneless``.
    var warnings: [String] = []
    /// Times of day without a zone that settings.yaml gave none for: where, the text, and whether the target was
    /// an instant (read as UTC) or a dateTime (only the date kept). Told once per kind in ``allWarnings()``.
    var zoneless: [(location: HL7Location, text: String, instant: Bool)] = []

    /// ``warnings``, then the times without zone: each on its own when there are a few, else one line per kind
    /// with the first places (an ORU of 80 results would otherwise repeat one sentence 80 times).
    func allWarnings() -> [String] {
        var out = warnings
        for instant in [true, false] {
            let cases = zoneless.filter { $0.instant == instant }
            guard !cases.isEmpty else { continue }
            if cases.count <= 3 {
                let told = instant ? "has no time zone (and settings.yaml sets none); read as UTC for a FHIR instant"
                    : "has a time of day but no time zone (and settings.yaml sets none); only its date is kept"
                for c in cases { out.append("\(c.location): \(c.text) \(told)") }
            } else {
                let told = instant ? "have no time zone (and settings.yaml sets none); each is read as UTC for a FHIR instant"
                    : "have a time of day but no time zone (and settings.yaml sets none); of each, only the date is kept"
                let shown = cases.prefix(3).map { "\($0.location) \($0.text)" }.joined(separator: "; ")
                out.append("\(cases.count) values \(told). The first: \(shown); and \(cases.count - 3) more")
            }
        }
        return out
    }

    init(set: HL7MappingSet) { self.set = set }

    static func object(_ pairs: [(String, FHIRValue?)]) -> FHIRValue? {
        var members: [FHIRObject.Member] = []
        for (name, value) in pairs {
            guard let value else { continue }
            if case .array(let items) = value, items.isEmpty { continue }
            if case .object(let o) = value, o.members.isEmpty { continue }
            members.append(FHIRObject.Member(name: name, value: value))
        }
        return members.isEmpty ? nil : .object(FHIRObject(members: members))
    }

    static func s(_ text: String?) -> FHIRValue? {
        guard let text else { return nil }
        let trimmed = text.trimming(" ")
        return trimmed.isEmpty ? nil : .string(trimmed)
    }

    /// A coding system name (CWE-3) as a FHIR URI: the tables' coding-systems, HL7nnnn tables, or a URI as is.
    func system(_ name: String?) -> String? {
        guard let name, !name.isEmpty else { return nil }
        if let uri = set.codingSystems[name] { return uri }
        if name.hasPrefix("HL7"), name.count == 7, name.dropFirst(3).allSatisfy(\.isNumber) {
            return "http://terminology.hl7.org/CodeSystem/v2-\(name.dropFirst(3))"
        }
        if name.hasPrefix("http://") || name.hasPrefix("https://") || name.hasPrefix("urn:") { return name }
        return nil
    }

    /// An assigning authority as an identifier system: ISO OIDs and UUIDs as URNs, else the tables'
    /// identifier-systems, else nil.
    func identifierSystem(_ hd: HL7HD?) -> String? {
        guard let hd else { return nil }
        if let uid = hd.universalId {
            switch hd.universalIdType?.uppercased() {
            case "ISO": if uid.allSatisfy({ $0.isNumber || $0 == "." }) { return "urn:oid:\(uid)" }
            case "UUID": return "urn:uuid:\(uid.lowercased())"
            case "URI", "URL": return uid
            default: break
            }
        }
        if let ns = hd.namespaceId, let uri = set.identifierSystems[ns] { return uri }
        if let uid = hd.universalId, let uri = set.identifierSystems[uid] { return uri }
        return nil
    }

    func coding(code: String?, display: String?, system name: String?, version: String? = nil) -> FHIRValue? {
        guard code != nil || display != nil else { return nil }
        return Self.object([("system", Self.s(system(name))), ("version", Self.s(version)), ("code", Self.s(code)), ("display", Self.s(display))])
    }

    func codeableConcept(_ cwe: HL7CWE) -> FHIRValue? {
        var codings: [FHIRValue] = []
        if cwe.identifier != nil, let c = coding(code: cwe.identifier, display: cwe.text, system: cwe.codingSystem, version: cwe.codingSystemVersion) { codings.append(c) }
        if cwe.alternateIdentifier != nil, let c = coding(code: cwe.alternateIdentifier, display: cwe.alternateText, system: cwe.alternateCodingSystem, version: cwe.alternateCodingSystemVersion) { codings.append(c) }
        let text = cwe.originalText ?? (codings.isEmpty ? cwe.text : nil)
        return Self.object([("coding", .array(codings)), ("text", Self.s(text))])
    }

    /// Converts `value` (of HL7 `datatype`) to FHIR `type`. Nil when the value gives nothing for that type.
    mutating func convert(_ value: HL7Value, datatype: String, to type: String, with extra: [String: HL7Value],
                          at location: HL7Location) throws(HL7Error) -> FHIRValue? {
        func located(_ error: HL7Error) -> HL7Error { HL7Error(error.code, error.reason, at: location) }
        switch datatype {
        case "CX":
            let cx = HL7CX(value)
            switch type {
            case "Identifier":
                let typeCoding = cx.identifierTypeCode.flatMap { coding(code: $0, display: nil, system: "HL70203") }
                return Self.object([
                    ("type", typeCoding.map { .object(FHIRObject(members: [.init(name: "coding", value: .array([$0]))])) }),
                    ("system", Self.s(identifierSystem(cx.assigningAuthority))),
                    ("value", Self.s(cx.id)),
                    ("assigner", cx.assigningAuthority?.namespaceId.flatMap { Self.object([("display", Self.s($0))]) }),
                ]).flatMap { o in o.objectValue?["value"] == nil ? nil : o }
            default: return try text(cx.id, to: type, at: location)
            }
        case "EI":
            let ei = HL7EI(value)
            if type == "Identifier" {
                let hd = HL7HD(value: (ei.namespaceId, ei.universalId, ei.universalIdType))
                return Self.object([("system", Self.s(identifierSystem(hd))), ("value", Self.s(ei.entityId)),
                                    ("assigner", ei.namespaceId.flatMap { Self.object([("display", Self.s($0))]) })])
                    .flatMap { o in o.objectValue?["value"] == nil ? nil : o }
            }
            return try text(ei.entityId, to: type, at: location)
        case "HD":
            let hd = HL7HD(value)
            if type == "Identifier" {
                if let uid = hd.universalId, hd.universalIdType?.uppercased() == "ISO" {
                    return Self.object([("system", .string("urn:ietf:rfc:3986")), ("value", .string("urn:oid:\(uid)"))])
                }
                return Self.object([("value", Self.s(hd.namespaceId ?? hd.universalId))])
            }
            return try text(hd.namespaceId ?? hd.universalId, to: type, at: location)
        case "XPN", "XCN":
            let name: (family: String?, given: [String?], suffix: String?, prefix: String?, use: String?, id: String?, authority: HL7HD?)
            if datatype == "XPN" {
                let x = HL7XPN(value)
                name = (x.family, [x.given, x.middle], x.suffix ?? x.degree, x.prefix, x.nameTypeCode, nil, nil)
            } else {
                let x = HL7XCN(value)
                name = (x.family, [x.given, x.middle], x.suffix ?? x.degree, x.prefix, x.nameTypeCode, x.id, x.assigningAuthority)
            }
            switch type {
            case "HumanName":
                let given = name.given.compactMap { Self.s($0) }
                let use: String? = switch name.use {
                case "L": "official"
                case "D", "N": "usual"
                case "M", "B": "maiden"
                case "A", "S": "anonymous"
                case "C", "T": "temp"
                case "NB": "nickname"
                default: nil
                }
                return Self.object([("use", Self.s(use)), ("family", Self.s(name.family)), ("given", .array(given)),
                                    ("prefix", .array([Self.s(name.prefix)].compactMap { $0 })), ("suffix", .array([Self.s(name.suffix)].compactMap { $0 }))])
                    .flatMap { o in (o.objectValue?["family"] ?? o.objectValue?["given"]) == nil ? nil : o }
            case "Identifier":
                return Self.object([("system", Self.s(identifierSystem(name.authority))), ("value", Self.s(name.id))])
                    .flatMap { o in o.objectValue?["value"] == nil ? nil : o }
            default:
                let text = [name.prefix, name.given.first ?? nil, name.family].compactMap { $0 }.joined(separator: " ")
                return try self.text(text, to: type, at: location)
            }
        case "XAD":
            let x = HL7XAD(value)
            guard type == "Address" else { return try text(x.street, to: type, at: location) }
            let use: String? = switch x.addressType { case "H": "home"; case "B", "O": "work"; case "C": "temp"; case "BA": "old"; default: nil }
            let kind: String? = switch x.addressType { case "M": "postal"; case "SH": "physical"; default: nil }
            return Self.object([("use", Self.s(use)), ("type", Self.s(kind)),
                                ("line", .array([Self.s(x.street), Self.s(x.otherDesignation)].compactMap { $0 })),
                                ("city", Self.s(x.city)), ("district", Self.s(x.county)), ("state", Self.s(x.state)),
                                ("postalCode", Self.s(x.postalCode)), ("country", Self.s(x.country))])
        case "XTN":
            let x = HL7XTN(value)
            guard type == "ContactPoint" else { return try text(x.number ?? x.email, to: type, at: location) }
            let system: String
            let text: String?
            if x.isNetworkAddress {
                system = "email"
                text = x.email ?? x.unformatted
            } else {
                system = switch x.equipmentType { case "FX": "fax"; case "BP": "pager"; default: "phone" }
                text = x.number
            }
            let use: String? = switch x.useCode { case "PRN", "ORN", "VHN": "home"; case "WPN": "work"; case "PRS": "mobile"; default: x.equipmentType == "CP" ? "mobile" : nil }
            guard let text = Self.s(text) else { return nil }
            return Self.object([("system", .string(system)), ("value", text), ("use", Self.s(use))])
        case "CWE", "CE", "CNE", "CF":
            let cwe = HL7CWE(value)
            switch type {
            case "CodeableConcept": return codeableConcept(cwe)
            case "Coding": return coding(code: cwe.identifier, display: cwe.text, system: cwe.codingSystem, version: cwe.codingSystemVersion)
            default: return try self.text(cwe.identifier ?? cwe.text, to: type, at: location)
            }
        case "XON":
            switch type {
            case "Identifier": return Self.object([("value", Self.s(value.composite.component(10)?.string ?? value.composite.component(3)?.string))])
            default: return try text(value.composite.component(1)?.string, to: type, at: location)
            }
        case "PL":
            let parts = (1...4).compactMap { value.composite.component($0)?.string }
            return try text(parts.isEmpty ? nil : parts.joined(separator: " "), to: type, at: location)
        case "NM":
            guard let raw = value.composite.component(1)?.string else { return nil }
            let number: HL7Number
            do throws(HL7Error) { number = try HL7Number(parsing: raw) } catch { throw located(error) }
            switch type {
            case "Quantity", "Age", "Duration", "SimpleQuantity":
                var pairs: [(String, FHIRValue?)] = [("value", .number(FHIRNumber(uncheckedLexeme: number.decimal)))]
                if let unit = extra["unit"], !unit.isEmpty {
                    let cwe = HL7CWE(unit)
                    let unitSystem = system(cwe.codingSystem) ?? (cwe.codingSystem == nil ? nil : nil)
                    pairs += [("unit", Self.s(cwe.text ?? cwe.identifier)), ("system", Self.s(unitSystem)), ("code", unitSystem == nil ? nil : Self.s(cwe.identifier))]
                }
                return Self.object(pairs)
            case "decimal": return .number(FHIRNumber(uncheckedLexeme: number.decimal))
            case "integer", "positiveInt", "unsignedInt":
                guard let n = Int(number.decimal) else { throw HL7Error(.dataType, "\"\(raw)\" is not a whole number", at: location) }
                return .number(FHIRNumber(n))
            default: return try text(raw, to: type, at: location)
            }
        case "CQ":
            let nested = value.composite
            guard let raw = nested.component(1)?.string else { return nil }
            let number: HL7Number
            do throws(HL7Error) { number = try HL7Number(parsing: raw) } catch { throw located(error) }
            let unit = nested.component(2)?.subcomponent(1)?.string
            return Self.object([("value", .number(FHIRNumber(uncheckedLexeme: number.decimal))), ("unit", Self.s(unit))])
        case "SN":
            let v = value.composite
            let comparator = v.component(1)?.string
            guard let raw = v.component(2)?.string else { return nil }
            let number: HL7Number
            do throws(HL7Error) { number = try HL7Number(parsing: raw) } catch { throw located(error) }
            if let separator = v.component(3)?.string, let second = v.component(4)?.string {
                // Ranges and ratios have no single quantity: keep the text.
                return try text("\(comparator ?? "")\(raw)\(separator)\(second)", to: type, at: location)
            }
            if type == "Quantity" {
                var pairs: [(String, FHIRValue?)] = [("value", .number(FHIRNumber(uncheckedLexeme: number.decimal)))]
                if let comparator, ["<", "<=", ">", ">="].contains(comparator) { pairs.insert(("comparator", .string(comparator)), at: 0) }
                if let unit = extra["unit"], !unit.isEmpty {
                    let cwe = HL7CWE(unit)
                    let unitSystem = system(cwe.codingSystem)
                    pairs += [("unit", Self.s(cwe.text ?? cwe.identifier)), ("system", Self.s(unitSystem)), ("code", unitSystem == nil ? nil : Self.s(cwe.identifier))]
                }
                return Self.object(pairs)
            }
            return try text("\(comparator ?? "")\(raw)", to: type, at: location)
        case "DTM", "TS", "DT":
            guard let raw = value.composite.component(1)?.string else { return nil }
            let dt: HL7DateTime
            do throws(HL7Error) { dt = try HL7DateTime(parsing: raw) } catch { throw located(error) }
            return dateTime(dt, to: type, at: location)
        case "ED", "RP":
            // Encapsulated data (ED-5) or a pointer (RP-1): the text.
            let data = datatype == "ED" ? value.composite.component(5)?.text() : value.composite.component(1)?.string
            return try text(data, to: type, at: location)
        default:
            // ST, TX, FT, ID, IS, SI, …: the whole repetition's text (components joined by spaces for TX/FT).
            let leaf: String?
            if datatype == "TX" || datatype == "FT" {
                let parts = value.composite.components.compactMap { $0.string }
                leaf = parts.isEmpty ? nil : parts.joined(separator: " ")
            } else {
                leaf = value.composite.component(1)?.string
            }
            return try text(leaf, to: type, at: location)
        }
    }

    /// A date/time as FHIR `type` (``HL7DateTime/fhirText(as:defaultOffsetMinutes:)``); a missing zone is noted
    /// for ``allWarnings()``.
    mutating func dateTime(_ dt: HL7DateTime, to type: String, at location: HL7Location) -> FHIRValue? {
        if type == "Period" { return Self.object([("start", dateTime(dt, to: "dateTime", at: location))]) }
        let (text, zoneMissing) = dt.fhirText(as: type, defaultOffsetMinutes: set.defaultTimeZoneMinutes)
        if zoneMissing { zoneless.append((location, dt.text, type == "instant")) }
        return .string(text)
    }

    /// Text written as a FHIR value of `type`.
    func text(_ raw: String?, to type: String, at location: HL7Location) throws(HL7Error) -> FHIRValue? {
        guard let raw, let value = Self.s(raw), case .string(let text) = value else { return nil }
        switch type {
        case "string", "markdown", "code", "id", "uri", "url", "canonical", "oid", "uuid":
            return .string(text)
        case "base64Binary":
            return .string(Data(text.utf8).base64EncodedString())
        case "integer", "positiveInt", "unsignedInt":
            guard let n = Int(text) else { throw HL7Error(.dataType, "\"\(text)\" is not a whole number", at: location) }
            return .number(FHIRNumber(n))
        case "decimal":
            do { return .number(FHIRNumber(uncheckedLexeme: try HL7Number(parsing: text).decimal)) } catch { throw HL7Error(error.code, error.reason, at: location) }
        case "boolean":
            switch text.lowercased() {
            case "y", "yes", "true", "1": return .bool(true)
            case "n", "no", "false", "0": return .bool(false)
            default: throw HL7Error(.dataType, "\"\(text)\" is not a yes/no value", at: location)
            }
        case "CodeableConcept": return Self.object([("text", value)])
        case "Coding": return Self.object([("code", value)])
        case "Annotation": return Self.object([("text", value)])
        case "Reference": return Self.object([("display", value)])
        case "Identifier": return Self.object([("value", value)])
        case "HumanName": return Self.object([("text", value)])
        case "Address": return Self.object([("text", value)])
        case "Narrative": return nil
        default:
            throw HL7Error(.internalError, "the mapping writes text to a FHIR \(type), which takes no text", at: location)
        }
    }

    /// A table entry written as a FHIR value of `type` (by both engines).
    static func tableValue(_ entry: VocabularyTable.Entry, to type: String) -> FHIRValue? {
        switch entry {
        case .code(let code):
            switch type {
            case "boolean": return code == "true" ? .bool(true) : code == "false" ? .bool(false) : nil
            case "Coding": return Self.object([("code", .string(code))])
            case "CodeableConcept": return Self.object([("coding", .array([Self.object([("code", .string(code))])].compactMap { $0 }))])
            default: return .string(code)
            }
        case .coding(let system, let code, let display):
            let coding = Self.object([("system", Self.s(system)), ("code", .string(code)), ("display", Self.s(display))])
            switch type {
            case "Coding": return coding
            case "CodeableConcept": return Self.object([("coding", .array([coding].compactMap { $0 }))])
            case "boolean": return code == "true" ? .bool(true) : code == "false" ? .bool(false) : nil
            default: return .string(code)
            }
        }
    }
}

extension HL7HD {
    init(value: (String?, String?, String?)) {
        self.init(namespaceId: value.0, universalId: value.1, universalIdType: value.2)
    }
}
