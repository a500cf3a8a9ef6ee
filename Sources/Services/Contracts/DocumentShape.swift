/// The outline of a decoded JSON or YAML document (objects with their keys, lists, scalars), read with the same
/// decoder as the document itself, so that a field the format does not have (`wieght`, `mechanism.tiers` spelled
/// `tier`) is refused by name instead of being ignored: a policy would otherwise silently lose a parameter.
indirect enum DocumentShape: Decodable {
    case object([String: DocumentShape])
    case list([DocumentShape])
    case scalar

    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int?
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) {
            self.stringValue = "\(intValue)"
            self.intValue = intValue
        }
    }

    init(from decoder: any Decoder) throws {
        if let keyed = try? decoder.container(keyedBy: AnyKey.self) {
            var fields: [String: DocumentShape] = [:]
            for key in keyed.allKeys { fields[key.stringValue] = try keyed.decode(DocumentShape.self, forKey: key) }
            self = .object(fields)
        } else if var items = try? decoder.unkeyedContainer() {
            var list: [DocumentShape] = []
            while !items.isAtEnd { list.append(try items.decode(DocumentShape.self)) }
            self = .list(list)
        } else {
            self = .scalar
        }
    }

    /// The fields a format allows: an object's keys and what each holds, a list's items, or anything (`attributes`).
    indirect enum Fields: Sendable {
        case object([String: Fields])
        case list(Fields)
        case any
    }

    /// The first field, in key order, that `fields` does not have, as its path and the keys that are allowed
    /// there; type mismatches are left to the decoder.
    func firstUnknownField(_ fields: Fields, path: String = "") -> (path: String, allowed: [String])? {
        switch (self, fields) {
        case (.object(let present), .object(let allowed)):
            for key in present.keys.sorted() {
                let place = path.isEmpty ? key : path + "." + key
                guard let inner = allowed[key] else { return (place, allowed.keys.sorted()) }
                if let found = present[key]?.firstUnknownField(inner, path: place) { return found }
            }
            return nil
        case (.list(let items), .list(let item)):
            for (i, value) in items.enumerated() {
                if let found = value.firstUnknownField(item, path: path + "[\(i)]") { return found }
            }
            return nil
        default:
            return nil
        }
    }
}

extension DocumentShape.Fields {
    /// A contract definition (``ContractDefinition`` and what it holds).
    static let definition: Self = .object([
        "id": .any, "version": .any, "description": .any,
        "pool": .object(["resource": .any, "units": .any, "divisible": .any, "owners": .any]),
        "epochs": .object(["start": .any, "length": .any]),
        "claimants": .any,
        "mechanism": .object([
            "type": .any,
            "categories": .list(.object(["name": .any, "capacity": .any, "eligible": .any, "priority": .any])),
            "order": .any,
            "tiers": .list(.object(["name": .any, "when": .any, "excluded": .any])),
            "within": .any, "initialPrice": .any, "step": .any, "maxIterations": .any, "tolerance": .any, "tick": .any,
            "demand": .any, "supply": .any,
        ]),
        "priority": .any, "weight": .any, "gas": .any,
    ])

    /// A claims file: a list of ``Claim``s, whose attributes are free.
    static let claims: Self = .list(.object([
        "claimant": .any, "units": .any, "weight": .any, "price": .any, "side": .any, "category": .any, "attributes": .any,
    ]))
}
