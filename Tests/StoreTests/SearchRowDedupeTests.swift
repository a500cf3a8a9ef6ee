import FHIRCore
import Foundation
@testable import RecordStore
import TestSupport
import Testing

/// Rows repeated within a parameter are written once, the first kept in place, without hashing every row of a
/// resource (``SearchExtraction/dedupe(_:from:)``).
@Suite("Search index rows written once")
struct SearchRowDedupeTests {
    @Test func repeatsAfterTheStartAreRemovedInOrder() {
        let a = IndexEntry(param: "code", value: "1", system: "s")
        let b = IndexEntry(param: "code", value: "2", system: "s")
        let before = IndexEntry(param: "status", value: "final")
        var rows = [before, a, b, a, b, IndexEntry(param: "code", value: "1", system: "t"), a]
        SearchExtraction.dedupe(&rows, from: 1)
        #expect(rows == [before, a, b, IndexEntry(param: "code", value: "1", system: "t")])
        // Rows before `start` (another parameter's) are left as they are, repeats and all.
        var untouched = [before, before, a]
        SearchExtraction.dedupe(&untouched, from: 2)
        #expect(untouched == [before, before, a])
    }

    /// Every official R4 example: no row twice (rows of different parameters differ in `param`, so removing repeats
    /// per parameter leaves what removing them across the resource did).
    @Test func noExampleHasARepeatedRow() throws {
        let dir = Repository.shared.appendingPathComponent("corpus/fhir-r4-examples")
        var checked = 0
        for name in try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() where name.hasSuffix(".json") {
            let bytes = try [UInt8](Data(contentsOf: dir.appendingPathComponent(name)))
            guard let tape = try? JSONReader().readTape(bytes), tape.resourceType != nil else { continue }
            let rows = SearchIndex.entries(for: tape)
            #expect(Set(rows).count == rows.count, "\(name)")
            checked += 1
        }
        #expect(checked > 200)
    }
}
