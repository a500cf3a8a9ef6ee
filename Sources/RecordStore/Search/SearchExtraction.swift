public import FHIRCore
import Foundation

/// Reads the search-index rows of a resource for every supported search parameter of its type
/// (``SearchParameterTable/r4``), by evaluating each parameter's FHIRPath expression over the resource's tape and
/// turning what it selects into rows by the parameter's type (``IndexEntry`` documents the columns).
public enum SearchExtraction {
    /// The rows of the resource `tape` holds, its references read through `rewrites`.
    public static func entries(for tape: JSONTape, rewrites: [String: String] = [:],
                               table: SearchParameterTable = .r4) -> [IndexEntry] {
        guard let type = tape.resourceType else { return [] }
        let evaluator = FHIRPathEvaluator(tape: tape, rewrites: rewrites)
        var out: [IndexEntry] = []
        for parameter in table.indexed(for: type) {
            guard let path = parameter.path else { continue }
            let items = evaluator.evaluate(path)
            if items.isEmpty { continue }
            let start = out.count
            for item in items { rows(item, parameter, evaluator, &out) }
            dedupe(&out, from: start)
        }
        return out
    }

    /// Removes the repeats among `rows[start...]`, keeping the first of each in order. Rows of different parameters
    /// never compare equal (`param` differs), so a parameter's own rows, written together, are all that need
    /// comparing: a handful each, where hashing every row of the resource into a set cost more than the search
    /// extraction's own evaluation (bench import profile).
    static func dedupe(_ rows: inout [IndexEntry], from start: Int) {
        guard rows.count - start > 1 else { return }
        var kept = start + 1
        for i in (start + 1)..<rows.count {
            if !rows[start..<kept].contains(rows[i]) {
                if i != kept { rows.swapAt(i, kept) }
                kept += 1
            }
        }
        rows.removeSubrange(kept...)
    }

    private static func rows(_ item: FHIRPathEvaluator.Item, _ p: SearchParameterDefinition, _ e: FHIRPathEvaluator,
                             _ out: inout [IndexEntry]) {
        let t = e.tape
        switch item {
        case .boolean(let b):
            if p.type == .token { out.append(IndexEntry(param: p.code, value: b ? "true" : "false")) }
        case .string(let s):
            out.append(IndexEntry(param: p.code, value: p.type == .string ? normalize(s) : s, text: p.type == .string ? s : ""))
        case .resolved:
            break
        case .node(let i, _):
            switch p.type {
            case .string: strings(t, i, p.code, &out)
            case .token: tokens(t, i, p.code, &out)
            case .reference: references(e, i, p.code, &out)
            case .date: dates(t, i, p.code, &out)
            case .number:
                if t.kind(at: i) == .number, let v = Double(t.text(at: i)) {
                    out.append(IndexEntry(param: p.code, value: t.text(at: i), low: v, high: v))
                }
            case .quantity: quantities(t, i, p.code, &out)
            case .uri:
                if let s = t.string(at: i) { out.append(IndexEntry(param: p.code, value: s)) }
            case .composite, .special: break
            }
        }
    }

    /// Members of HumanName and Address (and any other object) that string search reads.
    static let stringMembers = ["text", "family", "given", "prefix", "suffix", "line", "city", "district", "state", "postalCode", "country"]

    private static func strings(_ t: JSONTape, _ i: Int, _ code: String, _ out: inout [IndexEntry]) {
        func add(_ s: String) { if !s.isEmpty { out.append(IndexEntry(param: code, value: normalize(s), text: s)) } }
        switch t.kind(at: i) {
        case .string: add(t.text(at: i))
        case .object:
            for key in stringMembers {
                guard let v = t.member(key, of: i) else { continue }
                if let s = t.string(at: v) { add(s) }
                if t.kind(at: v) == .array { for item in t.items(of: v) { if let s = t.string(at: item) { add(s) } } }
            }
        default: break
        }
    }

    private static func tokens(_ t: JSONTape, _ i: Int, _ code: String, _ out: inout [IndexEntry]) {
        switch t.kind(at: i) {
        case .string, .number: out.append(IndexEntry(param: code, value: t.text(at: i)))
        case .true: out.append(IndexEntry(param: code, value: "true"))
        case .false: out.append(IndexEntry(param: code, value: "false"))
        case .object:
            if let codings = t.member("coding", of: i) {
                // CodeableConcept: a row per coding; its text (else the display) for `:text`.
                let text = t.stringMember("text", of: i)
                for coding in t.objects(codings) {
                    let display = text ?? t.stringMember("display", of: coding) ?? ""
                    out.append(IndexEntry(param: code, value: t.stringMember("code", of: coding) ?? "",
                                          system: t.stringMember("system", of: coding) ?? "", text: normalize(display)))
                }
                if t.objects(codings).isEmpty, let text { out.append(IndexEntry(param: code, value: "", text: normalize(text))) }
            } else if let value = t.stringMember("value", of: i) {
                // Identifier or ContactPoint; an identifier's type text for `:text`.
                let typeText = t.member("type", of: i).flatMap { t.stringMember("text", of: $0) } ?? ""
                out.append(IndexEntry(param: code, value: value, system: t.stringMember("system", of: i) ?? "", text: normalize(typeText)))
            } else if let c = t.stringMember("code", of: i) {
                out.append(IndexEntry(param: code, value: c, system: t.stringMember("system", of: i) ?? "",
                                      text: normalize(t.stringMember("display", of: i) ?? "")))
            } else if let text = t.stringMember("text", of: i) {
                out.append(IndexEntry(param: code, value: "", text: normalize(text)))
            }
        default: break
        }
    }

    private static func references(_ e: FHIRPathEvaluator, _ i: Int, _ code: String, _ out: inout [IndexEntry]) {
        let t = e.tape
        switch t.kind(at: i) {
        case .string:
            // canonical and uri elements that reference parameters select.
            out.append(IndexEntry(param: code, value: t.text(at: i)))
        case .object:
            if let r = e.reference(of: i) { out.append(IndexEntry(param: code, value: r)) }
            if let identifier = t.member("identifier", of: i), let value = t.stringMember("value", of: identifier) {
                out.append(IndexEntry(param: code + ":identifier", value: value, system: t.stringMember("system", of: identifier) ?? ""))
            }
        default: break
        }
    }

    private static func dates(_ t: JSONTape, _ i: Int, _ code: String, _ out: inout [IndexEntry]) {
        switch t.kind(at: i) {
        case .string:
            let s = t.text(at: i)
            if let r = SearchRange.date(s) { out.append(IndexEntry(param: code, value: s, valueTo: s, low: r.low, high: r.high)) }
        case .object:
            let start = t.stringMember("start", of: i), end = t.stringMember("end", of: i)
            if start != nil || end != nil {
                // Period: an open end is unbounded (FHIR R4 Period: "the period is ongoing").
                let low = start.flatMap(SearchRange.date)?.low ?? SearchRange.unboundedLow
                let high = end.flatMap(SearchRange.date)?.high ?? SearchRange.unboundedHigh
                out.append(IndexEntry(param: code, value: start ?? "", valueTo: end ?? "", low: low, high: high))
            } else if let events = t.member("event", of: i) {
                // Timing: each event.
                for item in t.items(of: events) { dates(t, item, code, &out) }
            }
        default: break
        }
    }

    private static func quantities(_ t: JSONTape, _ i: Int, _ code: String, _ out: inout [IndexEntry]) {
        guard t.kind(at: i) == .object else { return }
        func quantity(_ q: Int) -> (value: Double, code: String, system: String, unit: String)? {
            guard let v = t.member("value", of: q), t.kind(at: v) == .number, let d = Double(t.text(at: v)) else { return nil }
            let unit = t.stringMember("unit", of: q) ?? ""
            return (d, t.stringMember("code", of: q) ?? unit, t.stringMember("system", of: q) ?? "", unit)
        }
        if let q = quantity(i) {
            out.append(IndexEntry(param: code, value: q.code, system: q.system, text: q.unit, low: q.value, high: q.value))
        } else if t.member("low", of: i) != nil || t.member("high", of: i) != nil {
            // Range.
            let low = t.member("low", of: i).flatMap(quantity), high = t.member("high", of: i).flatMap(quantity)
            guard let any = low ?? high else { return }
            out.append(IndexEntry(param: code, value: any.code, system: any.system, text: any.unit,
                                  low: low?.value ?? -Double.greatestFiniteMagnitude, high: high?.value ?? Double.greatestFiniteMagnitude))
        }
    }

    /// FHIR string search is case- and accent-insensitive: lowercased, and diacritics folded when there are any.
    public static func normalize(_ s: String) -> String {
        if s.utf8.allSatisfy({ $0 < 0x80 }) { return s.lowercased() }
        return s.folding(options: [.caseInsensitive, .diacriticInsensitive], locale: nil).lowercased()
    }
}
