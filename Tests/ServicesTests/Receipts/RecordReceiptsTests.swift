import FHIRCore
import Foundation
import Ledger
import Node
import RecordStore
import Services
import Testing
import TestSupport

/// Receipts and their verification as the application layer runs them for `careledger receipt`, `careledger
/// verify`, the demo and the gateway: a record version in a real store, anchored by the anchoring service on a real
/// chain.
@Suite("Receipts and verification", .timeLimit(.minutes(5)))
struct RecordReceiptsTests {
    static func put(_ store: any RecordStore, family: String) async throws {
        let json = #"{"resourceType":"Patient","id":"receipt-1","birthDate":"1984-03-09","name":[{"family":"\#(family)"}]}"#
        _ = try await store.commit([try PreparedRecord(resource: try FHIRDocument.read(Array(json.utf8)).resource)], batch: nil)
    }

    @Test(arguments: StoreKind.allCases)
    func aVersionsReceiptWaitsForItsAnchorThenVerifiesWithItsRecord(kind: StoreKind) async throws {
        try await kind.withStore { store, _ in
            let t = try TestChain()
            defer { t.remove() }
            let chain = try await t.open()
            let producer = TestChain.producing(chain)
            defer { producer.cancel() }
            let anchoring = AnchoringService(store: store, chain: chain, key: t.key, chainId: t.genesis.chainId, settings: .init(maxLeaves: 1000, maxDelayMillis: 0))
            let receipts = RecordReceipts(store: store, chain: chain)
            let key = RecordKey(type: "Patient", id: "receipt-1")
            try await Self.put(store, family: "Before")

            // Stored, not anchored yet: try again later.
            do throws(ServiceError) {
                _ = try await receipts.receipt(for: key, version: nil)
                Issue.record("a receipt before anchoring")
            } catch {
                #expect(error.code == .notReady && error.exitCode == 75 && error.reason.contains("anchoring queue"), "\(error)")
            }
            // The served version already checks against its own commitment (what the demo shows after import).
            let stored = try #require(try await store.current(key))
            #expect(ReceiptVerification.verify(stored: stored).holds)
            var badSalt = stored
            badSalt.salt[0] ^= 1
            guard case .failed(check: "commitment", _) = ReceiptVerification.verify(stored: badSalt) else {
                Issue.record("a wrong salt passed the commitment check")
                return
            }

            try await anchoring.drain()
            let issued = try await receipts.receipt(for: key, version: nil)
            #expect(issued.receipt.reference == "Patient/receipt-1/_history/1")
            #expect(issued.record == stored.canonical)
            guard case .receipt = ReceiptVerification.verify(issued.receipt, genesis: t.genesis, record: issued.record) else {
                Issue.record("the receipt does not verify with its record")
                return
            }
            // Through its JSON, as `careledger verify` reads it, with and without the record.
            let document = Array(try ReceiptJSON.encode(issued.receipt))
            #expect(ReceiptVerification.verify(document: document, genesis: t.genesis, record: nil).holds)
            var tampered = issued.record
            tampered[tampered.count / 2] ^= 0x20
            guard case .failed(check: "record", _) = ReceiptVerification.verify(document: document, genesis: t.genesis, record: tampered) else {
                Issue.record("a tampered record passed")
                return
            }
            guard case .failed(check: "receipt", _) = ReceiptVerification.verify(document: Array(document.dropLast(20)), genesis: t.genesis, record: nil) else {
                Issue.record("a truncated receipt was read")
                return
            }
            guard case .failed(check: "receipt", _) = ReceiptVerification.verify(document: nil, genesis: t.genesis, record: nil) else {
                Issue.record("an oversized receipt was read")
                return
            }

            // A second version: its own receipt once anchored; the first keeps its own.
            try await Self.put(store, family: "After")
            try await anchoring.drain()
            #expect(try await receipts.receipt(for: key, version: nil).receipt.reference == "Patient/receipt-1/_history/2")
            #expect(try await receipts.receipt(for: key, version: 1).receipt.reference == "Patient/receipt-1/_history/1")
            do throws(ServiceError) {
                _ = try await receipts.receipt(for: RecordKey(type: "Patient", id: "nobody"), version: nil)
                Issue.record("a receipt for a record not in the store")
            } catch {
                #expect(error.code == .notFound && error.httpStatus == 404, "\(error)")
            }
        }
    }

    @Test func referencesAreTypeIdWithAnOptionalHistoryVersion() throws {
        let current = try RecordReceipts.reference("Patient/p1")
        #expect(current.key == RecordKey(type: "Patient", id: "p1") && current.version == nil)
        let second = try RecordReceipts.reference("Patient/p1/_history/2")
        #expect(second.key == RecordKey(type: "Patient", id: "p1") && second.version == 2)
        for bad in ["Patient", "Patient/", "Patient/p1/_history/0", "Patient/p1/_history/x", "/p1"] {
            do throws(ServiceError) {
                _ = try RecordReceipts.reference(bad)
                Issue.record("'\(bad)' was read as a reference")
            } catch {
                #expect(error.code == .invalidRequest, "\(bad): \(error)")
            }
        }
    }
}
