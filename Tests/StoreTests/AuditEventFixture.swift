import FHIRCore
import RecordStore

/// A small BALP-shaped AuditEvent for the store's tests of AuditEvents stored by `commitIndexingLater` (the audit
/// journal on SQLite, the deferred index on PostgreSQL), and the search of them by outcome.
enum AuditEventFixture {
    static func event(_ id: String, outcome: String = "0", patient: String = "Patient/p1") throws -> PreparedRecord {
        try PreparedRecord(resource: JSONReader().read(Array("""
            {"resourceType":"AuditEvent","id":"\(id)","type":{"system":"http://terminology.hl7.org/CodeSystem/audit-event-type","code":"rest"},\
            "subtype":[{"system":"http://hl7.org/fhir/restful-interaction","code":"read"}],"action":"R","recorded":"2026-12-07T21:00:00Z",\
            "outcome":"\(outcome)","agent":[{"who":{"identifier":{"system":"urn:ietf:rfc:3986","value":"urn:uuid:client-b"}},"requestor":true}],\
            "source":{"observer":{"display":"careledger gateway"}},"entity":[{"what":{"reference":"\(patient)"}}]}
            """.utf8)))
    }

    /// AuditEvents with this outcome code.
    static func outcome(_ code: String) -> SearchQuery {
        SearchQuery(type: "AuditEvent", clauses: [SearchClause(code: "outcome", type: .token, values: [SearchValue(text: code)])])
    }
}
