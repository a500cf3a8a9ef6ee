import FHIRCore
import Foundation
import NIOCore
@testable import RecordStore
import TestSupport
import Testing

/// A large unit's search-index rows reach PostgreSQL by COPY (``SearchIndexCopy``), a small unit's by the UNNEST
/// insert: the same rows either way, and the same answers as SQLite.
@Suite("Search index rows by COPY (SQLite and PostgreSQL)", .timeLimit(.minutes(3)))
struct SearchIndexCopyTests {
    /// COPY's text format, byte for byte: escapes, NULL, infinite and fractional numbers.
    @Test func rowsInCopyTextFormat() {
        var out = ByteBuffer()
        let entry = IndexEntry(param: "name", value: "a\tb\\c\nd\re ü", system: "", valueTo: "", text: "As\u{0}is", low: -.infinity, high: 1.25)
        SearchIndexCopy.append(row: "Patient/p", RecordKey(type: "Patient", id: "p"), entry, to: &out)
        SearchIndexCopy.append(row: "Patient/p", RecordKey(type: "Patient", id: "p"), IndexEntry(param: "x", value: "v", low: .nan), to: &out)
        let expected = "Patient/p\tPatient\tp\tname\ta\\tb\\\\c\\nd\\re ü\t\t\tAs\u{0}is\t-Infinity\t1.25\n"
            + "Patient/p\tPatient\tp\tx\tv\t\t\t\t\\N\t\\N\n"
        #expect(out.getString(at: 0, length: out.readableBytes) == expected)
    }

    /// 300 Patients in one unit (well over ``SearchIndexCopy/minimumRows`` index rows, so COPY on PostgreSQL) with
    /// names holding tabs, newlines, backslashes and accents, and birth dates: string, token and date searches
    /// answer the same on both stores, and replacing the unit's resources replaces their rows.
    @Test(arguments: StoreKind.allCases)
    func aLargeUnitIsSearchableLikeASmallOne(kind: StoreKind) async throws {
        func unit(_ generation: Int) throws -> [PreparedRecord] {
            try (0..<300).map { n in
                let family = #"Fam\#(generation)\t\\x\nÿ\#(n)"#
                let year = 1900 + n
                return try PreparedRecord(resource: JSONReader().read(Array(#"""
                    {"resourceType":"Patient","id":"cp\#(n)","identifier":[{"system":"urn:s","value":"id\\\#(n)-\#(generation)"}],
                     "name":[{"family":"\#(family)","given":["G\#(n)","Zoë"]}],"gender":"other","birthDate":"\#(year)-06-15"}
                    """#.utf8)))
            }
        }
        try await kind.withStore { store, _ in
            let first = try unit(1)
            #expect(first.reduce(0) { $0 + $1.index.count } >= SearchIndexCopy.minimumRows)
            _ = try await store.commit(first, batch: nil)
            for n in [0, 7, 299] {
                let family = SearchExtraction.normalize("Fam1\t\\x\nÿ\(n)")
                #expect(try await store.search(type: "Patient", param: "family", value: family) == ["cp\(n)"], "\(kind) cp\(n)")
                #expect(try await store.resolveIdentifier(type: "Patient", system: "urn:s", value: "id\\\(n)-1") == ["cp\(n)"])
            }
            let born = try #require(SearchRange.date("1950"))
            let page = try await store.search(SearchQuery(type: "Patient", clauses: [
                SearchClause(code: "birthdate", type: .date, values: [SearchValue(prefix: .eq, text: "1950", range: born)])]))
            #expect(page.matches.map(\.key.id) == ["cp50"])
            #expect(try await store.search(type: "Patient", param: "given", value: "zoe").count == 300)

            // The same keys again, changed: a unit of stored keys, its old rows gone.
            let outcomes = try await store.commit(try unit(2), batch: nil)
            #expect(outcomes.allSatisfy { if case .updated(_, version: 2) = $0 { true } else { false } })
            #expect(try await store.search(type: "Patient", param: "family", value: SearchExtraction.normalize("Fam1\t\\x\nÿ7")).isEmpty)
            #expect(try await store.search(type: "Patient", param: "family", value: SearchExtraction.normalize("Fam2\t\\x\nÿ7")) == ["cp7"])
            #expect(try await store.search(type: "Patient", param: "given", value: "zoe").count == 300)
            #expect(try await store.versionCount() == 600)
        }
    }
}
