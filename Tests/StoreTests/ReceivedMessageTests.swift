import FHIRCore
import RecordStore
import Testing
import TestSupport

/// Received messages (HL7 v2 duplicates) on both stores: a message's unit and its row are written together, and
/// a duplicate writes nothing.
@Suite struct ReceivedMessageTests {
    static func record(_ id: String, _ family: String) throws -> PreparedRecord {
        try PreparedRecord(resource: JSONReader().read(Array(#"{"resourceType":"Patient","id":"\#(id)","name":[{"family":"\#(family)"}]}"#.utf8)))
    }

    @Test(arguments: StoreKind.allCases)
    func aMessageIsAppliedOnceAndItsDuplicateWritesNothing(kind: StoreKind) async throws {
        try await kind.withStore { store, _ in
            let key = MessageKey(sender: "NORTH^1.2.3^ISO", controlId: "MSG-1", payloadHash: [UInt8](repeating: 7, count: 32))
            #expect(try await store.received(key) == false)
            let first = try await store.commit([try Self.record("p1", "Rivera")], batch: nil, message: key)
            #expect(first?.count == 1)
            #expect(try await store.received(key))
            // The same message again, even with other content made from it (new mappings): nothing is written.
            let again = try await store.commit([try Self.record("p1", "Changed")], batch: nil, message: key)
            #expect(again == nil)
            #expect(try await store.versionCount() == 1)
            // The same control id with other bytes is another message (senders reuse control ids).
            var other = key
            other.payloadHash = [UInt8](repeating: 8, count: 32)
            #expect(try await store.commit([try Self.record("p1", "Update")], batch: nil, message: other)?.count == 1)
            #expect(try await store.versionCount() == 2)
            // Another sender's control id is another message too.
            var elsewhere = key
            elsewhere.sender = "SOUTH"
            #expect(try await store.received(elsewhere) == false)
        }
    }

    /// Two deliveries of one message at once (a resend racing the original): exactly one is applied.
    @Test(arguments: StoreKind.allCases)
    func concurrentDuplicatesApplyOnce(kind: StoreKind) async throws {
        try await kind.withStore { store, _ in
            let key = MessageKey(sender: "NORTH", controlId: "RACE", payloadHash: [UInt8](repeating: 1, count: 32))
            let results = try await withThrowingTaskGroup(of: Bool.self) { group in
                for n in 0..<4 {
                    group.addTask { try await store.commit([try Self.record("race-\(n)", "N\(n)")], batch: nil, message: key) != nil }
                }
                var applied: [Bool] = []
                for try await r in group { applied.append(r) }
                return applied
            }
            #expect(results.filter { $0 }.count == 1)
            #expect(try await store.versionCount() == 1)
        }
    }
}
