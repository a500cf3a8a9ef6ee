import FHIRCore
import Foundation
import Ledger
import Node
import RecordStore
import Services
import Testing
import TestSupport

/// Consent-filtered search pages: short pages are filled, links go on only when a permitted row follows, totals
/// count what is returned, every partner Bundle carries the same notice, and nothing about withheld rows shows.
@Suite("Consent enforcement: filtered search pages", .timeLimit(.minutes(5)))
struct ConsentSearchFilterTests {
    typealias C = CaseConsents
    static let T = ConsentLedgerFixture.evaluation
    static let partner = Principal(clientId: "partner-client", kind: .partner, identifiers: [C.otherOrgIdentifier], scopes: ["system/*.rs"])

    /// What a partner sees of a search, page by page.
    struct Seen: Equatable {
        var ids: [String]
        var total: Int?
        var linksOn: Bool
    }

    static func observation(_ id: String, patient: String) throws -> Resource {
        try FHIRDocument.read(Array("""
            {"resourceType": "Observation", "id": "\(id)", "status": "final", "code": {"text": "pulse"}, "subject": {"reference": "Patient/\(patient)"}}
            """.utf8)).resource
    }

    /// A keyset engine over a fixed result list, as the store's search pages: the cursor is the position of the
    /// last row returned, given only when more rows follow.
    static func engine(_ rows: [Resource]) -> @Sendable (Int?, Int) async throws -> (rows: [Resource], next: Int?) {
        { cursor, limit in
            let from = (cursor ?? -1) + 1
            let to = min(rows.count, from + limit)
            return (Array(rows[min(from, to)..<to]), to < rows.count ? to - 1 : nil)
        }
    }

    /// Pages through `rows` with `count` per page, as a partner would.
    static func pageThrough(_ rows: [Resource], count: Int, session: ConsentSession, maxExamined: Int = 2000) async throws -> [Seen] {
        var seen: [Seen] = []
        var cursor: Int?
        let fetch = engine(rows)
        repeat {
            let page = try await session.fillPage(count: count, from: cursor, maxExamined: maxExamined, resource: { $0 }, fetch: fetch)
            seen.append(Seen(ids: page.rows.compactMap(\.id), total: page.total, linksOn: page.next != nil))
            cursor = page.next
            #expect(seen.count < 100, "paging ends")
        } while cursor != nil && seen.count < 100
        return seen
    }

    static func withLedger(_ body: (ConsentSession) async throws -> Void) async throws {
        try await StoreKind.sqlite.withStore { store, _ in
            let ledger = try await ConsentLedgerFixture()
            defer { ledger.remove() }
            try await ConsentLedgerFixture.storePatient("allowed", medicare: "case-allowed", in: store)
            try await ConsentLedgerFixture.storePatient("withheld", medicare: "case-withheld", in: store)
            try await ledger.submit(C.consent(id: "consent-allowed", patient: "case-allowed", nested: []))
            try await ledger.finalize(at: Self.T - 1)
            let gate = ConsentGate(source: ChainConsentState(chain: ledger.chain), store: store, consortiumKey: ConsentLedgerFixture.consortiumKey)
            try await body(try #require(try await gate.session(for: Self.partner, purposeHeader: nil)))
        }
    }

    /// Interleaves `permitted` Observations of the consenting patient with withheld ones in `pattern` order
    /// (`a` permitted, `w` withheld).
    static func rows(_ pattern: String) throws -> [Resource] {
        var a = 0, w = 0
        return try pattern.map { c in
            if c == "a" { a += 1; return try observation("a\(a)", patient: "allowed") }
            w += 1
            return try observation("w\(w)", patient: "withheld")
        }
    }

    @Test func withheldRowsChangeNothingAPartnerSeesButTheirAbsence() async throws {
        try await Self.withLedger { session in
            // Every pattern with 5 permitted rows must page exactly as the 5 permitted rows alone.
            let patterns = ["aaaaa", "awawawawa", "wwwwwaaaaa", "aaaaawwwww", "awwaawwwawa", "wawawawawaw"]
            for count in [1, 2, 3, 5, 10] {
                let alone = try await Self.pageThrough(try Self.rows("aaaaa"), count: count, session: session)
                for pattern in patterns {
                    let seen = try await Self.pageThrough(try Self.rows(pattern), count: count, session: session)
                    #expect(seen == alone, "pattern \(pattern), _count=\(count)")
                }
            }
            let one = try await Self.pageThrough(try Self.rows("wawawawawaw"), count: 10, session: session)
            #expect(one == [Seen(ids: ["a1", "a2", "a3", "a4", "a5"], total: 5, linksOn: false)], "one page: total counts only what is returned")
            let two = try await Self.pageThrough(try Self.rows("wawawawawaw"), count: 3, session: session)
            #expect(two == [Seen(ids: ["a1", "a2", "a3"], total: nil, linksOn: true), Seen(ids: ["a4", "a5"], total: nil, linksOn: false)])
            let none = try await Self.pageThrough(try Self.rows("wwww"), count: 3, session: session)
            #expect(none == [Seen(ids: [], total: 0, linksOn: false)], "as a search that matches nothing")
        }
    }

    @Test func aPageCutByTheExaminationBoundStillLinksOn() async throws {
        try await Self.withLedger { session in
            // 5 withheld rows, then 2 permitted; at most 4 rows examined per request.
            let seen = try await Self.pageThrough(try Self.rows("wwwwwaa"), count: 2, session: session, maxExamined: 4)
            #expect(seen.flatMap(\.ids) == ["a1", "a2"], "no permitted row is lost")
            #expect(seen.first?.linksOn == true)
        }
    }

    @Test func pagesLinkFromTheLastReturnedRowAndTheAuditGetsTheExaminedDecisions() async throws {
        try await Self.withLedger { session in
            let rows = try Self.rows("awwaw" + "a")
            let page = try await session.fillPage(count: 2, from: nil, resource: { $0 }, fetch: Self.engine(rows))
            #expect(page.rows.compactMap(\.id) == ["a1", "a2"])
            #expect(page.next == 3, "the cursor of a2, not of a withheld row examined after it")
            #expect(page.decisions.map(\.verdict) == [.permitted, .refused, .refused, .permitted])
            let rest = try await session.fillPage(count: 2, from: page.next, resource: { $0 }, fetch: Self.engine(rows))
            #expect(rest.rows.compactMap(\.id) == ["a3"] && rest.next == nil && rest.total == nil)
        }
    }

    @Test func everyPartnerSearchCarriesTheSameNotice() throws {
        let entry = ConsentNotice.searchEntry
        #expect(entry["search"]?.objectValue?["mode"]?.stringValue == "outcome")
        let outcome = try #require(entry["resource"]?.objectValue)
        #expect(outcome["resourceType"]?.stringValue == "OperationOutcome")
        #expect(ConsentPage<Resource, Int>.notice == entry)
        // It validates as an OperationOutcome, and says nothing that depends on the search.
        let issues = Validator().validate(try Resource(outcome))
        #expect(issues.isEmpty, "\(issues)")
        #expect(ConsentNotice.searchText.allSatisfy { !$0.isNumber })
    }

    @Test(arguments: StoreKind.allCases)
    func aPartnerSearchOnTheStoreReturnsOnlyPermittedMatchesAndIncludes(kind: StoreKind) async throws {
        try await kind.withStore { store, _ in
            let ledger = try await ConsentLedgerFixture()
            defer { ledger.remove() }
            try await ConsentLedgerFixture.storePatient("allowed", medicare: "case-allowed", in: store)
            try await ConsentLedgerFixture.storePatient("withheld", medicare: "case-withheld", in: store)
            try await ledger.submit(C.consent(id: "consent-allowed", patient: "case-allowed", nested: []))
            try await ledger.finalize(at: Self.T - 1)
            // o1…o7, every other one of the withheld patient: o2, o4, o6 withheld.
            let rows = try (1...7).map { try Self.observation("o\($0)", patient: $0 % 2 == 0 ? "withheld" : "allowed") }
            _ = try await store.commit(try rows.map { try PreparedRecord(resource: $0) }, batch: nil)
            let gate = ConsentGate(source: ChainConsentState(chain: ledger.chain), store: store, consortiumKey: ConsentLedgerFixture.consortiumKey)
            let session = try #require(try await gate.session(for: Self.partner, purposeHeader: nil))
            let engine = RecordSearch(store: store)

            var ids: [String] = []
            var request = try SearchRequest.parse(type: "Observation", parameters: [("_count", "2"), ("_sort", "_id"), ("_include", "Observation:subject")])
            var pages = 0
            while true {
                let page = try await session.search(request, engine: engine, query: "Observation?_count=2&_sort=_id&_include=Observation:subject")
                pages += 1
                ids += page.result.matches.map(\.id)
                #expect(page.result.matches.count <= 2)
                #expect(page.result.included.map(\.id) == ["allowed"], "only the permitted patient is included")
                #expect(page.result.total == nil, "more than one page: no total")
                #expect(page.access.interaction == .searchType && page.access.height == session.height)
                // Audited as BALP audits a query: the query and the patients concerned, no resource list.
                #expect(page.access.resources.isEmpty && page.access.query == "Observation?_count=2&_sort=_id&_include=Observation:subject")
                #expect(page.access.patients.contains("Patient/allowed"))
                guard let next = page.result.next, pages < 10 else { break }
                request.query.cursor = next
            }
            #expect(ids == ["o1", "o3", "o5", "o7"])
            #expect(pages == 2, "two full pages, no empty third")

            let count = try await session.search(try SearchRequest.parse(type: "Observation", parameters: [("_summary", "count")]), engine: engine, query: nil)
            #expect(count.result.total == 4 && count.result.matches.isEmpty, "_summary=count counts the permitted matches only")
            #expect(count.access.patients.contains("Patient/allowed"), "the count is audited with the patients it decided on")
        }
    }
}
