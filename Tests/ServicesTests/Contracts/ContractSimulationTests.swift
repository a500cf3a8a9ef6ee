import Contracts
import Crypto
import Foundation
import Services
import Testing

/// One epoch off the chain, and the JSON `contract simulate` prints for it.
@Suite struct ContractSimulationTests {
    static func definition(divisible: Bool, units: Int = 10) -> String {
        """
        id: doses
        pool: {resource: dose, units: \(units), divisible: \(divisible), owners: [st-brigid-general-hospital]}
        epochs: {start: 1, length: 100}
        mechanism: {type: pro-rata}
        """
    }

    static let claims = """
        [{"claimant": "alder-creek-family-clinic", "units": 3},
         {"claimant": "harbourview-medical-centre", "units": 5},
         {"claimant": "northfield-community-health", "units": 7}]
        """

    /// The report as JSON objects, for checking what was printed.
    func printed(_ outcome: ContractSimulation.Outcome) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(outcome.report.json())) as? [String: Any])
    }

    @Test func proRataReproducesTheWorkedExample() throws {
        // allocation-examples.md: 10 over 3, 5, 7 → exact 2, 3.33, 4.67 → 2, 3, 5.
        let outcome = try ContractSimulation.run(definitionText: Self.definition(divisible: false), claimsText: Self.claims)
        #expect(outcome.result.failure == nil)
        let json = try printed(outcome)
        let allocations = try #require(json["allocations"] as? [String: Int])
        #expect(allocations == ["alder-creek-family-clinic": 2, "harbourview-medical-centre": 3, "northfield-community-health": 5])
        #expect(json["supply"] as? Int == 10 && json["free"] as? Int == 0 && json["mechanism"] as? String == "pro-rata")
        #expect(json["price"] == nil && json["failure"] == nil && json["details"] == nil)
        let steps = try #require(json["explanation"] as? [[String: Any]])
        let remainder = try #require(steps.first { $0["kind"] as? String == "remainder" })
        #expect(remainder["claimant"] as? String == "northfield-community-health")
        #expect(remainder["amounts"] as? [String] == ["2/3"])
    }

    @Test func unitsPrintAsIntegersExactDecimalsOrRationals() throws {
        let thirds = try ContractSimulation.run(definitionText: Self.definition(divisible: true), claimsText: Self.claims)
        let exact = try #require(try printed(thirds)["allocations"] as? [String: Any])
        #expect(exact["alder-creek-family-clinic"] as? Int == 2)
        #expect(exact["harbourview-medical-centre"] as? String == "10/3" && exact["northfield-community-health"] as? String == "14/3")
        // 7 over two equal demands of 10: 3.5 each, printed as the exact decimal.
        let halves = try ContractSimulation.run(definitionText: Self.definition(divisible: true, units: 7),
                                                claimsText: "[{\"claimant\": \"a\", \"units\": 10}, {\"claimant\": \"b\", \"units\": 10}]")
        let json = try printed(halves)
        #expect(json["allocations"] as? [String: String] == ["a": "3.5", "b": "3.5"])
        let text = String(decoding: halves.report.json(), as: UTF8.self)
        #expect(text.contains("\"a\" : \"3.5\""), "\(text)")
        #expect(!thirds.report.json().isEmpty && String(decoding: thirds.report.json(), as: UTF8.self).contains("\"10/3\""))
    }

    @Test func theSupplyOptionReplacesThePoolUnits() throws {
        let outcome = try ContractSimulation.run(definitionText: Self.definition(divisible: false), claimsText: Self.claims, supply: Rational(15))
        #expect(outcome.result.supply == Rational(15))
        #expect(outcome.result.allocations.map(\.units) == [Rational(3), Rational(5), Rational(7)])
    }

    @Test func theSeedIsSHA256OfTheDefinitionUnlessGiven() throws {
        let text = Self.definition(divisible: false)
        let byDefault = try ContractSimulation.run(definitionText: text, claimsText: Self.claims)
        #expect(byDefault.seed == Array(SHA256.hash(data: Array(text.utf8))))
        #expect(try printed(byDefault)["seed"] as? String == byDefault.seed.map { String(format: "%02x", $0) }.joined())
        let given = try ContractSimulation.run(definitionText: text, claimsText: Self.claims, seed: [0xAB, 0x01])
        #expect(given.seed == [0xAB, 0x01])
        #expect(try printed(given)["seed"] as? String == "ab01")
    }

    @Test func aFailedExecutionIsReportedWithItsReason() throws {
        let twice = "[{\"claimant\": \"a\", \"units\": 1}, {\"claimant\": \"a\", \"units\": 2}]"
        let outcome = try ContractSimulation.run(definitionText: Self.definition(divisible: false), claimsText: twice)
        #expect(outcome.result.failure?.code == .invalidClaim)
        let failure = try #require(try printed(outcome)["failure"] as? [String: String])
        #expect(failure == ["code": "invalidClaim", "message": "'a' has two claims"])
    }

    @Test func fileNamesAppearInTheMessages() {
        do throws(ServiceError) {
            _ = try ContractSimulation.run(definitionText: Self.definition(divisible: false), claimsText: "[{\"claimant\": \"a\", \"units\": 1.5}]",
                                           definitionFile: "doses.yaml", claimsFile: "Samples/contracts/doses.claims")
            Issue.record("a float in the claims was accepted")
        } catch {
            #expect(error.reason.hasPrefix("Samples/contracts/doses.claims: [0].units: 1.5 is a floating-point number"), "\(error.reason)")
        }
    }
}
