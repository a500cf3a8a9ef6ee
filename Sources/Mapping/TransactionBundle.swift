public import FHIRCore

/// What both mapping engines produce: a FHIR transaction Bundle that PUTs each resource under its deterministic
/// id (32 hex digits), so importing it again, or an update of the same records, replaces rather than adds. Each
/// entry's fullUrl is the id written as a UUID.
enum TransactionBundle {
    static func make(_ resources: [Resource]) -> FHIRValue {
        var entries: [FHIRValue] = []
        entries.reserveCapacity(resources.count)
        for resource in resources {
            let type = resource.resourceType
            let id = resource.id ?? ""
            let uuid = "\(id.prefix(8))-\(id.dropFirst(8).prefix(4))-\(id.dropFirst(12).prefix(4))-\(id.dropFirst(16).prefix(4))-\(id.dropFirst(20))"
            entries.append(.object(FHIRObject(members: [
                .init(name: "fullUrl", value: .string("urn:uuid:\(uuid)")),
                .init(name: "resource", value: .object(resource.object)),
                .init(name: "request", value: .object(FHIRObject(members: [
                    .init(name: "method", value: .string("PUT")),
                    .init(name: "url", value: .string("\(type)/\(id)")),
                ]))),
            ])))
        }
        return .object(FHIRObject(members: [
            .init(name: "resourceType", value: .string("Bundle")),
            .init(name: "type", value: .string("transaction")),
            .init(name: "entry", value: .array(entries)),
        ]))
    }
}
