import FHIRCore
import Foundation
import HL7v2

/// The CDA datatype templates: an element of one CDA datatype written as a FHIR value of the target's type
/// (II → Identifier, PN → HumanName, AD → Address, TEL → ContactPoint, CD → CodeableConcept, TS → dateTime,
/// IVL_TS → Period, PQ → Quantity, …). An element with a `nullFlavor` gives nothing (a CD keeps its translations
/// and original text). A value that does not parse is left out with a warning.
struct CCDAValues {
    let doc: CCDADocument
    let set: CCDAMappingSet
    /// Notes for the OperationOutcome, each with the line it is about.
    var warnings: [(line: Int32, text: String)] = []

    init(doc: CCDADocument, set: CCDAMappingSet) {
        self.doc = doc
        self.set = set
    }

    mutating func warn(_ node: Int32, _ text: String) {
        warnings.append((doc.nodes[Int(node)].line, text))
    }

    static func s(_ text: String?) -> FHIRValue? {
        guard let text, let normal = CCDADocument.normalize(text) else { return nil }
        return .string(normal)
    }

    private func attr(_ name: String, _ node: Int32) -> String? {
        guard let value = doc.attribute(name, of: node), let normal = CCDADocument.normalize(value) else { return nil }
        return normal
    }

    /// A non-null child element.
    private func part(_ node: Int32, _ name: String) -> Int32? {
        guard let c = doc.child(of: node, named: name), !doc.isNull(c) else { return nil }
        return c
    }

    private func parts(_ node: Int32, _ name: String) -> [Int32] {
        doc.children(of: node, named: name).filter { !doc.isNull($0) }
    }

    /// The codes of a table for the space-separated tokens of a `use` attribute (`HP PST`).
    private func uses(_ node: Int32, table name: String) -> [String] {
        guard let use = attr("use", node), let table = set.tables[name] else { return [] }
        var out: [String] = []
        for token in use.split(separator: " ") {
            if let entry = table.entries[String(token)] ?? table.otherwise, case .code(let code) = entry, !out.contains(code) { out.append(code) }
        }
        return out
    }

    // MARK: Dispatch

    /// `node` read as `datatype` and written as FHIR `type`; nil when it gives nothing.
    mutating func convert(_ node: Int32, as datatype: CCDADatatype, to type: String) -> FHIRValue? {
        switch datatype {
        case .CD, .CE, .CV, .CO, .CS: return code(node, to: type)
        case .II: return identifier(node, to: type)
        case .PN, .EN: return name(node, to: type)
        case .AD: return address(node, to: type)
        case .TEL: return telecom(node, to: type)
        case .TS: return timestamp(node, to: type)
        case .IVL_TS: return interval(node, to: type)
        case .PQ: return quantity(node, to: type)
        case .IVL_PQ:
            guard !doc.isNull(node) else { return nil }
            if type == "Range" {
                return Converters.object([("low", part(node, "low").flatMap { quantity($0, to: "Quantity") }),
                                    ("high", part(node, "high").flatMap { quantity($0, to: "Quantity") })])
            }
            return quantity(node, to: type) ?? part(node, "center").flatMap { quantity($0, to: type) } ?? part(node, "low").flatMap { quantity($0, to: type) }
        case .INT, .REAL, .BL:
            guard !doc.isNull(node), let raw = attr("value", node) else { return nil }
            if datatype == .REAL, type == "Quantity" {
                return number(raw, node).map { .object(FHIRObject(members: [.init(name: "value", value: .number($0))])) }
            }
            return text(raw, to: type, at: node)
        case .ST, .ED, .ON:
            guard !doc.isNull(node), let raw = narrative(node) else { return nil }
            return text(raw, to: type, at: node)
        }
    }

    /// An element's text, or (for an `ED` pointing into the narrative) the text of the narrative element its
    /// `reference/@value="#id"` names.
    func narrative(_ node: Int32) -> String? {
        if let own = doc.normalizedText(node) { return own }
        if let reference = doc.child(of: node, named: "reference"), let target = doc.attribute("value", of: reference),
           target.hasPrefix("#"), let element = doc.ids[String(target.dropFirst())] {
            return doc.normalizedText(element)
        }
        return nil
    }

    // MARK: Codes

    func system(_ oid: String?) -> String? {
        guard let oid = oid.flatMap({ CCDADocument.normalize($0) }), !oid.contains(" ") else { return nil }
        if let uri = set.codeSystems[oid] { return uri }
        if CCDAMappingSet.isOID(oid) { return "urn:oid:\(oid)" }
        if Self.isUUID(oid) { return "urn:uuid:\(oid.lowercased())" }
        return oid.contains(":") ? oid : nil
    }

    private func coding(_ node: Int32) -> FHIRValue? {
        guard !doc.isNull(node), let code = attr("code", node) else { return nil }
        return Converters.object([("system", system(doc.attribute("codeSystem", of: node)).map(FHIRValue.string)),
                            ("version", Self.s(doc.attribute("codeSystemVersion", of: node))),
                            ("code", .string(code)), ("display", Self.s(doc.attribute("displayName", of: node)))])
    }

    private mutating func code(_ node: Int32, to type: String) -> FHIRValue? {
        var codings: [FHIRValue] = []
        if let own = coding(node) { codings.append(own) }
        for t in doc.children(of: node, named: "translation") { if let c = coding(t) { codings.append(c) } }
        switch type {
        case "CodeableConcept":
            var text = doc.child(of: node, named: "originalText").flatMap { narrative($0) }
            if codings.isEmpty, text == nil, !doc.isNull(node) { text = attr("displayName", node) }
            return Converters.object([("coding", .array(codings)), ("text", text.map(FHIRValue.string))])
        case "Coding":
            return codings.first
        default:
            let raw = codings.first?.objectValue?["code"]?.stringValue
                ?? (doc.isNull(node) ? nil : attr("displayName", node))
            guard let raw else { return nil }
            return text(raw, to: type, at: node)
        }
    }

    // MARK: Identifiers, names, addresses, telecoms

    static func isUUID(_ s: String) -> Bool {
        // 8-4-4-4-12 hexadecimal digits, read as bytes.
        guard s.utf8.count == 36 else { return false }
        for (i, c) in s.utf8.enumerated() {
            if i == 8 || i == 13 || i == 18 || i == 23 {
                guard c == UInt8(ascii: "-") else { return false }
            } else {
                guard (0x30...0x39).contains(c) || (0x41...0x46).contains(c) || (0x61...0x66).contains(c) else { return false }
            }
        }
        return true
    }

    private mutating func identifier(_ node: Int32, to type: String) -> FHIRValue? {
        guard !doc.isNull(node) else { return nil }
        let root = attr("root", node)
        let ext = attr("extension", node)
        let identifier: FHIRValue?
        if let ext {
            let system = root.flatMap { r in set.identifierSystems[r] ?? (CCDAMappingSet.isOID(r) ? "urn:oid:\(r)" : Self.isUUID(r) ? "urn:uuid:\(r.lowercased())" : nil) }
            identifier = Converters.object([("system", system.map(FHIRValue.string)), ("value", .string(ext))])
        } else if let root {
            let uri = CCDAMappingSet.isOID(root) ? "urn:oid:\(root)" : Self.isUUID(root) ? "urn:uuid:\(root.lowercased())" : nil
            identifier = uri.map { Converters.object([("system", .string("urn:ietf:rfc:3986")), ("value", .string($0))]) } ?? Converters.object([("value", .string(root))])
        } else {
            return nil
        }
        switch type {
        case "Identifier": return identifier
        case "Reference": return identifier.map { .object(FHIRObject(members: [.init(name: "identifier", value: $0)])) }
        default:
            guard let raw = ext ?? root else { return nil }
            return text(raw, to: type, at: node)
        }
    }

    private func name(_ node: Int32, to type: String) -> FHIRValue? {
        guard !doc.isNull(node) else { return nil }
        let given = parts(node, "given").compactMap { doc.normalizedText($0) }
        let family = parts(node, "family").compactMap { doc.normalizedText($0) }
        let prefix = parts(node, "prefix").compactMap { doc.normalizedText($0) }
        let suffix = parts(node, "suffix").compactMap { doc.normalizedText($0) }
        let structured = !(given.isEmpty && family.isEmpty && prefix.isEmpty && suffix.isEmpty)
        let whole = structured ? (prefix + given + family + suffix).joined(separator: " ") : doc.normalizedText(node)
        switch type {
        case "HumanName":
            let use = uses(node, table: "name-use").first
            return Converters.object([("use", use.map(FHIRValue.string)), ("text", structured ? nil : whole.map(FHIRValue.string)),
                                ("family", family.isEmpty ? nil : .string(family.joined(separator: " "))),
                                ("given", .array(given.map(FHIRValue.string))), ("prefix", .array(prefix.map(FHIRValue.string))),
                                ("suffix", .array(suffix.map(FHIRValue.string)))])
        case "Reference":
            return whole.map { .object(FHIRObject(members: [.init(name: "display", value: .string($0))])) }
        default:
            return whole.map(FHIRValue.string)
        }
    }

    private mutating func address(_ node: Int32, to type: String) -> FHIRValue? {
        guard !doc.isNull(node) else { return nil }
        func one(_ name: String) -> FHIRValue? { part(node, name).flatMap { doc.normalizedText($0) }.map(FHIRValue.string) }
        let lines = parts(node, "streetAddressLine").compactMap { doc.normalizedText($0) }
        let structured = !lines.isEmpty || ["city", "state", "postalCode", "country", "county"].contains { part(node, $0) != nil }
        guard type == "Address" else {
            let text = structured ? (lines + ["city", "state", "postalCode", "country"].compactMap { part(node, $0).flatMap { doc.normalizedText($0) } }).joined(separator: ", ")
                : doc.normalizedText(node)
            guard let text else { return nil }
            return self.text(text, to: type, at: node)
        }
        let period = part(node, "useablePeriod").flatMap { interval($0, to: "Period") }
        return Converters.object([("use", uses(node, table: "address-use").first.map(FHIRValue.string)),
                            ("type", uses(node, table: "address-type").first.map(FHIRValue.string)),
                            ("text", structured ? nil : doc.normalizedText(node).map(FHIRValue.string)),
                            ("line", .array(lines.map(FHIRValue.string))), ("city", one("city")), ("district", one("county")),
                            ("state", one("state")), ("postalCode", one("postalCode")), ("country", one("country")), ("period", period)])
    }

    private mutating func telecom(_ node: Int32, to type: String) -> FHIRValue? {
        guard !doc.isNull(node), let raw = doc.attribute("value", of: node) else { return nil }
        var value = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        var system = "other"
        if let colon = value.firstIndex(of: ":") {
            let scheme = value[..<colon].lowercased()
            let rest = String(value[value.index(after: colon)...]).trimmingCharacters(in: .whitespacesAndNewlines)
            switch scheme {
            case "tel", "x-text-tel": system = "phone"; value = rest
            case "fax", "x-text-fax": system = "fax"; value = rest
            case "mailto": system = "email"; value = rest
            case "sms": system = "sms"; value = rest
            case "http", "https": system = "url"
            default: break
            }
        } else if value.contains("@") {
            system = "email"
        } else if value.contains(where: \.isNumber) {
            system = "phone"
        }
        guard let normal = CCDADocument.normalize(value) else { return nil }
        guard type == "ContactPoint" else { return type == "string" ? .string(normal) : (normal.contains(" ") ? nil : .string(normal)) }
        let period = part(node, "useablePeriod").flatMap { interval($0, to: "Period") }
        return Converters.object([("system", .string(system)), ("value", .string(normal)),
                            ("use", uses(node, table: "telecom-use").first.map(FHIRValue.string)), ("period", period)])
    }

    // MARK: Times

    /// A TS value (`@value`, else `low`, else `center`).
    private func instantNode(_ node: Int32) -> (raw: String, at: Int32)? {
        guard !doc.isNull(node) else { return nil }
        if let v = attr("value", node) { return (v, node) }
        for name in ["low", "center"] {
            if let c = part(node, name), let v = attr("value", c) { return (v, c) }
        }
        return nil
    }

    mutating func parseTime(_ raw: String, at node: Int32) -> HL7DateTime? {
        do {
            return try HL7DateTime(parsing: raw)
        } catch {
            warn(node, "\(doc.describe(node)): \"\(raw)\" is not a CDA timestamp (YYYYMMDDHHMMSS.UUUU±ZZZZ); not mapped")
            return nil
        }
    }

    private mutating func timestamp(_ node: Int32, to type: String) -> FHIRValue? {
        guard let (raw, at) = instantNode(node), let dt = parseTime(raw, at: at) else { return nil }
        if type == "Period" { return dateTime(dt, to: "dateTime", at: at).map { .object(FHIRObject(members: [.init(name: "start", value: $0)])) } }
        return dateTime(dt, to: type, at: at)
    }

    private mutating func interval(_ node: Int32, to type: String) -> FHIRValue? {
        guard !doc.isNull(node) else { return nil }
        guard type == "Period" else { return timestamp(node, to: type) }
        func bound(_ name: String) -> Int32? { part(node, name).flatMap { attr("value", $0) == nil ? nil : $0 } }
        var start: FHIRValue?
        var end: FHIRValue?
        if let low = bound("low"), let dt = parseTime(attr("value", low) ?? "", at: low) { start = dateTime(dt, to: "dateTime", at: low) }
        if let high = bound("high"), let dt = parseTime(attr("value", high) ?? "", at: high) { end = dateTime(dt, to: "dateTime", at: high) }
        if start == nil, end == nil, let v = attr("value", node), let dt = parseTime(v, at: node) { start = dateTime(dt, to: "dateTime", at: node) }
        if start == nil, end == nil, let c = bound("center"), let dt = parseTime(attr("value", c) ?? "", at: c) { start = dateTime(dt, to: "dateTime", at: c) }
        return Converters.object([("start", start), ("end", end)])
    }

    /// A time of day needs a zone in FHIR: the value's own, else document.yaml's `timezone`, else only the date
    /// is kept (with a warning). An `instant` is filled to the second (UTC without a zone, with a warning).
    mutating func dateTime(_ dt: HL7DateTime, to type: String, at node: Int32) -> FHIRValue? {
        let (text, zoneMissing) = dt.fhirText(as: type, defaultOffsetMinutes: set.defaultTimeZoneMinutes)
        if zoneMissing {
            warn(node, type == "instant"
                 ? "\(doc.describe(node)): \(dt.text) has no time zone (and document.yaml sets none); read as UTC for a FHIR instant"
                 : "\(doc.describe(node)): \(dt.text) has a time of day but no time zone (and document.yaml sets none); only its date is kept")
        }
        return .string(text)
    }

    // MARK: Numbers

    mutating func number(_ raw: String, _ node: Int32) -> FHIRNumber? {
        do {
            return FHIRNumber(uncheckedLexeme: try HL7Number(parsing: raw).decimal)
        } catch {
            warn(node, "\(doc.describe(node)): \"\(raw)\" is not a number; not mapped")
            return nil
        }
    }

    private mutating func quantity(_ node: Int32, to type: String) -> FHIRValue? {
        guard !doc.isNull(node), let raw = attr("value", node), let value = number(raw, node) else { return nil }
        let unit = attr("unit", node)
        switch type {
        case "decimal": return .number(value)
        case "integer":
            guard Int32(value.lexeme) != nil else { warn(node, "\(doc.describe(node)): \(raw) is not a whole number; not mapped"); return nil }
            return .number(value)
        case "string": return .string([value.lexeme, unit].compactMap { $0 }.joined(separator: " "))
        default:
            // CDA units are UCUM (PQ.unit is a UCUM code by definition).
            return Converters.object([("value", .number(value)), ("unit", unit.map(FHIRValue.string)),
                                ("system", unit == nil ? nil : .string("http://unitsofmeasure.org")), ("code", unit.map(FHIRValue.string))])
        }
    }

    // MARK: Text

    /// Text (an attribute's value, an element's text) written as a FHIR value of `type`; nil with a warning when
    /// it is not a valid value of that type.
    mutating func text(_ raw: String, to type: String, at node: Int32) -> FHIRValue? {
        guard let text = CCDADocument.normalize(raw) else { return nil }
        func refuse(_ what: String) -> FHIRValue? {
            warn(node, "\(doc.describe(node)): \"\(text)\" is not \(what); not mapped")
            return nil
        }
        switch type {
        case "string", "markdown", "code":
            return .string(text)
        case "id":
            guard text.utf8.count <= 64, text.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == ".") }) else { return refuse("a FHIR id") }
            return .string(text)
        case "uri", "url", "canonical":
            guard !text.contains(" ") else { return refuse("a URI") }
            return .string(text)
        case "oid":
            let oid = text.hasPrefix("urn:oid:") ? String(text.dropFirst(8)) : text
            guard CCDAMappingSet.isOID(oid) else { return refuse("an OID") }
            return .string("urn:oid:\(oid)")
        case "uuid":
            let uuid = text.hasPrefix("urn:uuid:") ? String(text.dropFirst(9)) : text
            guard Self.isUUID(uuid) else { return refuse("a UUID") }
            return .string("urn:uuid:\(uuid.lowercased())")
        case "base64Binary":
            return .string(Data(text.utf8).base64EncodedString())
        case "integer", "positiveInt", "unsignedInt":
            guard let n = Int32(text), type == "integer" || n >= (type == "positiveInt" ? 1 : 0) else { return refuse("a FHIR \(type)") }
            return .number(FHIRNumber(Int(n)))
        case "decimal":
            return number(text, node).map(FHIRValue.number)
        case "boolean":
            switch text.lowercased() {
            case "true", "1": return .bool(true)
            case "false", "0": return .bool(false)
            default: return refuse("true or false")
            }
        case "date", "dateTime", "instant":
            guard let dt = parseTime(text, at: node) else { return nil }
            return dateTime(dt, to: type, at: node)
        case "CodeableConcept", "Annotation": return Converters.object([("text", .string(text))])
        case "Coding": return Converters.object([("code", .string(text))])
        case "Reference": return Converters.object([("display", .string(text))])
        case "Identifier": return Converters.object([("value", .string(text))])
        case "HumanName", "Address": return Converters.object([("text", .string(text))])
        default:
            return refuse("something a FHIR \(type) can be made of")
        }
    }

}
