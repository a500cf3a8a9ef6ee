import FHIRCore
import Foundation
import Gateway
import Hummingbird
import HTTPTypes
import HummingbirdTesting
import JWTKit
import RecordStore
import Services
import TestSupport
import Testing

/// With real tokens from the token endpoint: a partner whose scopes grant every type (`system/*.rs`) is still
/// refused AuditEvents (403), each refusal audited before the 403 arrives with the local-only reason, not a scope
/// reason; the hospital's own client reads the same AuditEvents.
@Suite("Gateway: AuditEvents refused to partners whatever their scopes, audited", .timeLimit(.minutes(3)))
struct LocalOnlyRefusalAuditTests {
    @Test(arguments: StoreKind.allCases)
    func aPartnerIsRefusedAuditEventsAndEachRefusalIsAudited(kind: StoreKind) async throws {
        try await kind.withStore { store, _ in
            try await ScopeRefusalAuditTests.withGateway(store, scopes: ["system/*.rs"]) { client, partnerKey, localKey in
                let partner = try await ScopeRefusalAuditTests.token(client, id: "partner-b", key: partnerKey)
                var expected = 0
                for uri in ["/AuditEvent/any", "/AuditEvent?_count=5", "/AuditEvent/_history"] {
                    try await client.execute(uri: uri, method: .get, headers: [.authorization: "Bearer \(partner)"]) { response in
                        #expect(response.status == .forbidden, "\(uri)")
                        let outcome = try #require(JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any])
                        let diagnostics = (outcome["issue"] as? [[String: Any]])?.first?["diagnostics"] as? String
                        #expect(diagnostics?.contains("not served to partner clients") == true, "\(uri): \(diagnostics ?? "")")
                    }
                    expected += 1
                    let events = try await ScopeRefusalAuditTests.auditEvents(store)
                    #expect(events.count == expected, "\(uri): audited before the response")
                    let event = try #require(events.first)
                    #expect(event["outcome"] as? String == "4", "\(uri)")
                    #expect((event["outcomeDesc"] as? String) == LocalOnlyRecords.refusalReason, "\(uri)")
                }
                // The hospital's own client reads them.
                let local = try await ScopeRefusalAuditTests.token(client, id: "ehr", key: localKey)
                try await client.execute(uri: "/AuditEvent?_count=50", method: .get, headers: [.authorization: "Bearer \(local)"]) { response in
                    #expect(response.status == .ok)
                    let bundle = try #require(JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any])
                    #expect((bundle["entry"] as? [[String: Any]])?.count == expected)
                }
            }
        }
    }
}
