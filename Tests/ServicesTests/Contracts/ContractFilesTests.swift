import Contracts
import Foundation
import Services
import Testing

/// Reading contract definitions and claims files: what is accepted, and the message for what is not (the file, the
/// place as a path, what was expected there).
@Suite struct ContractFilesTests {
    static let yaml = """
        # Doses pro rata.
        id: doses
        description: Doses pro rata to demand.
        pool:
          resource: dose
          units: 10
          divisible: false
          owners: [st-brigid-general-hospital]
        epochs:
          start: 1
          length: 100
        mechanism:
          type: pro-rata
        """

    static let json = """
        {"id": "doses", "description": "Doses pro rata to demand",
         "pool": {"resource": "dose", "units": 10, "divisible": false, "owners": ["st-brigid-general-hospital"]},
         "epochs": {"start": 1, "length": 100}, "mechanism": {"type": "pro-rata"}}
        """

    /// The reason the file is refused with, or nil when it is read.
    func refusal(_ body: () throws(ServiceError) -> Void) -> String? {
        do throws(ServiceError) {
            try body()
            return nil
        } catch {
            #expect(error.code == .unprocessable && error.exitCode == 1, "\(error)")
            return error.reason
        }
    }

    func definitionRefusal(_ text: String, file: String = "doses.yaml") -> String? {
        refusal { () throws(ServiceError) in _ = try ContractFiles.definition(text, file: file) }
    }

    func claimsRefusal(_ text: String) -> String? {
        refusal { () throws(ServiceError) in _ = try ContractFiles.claims(text, file: "claims.json") }
    }

    @Test func yamlAndJSONDefinitionsReadTheSame() throws {
        let fromYAML = try ContractFiles.definition(Self.yaml, file: "doses.yaml").definition
        let fromJSON = try ContractFiles.definition(Self.json, file: "doses.json").definition
        #expect(fromYAML.pool == fromJSON.pool && fromYAML.mechanism == fromJSON.mechanism && fromYAML.epochs == fromJSON.epochs)
        #expect(fromYAML.id == "doses" && fromYAML.version == 1 && fromYAML.pool.units == Rational(10) && !fromYAML.pool.divisible)
        #expect(fromYAML.pool.owners == ["st-brigid-general-hospital"])
    }

    @Test func aYAMLDecimalIsReadExactlyFromItsText() throws {
        let text = Self.yaml.replacingOccurrences(of: "units: 10", with: "units: 2.675").replacingOccurrences(of: "divisible: false", with: "divisible: true")
        let units = try ContractFiles.definition(text, file: "doses.yaml").definition.pool.units
        let expected = try Rational(2675, 1000)
        #expect(units == expected)
    }

    @Test func aFloatInAJSONDefinitionIsRefusedNamingItsPlace() {
        let text = Self.json.replacingOccurrences(of: "\"units\": 10", with: "\"units\": 10.5")
        #expect(definitionRefusal(text, file: "doses.json")
                == "doses.json: pool.units: 10.5 is a floating-point number; amounts are exact: write an integer, or a string such as \"7/2\" or \"3.5\"")
    }

    @Test func anAmountAndAnExpressionOfTheSameNameExpectWhatEachIs() {
        let weight = Self.json.replacingOccurrences(of: "\"mechanism\": {\"type\": \"pro-rata\"}", with: "\"mechanism\": {\"type\": \"pro-rata\"}, \"weight\": 2")
        #expect(definitionRefusal(weight, file: "doses.json") == "doses.json: weight: expected text")
        let units = Self.json.replacingOccurrences(of: "\"units\": 10", with: "\"units\": [10]")
        #expect(definitionRefusal(units, file: "doses.json") == "doses.json: pool.units: expected a number: an integer, or a string \"7/2\" or \"3.5\"")
    }

    @Test func anUnknownMechanismNamesTheAcceptedOnes() throws {
        let reason = try #require(definitionRefusal(Self.yaml.replacingOccurrences(of: "type: pro-rata", with: "type: pro-rate")))
        #expect(reason.hasPrefix("doses.yaml: mechanism.type: not a mechanism; one of pro-rata, max-min, weighted-max-min,"), "\(reason)")
    }

    @Test func aFieldTheFormatDoesNotHaveIsRefusedByName() throws {
        let reason = try #require(definitionRefusal(Self.yaml.replacingOccurrences(of: "  divisible: false", with: "  divisible: false\n  divisable: true")))
        #expect(reason == "doses.yaml: pool.divisable: no such field (here: divisible, owners, resource, units)")
    }

    @Test func aMissingFieldIsNamed() {
        #expect(definitionRefusal(Self.yaml.replacingOccurrences(of: "  resource: dose\n", with: "")) == "doses.yaml: pool.resource: missing (a required field)")
    }

    @Test func aDefinitionThatBreaksARuleIsRefusedAsDeployWould() {
        #expect(definitionRefusal(Self.yaml.replacingOccurrences(of: "units: 10", with: "units: -1")) == "doses.yaml: pool.units: -1 is below zero")
        #expect(definitionRefusal(Self.yaml.replacingOccurrences(of: "id: doses", with: "id: Doses")) == "doses.yaml: id: 1–64 characters of a–z, 0–9 and '-', not 'Doses'")
    }

    @Test func yamlThatDoesNotParseSaysSo() throws {
        let reason = try #require(definitionRefusal("id: [doses\npool: {"))
        #expect(reason.hasPrefix("doses.yaml: not valid YAML: "), "\(reason)")
    }

    @Test func claimsReadAmountsAsIntegersOrExactStrings() throws {
        let claims = try ContractFiles.claims("""
            [{"claimant": "a", "units": 3, "weight": "5/4", "price": "3.5", "side": "buy", "category": "u",
              "attributes": {"sofa": 6, "ratio": "7/2", "essential": true}}]
            """, file: "claims.json")
        #expect(claims.count == 1)
        let c = try #require(claims.first)
        let fiveQuarters = try Rational(5, 4), sevenHalves = try Rational(7, 2)
        #expect(c.claimant == "a" && c.units == Rational(3) && c.weight == fiveQuarters && c.price == sevenHalves)
        #expect(c.side == .buy && c.category == "u")
        #expect(c.attributes["sofa"] == .int(6) && c.attributes["ratio"] == .rational(sevenHalves) && c.attributes["essential"] == .bool(true))
    }

    @Test(arguments: ["2.5", "3.0", "1e2", "-0.5E1"])
    func aFloatInClaimsIsRefusedNamingItsPlace(_ number: String) {
        let text = "[{\"claimant\": \"a\", \"units\": 3}, {\"claimant\": \"b\", \"units\": \(number)}]"
        #expect(claimsRefusal(text)
                == "claims.json: [1].units: \(number) is a floating-point number; amounts are exact: write an integer, or a string such as \"7/2\" or \"3.5\"")
    }

    @Test func aFloatAttributeIsRefusedToo() {
        #expect(claimsRefusal("[{\"claimant\": \"a\", \"units\": 1, \"attributes\": {\"scores\": [1, 7.5]}}]")?
                    .hasPrefix("claims.json: [0].attributes.scores[1]: 7.5 is a floating-point number") == true)
    }

    @Test func claimsProblemsNameTheirPlace() {
        #expect(claimsRefusal("[{\"claimant\": \"a\"}]") == "claims.json: [0].units: missing (a required field)")
        #expect(claimsRefusal("[{\"claimant\": \"a\", \"units\": true}]") == "claims.json: [0].units: expected a number: an integer, or a string \"7/2\" or \"3.5\"")
        #expect(claimsRefusal("[{\"claimant\": \"a\", \"units\": \"seven\"}]") == "claims.json: [0].units: 'seven' is not an integer, a decimal or 'p/q'")
        #expect(claimsRefusal("[{\"claimant\": \"a\", \"units\": 1, \"side\": \"bid\"}]") == "claims.json: [0].side: \"buy\" or \"sell\"")
        #expect(claimsRefusal("[{\"claimant\": \"a\", \"units\": 1, \"wieght\": 2}]")
                == "claims.json: [0].wieght: no such field (here: attributes, category, claimant, price, side, units, weight)")
        #expect(claimsRefusal("{\"claimant\": \"a\", \"units\": 1}") == "claims.json: expected a list")
        #expect(claimsRefusal("[{\"claimant\": \"a\", \"units\": 1}") == "claims.json: not valid JSON: line 1, column 31")
        #expect(claimsRefusal("[{\"claimant\": \"a\", \"units\": 1},\n {\"claimant\" \"b\"}]") == "claims.json: not valid JSON: line 2, column 14")
        let deep = String(repeating: "[", count: 600) + String(repeating: "]", count: 600)
        #expect(claimsRefusal(deep) == "claims.json: not valid JSON: containers nested more than 256 deep")
    }
}
