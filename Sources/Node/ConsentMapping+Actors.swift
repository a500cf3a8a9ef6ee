public import FHIRCore
public import RecordStore

/// Resolving a Consent's actors and organizations given as literal references (`Organization/x`, the common form in
/// real Consents) to the identifiers of the resources they name, before the directive is made: the ledger records
/// identifiers, which a partner's participant carries, never a local reference only this store understands.
///
/// A caller (the consent submit use case) resolves once, asynchronously, and hands the answer to
/// ``directive(from:consortiumKey:consentCommitment:issuedFallback:resolvePatient:resolveActor:)``:
///
/// ```swift
/// let actors = try await ConsentMapping.resolveActors(in: consent, store: store)
/// let directive = try ConsentMapping.directive(from: consent, …, resolveActor: { actors[$0] ?? [] })
/// ```
extension ConsentMapping {
    /// The literal references among the Consent's `organization` and (nested) `provision.actor.reference` that
    /// carry no identifier of their own, each once, in document order.
    public static func actorReferences(in consent: Resource) -> [String] {
        var out: [String] = []
        func visit(_ reference: FHIRValue?) {
            guard let r = reference?.objectValue, r["identifier"]?.objectValue?["value"] == nil,
                  let literal = r["reference"]?.stringValue, !out.contains(literal) else { return }
            out.append(literal)
        }
        for org in consent.object["organization"]?.arrayValue ?? [] { visit(org) }
        var pending = [consent.object["provision"]].compactMap { $0?.objectValue }
        var visited = 0
        while let p = pending.popLast(), visited <= Limits.maxProvisions {
            visited += 1
            for a in p["actor"]?.arrayValue ?? [] { visit(a.objectValue?["reference"]) }
            pending.append(contentsOf: (p["provision"]?.arrayValue ?? []).compactMap(\.objectValue))
        }
        return out
    }

    /// Each of ``actorReferences(in:)`` mapped to the identifiers (`system|value`, those with both, not `use`
    /// old) of the resource it names: a contained resource (`#id`), or the current version in `store` of `Type/id`
    /// (relative, absolute `https://host/fhir/Type/id`, or versioned `Type/id/_history/n`, whose current version is
    /// read: the organization is the same one). A reference that names nothing stored, or a resource without an
    /// identifier, is left out, and the directive then refuses it at its pointer.
    public static func resolveActors(in consent: Resource, store: any RecordStore) async throws -> [String: [String]] {
        var resolved: [String: [String]] = [:]
        for literal in actorReferences(in: consent) {
            let target: FHIRObject?
            if literal.hasPrefix("#") {
                let id = String(literal.dropFirst())
                target = consent.object["contained"]?.arrayValue?.compactMap(\.objectValue).first { $0["id"]?.stringValue == id }
            } else if let key = recordKey(literal) {
                target = try await store.current(key).flatMap { try? FHIRDocument.read($0.canonical).resource.object }
            } else {
                target = nil
            }
            let identifiers = target.map(identifiers(of:)) ?? []
            if !identifiers.isEmpty { resolved[literal] = identifiers }
        }
        return resolved
    }

    /// `system|value` of each usable identifier of a resource, in document order, each once.
    public static func identifiers(of resource: FHIRObject) -> [String] {
        var out: [String] = []
        for i in resource["identifier"]?.arrayValue ?? [] {
            guard let o = i.objectValue, o["use"]?.stringValue != "old", let system = o["system"]?.stringValue, let value = o["value"]?.stringValue else { continue }
            let identifier = "\(system)|\(value)"
            if !out.contains(identifier) { out.append(identifier) }
        }
        return out
    }

    /// The record a literal reference names: the last `Type/id` of its path (a version suffix dropped).
    static func recordKey(_ literal: String) -> RecordKey? {
        var segments = literal.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        if segments.count >= 4, segments[segments.count - 2] == "_history" { segments.removeLast(2) }
        guard segments.count >= 2, let type = segments.dropLast().last, let id = segments.last,
              type.first.map({ $0.isUppercase && $0.isASCII }) == true, type.allSatisfy({ $0.isASCII && $0.isLetter }),
              (1...64).contains(id.count), id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == ".") }) else { return nil }
        return RecordKey(type: type, id: id)
    }
}
