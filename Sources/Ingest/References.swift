import FHIRCore
import Foundation

/// Reference rewriting inside an import unit (docs/store.md): `urn:uuid:` and other `fullUrl`s of a Bundle's
/// entries become `Type/id` of the stored resource, and conditional references (`Practitioner?identifier=s|v`)
/// become the id of the one resource that matches.
enum References {
    /// Every `reference` string with a `?` (a conditional reference) in a tape.
    static func collectConditional(_ tape: JSONTape, into out: inout Set<String>) {
        // Most resources have none: one scan of the bytes decides.
        guard tape.mayContain(UInt8(ascii: "?")) else { return }
        collect(tape, 0, into: &out)
    }

    private static func collect(_ t: JSONTape, _ index: Int, into out: inout Set<String>) {
        switch t.kind(at: index) {
        case .object:
            for m in t.members(of: index) {
                if t.kind(at: m.value) == .string {
                    if t.spells(m.name, "reference"), t.stringContains(m.value, UInt8(ascii: "?")), let s = t.string(at: m.value) { out.insert(s) }
                } else {
                    collect(t, m.value, into: &out)
                }
            }
        case .array:
            for item in t.items(of: index) { collect(t, item, into: &out) }
        default:
            break
        }
    }

    /// Every `reference` string that is a Bundle-local URN (`urn:uuid:…`, `urn:oid:…`), with its JSON pointer
    /// (RFC 6901) below `pointer`.
    static func collectURNs(_ value: FHIRValue, pointer: String, into out: inout [(reference: String, pointer: String)]) {
        switch value {
        case .object(let o):
            for m in o.members {
                let child = pointer + "/" + escape(m.name)
                if m.name == "reference", case .string(let s) = m.value {
                    if isURN(s) { out.append((s, child)) }
                } else {
                    collectURNs(m.value, pointer: child, into: &out)
                }
            }
        case .array(let items):
            for (i, item) in items.enumerated() { collectURNs(item, pointer: pointer + "/\(i)", into: &out) }
        default:
            break
        }
    }

    /// `urn:uuid:` and `urn:oid:` name a resource only inside the Bundle that carries them (FHIR R4 Bundle,
    /// "Resolving references in Bundles").
    static func isURN(_ reference: String) -> Bool {
        let head = reference.prefix(9).lowercased()
        return head.hasPrefix("urn:uuid:") || head.hasPrefix("urn:oid:")
    }

    /// RFC 6901 §3: `~` is written `~0` and `/` is written `~1` in a reference token.
    static func escape(_ name: String) -> String {
        guard name.contains("~") || name.contains("/") else { return name }
        return name.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1")
    }

    /// A conditional reference's type and identifier search (`Type?identifier=[system|]value`), or nil for
    /// anything else (other search parameters are not resolved).
    static func conditional(_ reference: String) -> (type: String, system: String?, value: String)? {
        guard let q = reference.firstIndex(of: "?") else { return nil }
        let type = String(reference[..<q])
        guard !type.isEmpty, type.allSatisfy({ $0.isLetter }) else { return nil }
        let query = reference[reference.index(after: q)...]
        let params = query.split(separator: "&")
        guard params.count == 1, params[0].hasPrefix("identifier=") else { return nil }
        let raw = String(params[0].dropFirst("identifier=".count))
        let decoded = raw.removingPercentEncodingSafe
        if let bar = decoded.firstIndex(of: "|") {
            let system = String(decoded[..<bar])
            return (type, system.isEmpty ? nil : system, String(decoded[decoded.index(after: bar)...]))
        }
        return (type, nil, decoded)
    }
}

extension String {
    /// Percent-decoding of a URL query value (`+` stays `+`); invalid escapes are kept as written.
    var removingPercentEncodingSafe: String {
        guard contains("%") else { return self }
        var bytes: [UInt8] = []
        let u = Array(utf8)
        var i = 0
        while i < u.count {
            if u[i] == UInt8(ascii: "%"), i + 2 < u.count, let h = Hex.decode(String(decoding: u[i + 1...i + 2], as: UTF8.self)), h.count == 1 {
                bytes.append(h[0])
                i += 3
            } else {
                bytes.append(u[i])
                i += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
