import FHIRCore
import Foundation
import TestSupport
import Testing

/// The generated search parameter table against the official definitions it comes from.
@Suite("Search parameters generated from the R4 definitions")
struct SearchParameterTableTests {
    /// The definitions, read with Foundation's parser: (base, code, type, has expression) for every base.
    static func definitions() throws -> [(base: String, code: String, type: String, hasExpression: Bool)] {
        let url = Repository.shared.appendingPathComponent("fhir-r4-definitions/search-parameters.json")
        let bundle = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        var out: [(String, String, String, Bool)] = []
        for entry in bundle["entry"] as? [[String: Any]] ?? [] {
            guard let r = entry["resource"] as? [String: Any], let code = r["code"] as? String, let type = r["type"] as? String else { continue }
            for base in r["base"] as? [String] ?? [] { out.append((base, code, type, r["expression"] is String)) }
        }
        return out
    }

    @Test func everyDefinitionIsInTheTableWithItsType() throws {
        let defs = try Self.definitions()
        let table = SearchParameterTable.r4
        #expect(table.all.count == defs.count)
        var byType: [String: Int] = [:]
        for d in defs {
            let p = try #require(table.all.first { $0.base == d.base && $0.code == d.code }, "\(d.base).\(d.code)")
            #expect(p.type.rawValue == d.type, "\(d.base).\(d.code)")
            byType[d.type, default: 0] += 1
        }
        // The counts the generator prints (README, "Search"): by type over every (base, parameter) pair.
        #expect(byType == ["token": 672, "reference": 517, "string": 201, "date": 140, "composite": 72, "uri": 57,
                           "quantity": 40, "number": 6, "special": 1])
        print("search parameters by type: \(byType.sorted { $0.key < $1.key })")
    }

    /// Every expression of a parameter of a supported type parses with the FHIRPath subset, so every one of them
    /// is indexed; only the three without an expression (`_text`, `_content`, `_query`) are not.
    @Test func everyExpressionOfASupportedParameterParses() throws {
        let supportedTypes: Set<SearchParameterType> = [.string, .token, .reference, .date, .number, .quantity, .uri]
        var failures: [String] = []
        var parsed = 0
        for p in SearchParameterTable.r4.all where supportedTypes.contains(p.type) && !p.expression.isEmpty {
            do {
                _ = try FHIRPathParser.parse(p.expression)
                parsed += 1
            } catch {
                failures.append("\(p.base).\(p.code): \(p.expression): \(error)")
            }
            #expect(p.isSupported, "\(p.base).\(p.code)")
        }
        #expect(failures.isEmpty, "\(failures)")
        #expect(parsed == 1630)
        let unsupported = SearchParameterTable.r4.all.filter { supportedTypes.contains($0.type) && !$0.isSupported }.map { "\($0.base).\($0.code)" }
        #expect(unsupported.sorted() == ["DomainResource._text", "Resource._content", "Resource._query"])
    }

    @Test func parametersOfATypeIncludeThoseOfEveryResource() {
        let table = SearchParameterTable.r4
        #expect(table.parameter("name", for: "Patient")?.type == .string)
        #expect(table.parameter("_tag", for: "Patient")?.expression == "Resource.meta.tag")
        #expect(table.parameter("subject", for: "Observation")?.targets.contains("Patient") == true)
        #expect(table.parameter("code-value-quantity", for: "Observation")?.isSupported == false)
        #expect(table.parameter("nonsense", for: "Patient") == nil)
        #expect(table.indexed(for: "Patient").contains { $0.code == "_id" } == false)
    }

    @Test func fhirPathSubsetForms() throws {
        #expect(try FHIRPathParser.parse("Observation.subject.where(resolve() is Patient)")
                == .function(.member(.typeRoot("Observation"), "subject"), "where",
                             [.typeFilter(.function(.this, "resolve", []), "Patient", isTest: true)]))
        #expect(try FHIRPathParser.parse("(Observation.value as Quantity) | Condition.onset.as(Age)")
                == .union(.typeFilter(.member(.typeRoot("Observation"), "value"), "Quantity", isTest: false),
                          .typeFilter(.member(.typeRoot("Condition"), "onset"), "Age", isTest: false)))
        #expect(throws: FHIRPathSyntaxError.self) { try FHIRPathParser.parse("Patient.name.select(given)") }
        #expect(throws: FHIRPathSyntaxError.self) { try FHIRPathParser.parse("Patient.name.where(") }
    }

    @Test func evaluationOverATape() throws {
        let tape = try JSONReader().readTape(Array("""
            {"resourceType":"Patient","id":"p","deceasedDateTime":"2020-01-01","telecom":[{"system":"phone","value":"1"},{"system":"email","value":"a@b"}],
             "generalPractitioner":[{"reference":"Practitioner/9"},{"reference":"Organization/3"}]}
            """.utf8))
        let e = FHIRPathEvaluator(tape: tape)
        func strings(_ expression: String) throws -> [String] {
            try e.evaluate(FHIRPathParser.parse(expression)).map {
                switch $0 {
                case .node(let i, _): tape.kind(at: i) == .object ? "{}" : tape.text(at: i)
                case .boolean(let b): "\(b)"
                case .string(let s): s
                case .resolved(let t): t
                }
            }
        }
        #expect(try strings("Patient.telecom.where(system='email').value") == ["a@b"])
        #expect(try strings("Patient.deceased.exists() and Patient.deceased != false") == ["true"])
        #expect(try strings("(Patient.deceased as dateTime)") == ["2020-01-01"])
        #expect(try strings("(Patient.deceased as boolean)") == [])
        #expect(try strings("Patient.generalPractitioner.where(resolve() is Organization).reference") == ["Organization/3"])
        #expect(try strings("Observation.code") == [])
        #expect(try strings("telecom[1].system | id") == ["email", "p"])
    }

    @Test func datesAreRangesOfTheirPrecision() throws {
        let year = try #require(SearchRange.date("2020"))
        #expect(year.low == 1_577_836_800_000)
        #expect(year.high == 1_609_459_200_000 - 1)
        let day = try #require(SearchRange.date("2020-02-29"))
        #expect(day.high - day.low == 86_400_000 - 1)
        let instant = try #require(SearchRange.date("2020-01-01T01:00:00.5+01:00"))
        #expect(instant.low == 1_577_836_800_500)
        #expect(instant.high == 1_577_836_800_599)
        #expect(SearchRange.date("2020-13") == nil)
        #expect(SearchRange.date("20200101") == nil)
        let n = try #require(SearchRange.number("100"))
        #expect(n.low == 99.5 && n.high == 100.5)
        let d = try #require(SearchRange.number("1.50"))
        #expect(abs(d.low - 1.495) < 1e-12 && abs(d.high - 1.505) < 1e-12)
    }
}
