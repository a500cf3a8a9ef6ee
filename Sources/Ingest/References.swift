import FHIRCore

/// Reference rewriting inside an import unit (docs/store.md): `urn:uuid:` and other `fullUrl`s of a Bundle's
/// entries become `Type/id` of the stored resource, and conditional references (`Practitioner?identifier=s|v`)
/// become the id of the one resource that matches.
enum References {
    /// Every `reference` string in a tree.
    static func collect(_ value: FHIRValue, into out: inout Set<String>) {
        switch value {
        case .object(let o):
            for m in o.members {
                if m.name == "reference", case .string(let s) = m.value { out.insert(s) } else { collect(m.value, into: &out) }
            }
        case .array(let a):
            for v in a { collect(v, into: &out) }
        default:
            break
        }
    }

    /// Replaces each `reference` string found in `map`.
    static func rewrite(_ value: inout FHIRValue, _ map: [String: String]) {
        switch value {
        case .object(var o):
            var changed = false
            for i in o.members.indices {
                if o.members[i].name == "reference", case .string(let s) = o.members[i].value {
                    if let target = map[s] {
                        o.members[i].value = .string(target)
                        changed = true
                    }
                } else if case .object = o.members[i].value {
                    rewrite(&o.members[i].value, map)
                    changed = true
                } else if case .array = o.members[i].value {
                    rewrite(&o.members[i].value, map)
                    changed = true
                }
            }
            if changed { value = .object(o) }
        case .array(var a):
            for i in a.indices { rewrite(&a[i], map) }
            value = .array(a)
        default:
            break
        }
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
