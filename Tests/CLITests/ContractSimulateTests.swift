import Foundation
import TestSupport
import Testing

/// `careledger contract simulate` on every sample in Samples/contracts/: each reproduces its worked example of
/// allocation-examples.md exactly; and the exit codes and messages for files it cannot take.
@Suite struct ContractSimulateTests {
    let cli = CLITests()

    /// A sample and what simulate must print for it: allocations (units as printed: "2", "10/3", "35.198") and
    /// the price, where the mechanism sets one.
    struct Sample: CustomTestStringConvertible, Sendable {
        var name: String
        var allocations: [String: String]
        var price: String?
        var testDescription: String { name }
    }

    static let alder = "alder-creek-family-clinic", harbourview = "harbourview-medical-centre"
    static let northfield = "northfield-community-health", stBrigid = "st-brigid-general-hospital"

    static let samples: [Sample] = [
        // 10 over 3, 5, 7: exact 2, 3.33, 4.67; floors 2, 3, 4; the unit left to the largest remainder.
        Sample(name: "pro-rata", allocations: [alder: "2", harbourview: "3", northfield: "5"]),
        // 100 ventilators, demands 20, 50, 60 → 20, 40, 40.
        Sample(name: "max-min", allocations: [northfield: "20", harbourview: "40", stBrigid: "40"]),
        // 100 hours, demands 20, 26, 40, 50 with weights 1, 1, 1, 2: the level settles at 20 per unit of weight.
        Sample(name: "weighted-max-min", allocations: [alder: "20", harbourview: "20", northfield: "20", stBrigid: "40"]),
        // Estate 200, claims 100/200/300.
        Sample(name: "proportional", allocations: [alder: "100/3", harbourview: "200/3", northfield: "100"]),
        Sample(name: "cea", allocations: [alder: "200/3", harbourview: "200/3", northfield: "200/3"]),
        Sample(name: "cel", allocations: [alder: "0", harbourview: "50", northfield: "150"]),
        Sample(name: "talmud", allocations: [alder: "50", harbourview: "75", northfield: "75"]),
        // Patients A (essential), B, C (essential) in clinical order; u then e → {A→u, C→e}.
        Sample(name: "reserve", allocations: [stBrigid: "1", harbourview: "0", alder: "1"]),
        // SOFA tiers: red (4 and 3) whole, yellow (5) gets the 3 left, blue none.
        Sample(name: "priority-tiers", allocations: [alder: "3", harbourview: "3", northfield: "0", stBrigid: "4"]),
        // Bids 10, 8, 6, 4 and asks 1, 3, 5, 7 → 3 trades at 5.5.
        Sample(name: "double-auction", allocations: [
            stBrigid + "/buy": "1", harbourview + "/buy": "1", alder + "/buy": "1", northfield + "/buy": "0",
            northfield + "/sell": "1", alder + "/sell": "1", harbourview + "/sell": "1", stBrigid + "/sell": "0",
        ], price: "5.5"),
        // D = 100 − 2p, S = 10 + p from p0 = 10, λ = 0.1: stops at 25.198 (tolerance 15), the 35.198 offered trade.
        Sample(name: "tatonnement", allocations: [stBrigid: "35.198", northfield: "35.198"], price: "25.198"),
    ]

    /// Runs simulate; the printed JSON object, or nil (an issue recorded) when it printed none.
    func simulate(_ arguments: [String]) throws -> (run: CLITests.Run, json: [String: Any]?) {
        let run = try cli.run(["contract", "simulate"] + arguments)
        let json = try? JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any]
        return (run, json)
    }

    /// A JSON amount as printed: an integer's digits, or the string.
    static func text(_ value: Any?) -> String? {
        if let s = value as? String { return s }
        if let n = value as? NSNumber { return n.stringValue }
        return nil
    }

    static func allocations(_ json: [String: Any]?) -> [String: String]? {
        guard let raw = json?["allocations"] as? [String: Any] else { return nil }
        var out: [String: String] = [:]
        for (k, v) in raw { out[k] = text(v) ?? "?" }
        return out
    }

    @Test(arguments: samples)
    func eachSampleReproducesItsExample(_ sample: Sample) throws {
        let (run, json) = try simulate(["Samples/contracts/\(sample.name).yaml", "--claims", "Samples/contracts/\(sample.name).claims"])
        #expect(run.status == 0, "\(run.stderr) \(run.stdout)")
        #expect(json?["failure"] == nil, "\(run.stdout)")
        #expect(Self.allocations(json) == sample.allocations, "\(run.stdout)")
        #expect(Self.text(json?["price"]) == sample.price)
        #expect(json?["mechanism"] as? String == sample.name)
        #expect((json?["explanation"] as? [[String: Any]])?.isEmpty == false)
    }

    @Test func theReserveProcessingOrderIsPolicy() throws {
        // e then u → {A→e, B→u}: the same claims, the order swapped.
        let dir = try Repository.temporaryDirectory("contract-reserve")
        defer { try? FileManager.default.removeItem(at: dir) }
        let text = try String(contentsOfFile: Repository.root.appendingPathComponent("Samples/contracts/reserve.yaml").path, encoding: .utf8)
        let swapped = dir.appendingPathComponent("reserve-e-first.yaml")
        try text.replacingOccurrences(of: "order: [u, e]", with: "order: [e, u]").write(to: swapped, atomically: true, encoding: .utf8)
        let (run, json) = try simulate([swapped.path, "--claims", "Samples/contracts/reserve.claims"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(Self.allocations(json) == [Self.stBrigid: "1", Self.harbourview: "1", Self.alder: "0"], "\(run.stdout)")
        let categories = (json?["details"] as? [[String: Any]])?.compactMap { d in (d["category"] as? String).map { "\(d["claimant"] ?? ""):\($0)" } }
        #expect(categories?.sorted() == ["\(Self.harbourview):u", "\(Self.stBrigid):e"])
    }

    @Test func theLotteryDrawsOneCourseFromItsSeed() throws {
        let arguments = ["Samples/contracts/lottery.yaml", "--claims", "Samples/contracts/lottery.claims"]
        let (run, json) = try simulate(arguments)
        #expect(run.status == 0, "\(run.stderr)")
        let allocations = try #require(Self.allocations(json))
        #expect(allocations.values.sorted() == ["0", "0", "0", "1"], "\(allocations)")
        let winner = allocations.first { $0.value == "1" }?.key
        let draws = (json?["explanation"] as? [[String: Any]])?.filter { $0["kind"] as? String == "draw" }
        #expect(draws?.count == 1 && draws?.first?["claimant"] as? String == winner)
        // The printed seed is the one drawn with: given explicitly, it draws the same, byte for byte.
        let seed = try #require(json?["seed"] as? String)
        #expect(seed.count == 64)
        let again = try simulate(arguments + ["--seed", seed])
        #expect(again.run.status == 0 && again.run.stdout == run.stdout)
        // Another seed draws by its own randomness: over a handful, more than one provider wins, and only ever one.
        var winners: Set<String> = []
        for k in 0..<12 {
            let other = try simulate(arguments + ["--seed", String(format: "%02x", k)])
            let a = try #require(Self.allocations(other.json))
            #expect(a.values.filter { $0 == "1" }.count == 1)
            if let w = a.first(where: { $0.value == "1" })?.key { winners.insert(w) }
        }
        #expect(winners.count > 1, "\(winners)")
    }

    @Test func tatonnementFollowsThePublishedPriceSeries() throws {
        let (run, json) = try simulate(["Samples/contracts/tatonnement.yaml", "--claims", "Samples/contracts/tatonnement.claims"])
        #expect(run.status == 0, "\(run.stderr)")
        let prices = (json?["explanation"] as? [[String: Any]])?.filter { $0["kind"] as? String == "price" }.compactMap { ($0["amounts"] as? [String])?.first }
        #expect(prices == ["10", "16", "20.2", "23.14", "25.198"])
        #expect(Self.text(json?["supply"]) == "100" && Self.text(json?["free"]) == "64.802")
    }

    @Test func theSupplyOptionOverridesThePool() throws {
        let (run, json) = try simulate(["Samples/contracts/pro-rata.yaml", "--claims", "Samples/contracts/pro-rata.claims", "--supply", "15"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(Self.allocations(json) == [Self.alder: "3", Self.harbourview: "5", Self.northfield: "7"])
        #expect(Self.text(json?["supply"]) == "15" && Self.text(json?["free"]) == "0")
    }

    @Test func aFloatInTheClaimsExitsOneNamingTheFileAndPlace() throws {
        let dir = try Repository.temporaryDirectory("contract-claims")
        defer { try? FileManager.default.removeItem(at: dir) }
        let claims = dir.appendingPathComponent("claims.json")
        try Data("[{\"claimant\": \"a\", \"units\": 3}, {\"claimant\": \"b\", \"units\": 2.5}]".utf8).write(to: claims)
        let run = try cli.run(["contract", "simulate", "Samples/contracts/pro-rata.yaml", "--claims", claims.path])
        #expect(run.status == 1)
        #expect(run.stdout.isEmpty)
        #expect(run.stderr.hasPrefix("careledger contract simulate: \(claims.path): [1].units: 2.5 is a floating-point number"), "\(run.stderr)")
    }

    @Test func aBadDefinitionExitsOneNamingTheField() throws {
        let dir = try Repository.temporaryDirectory("contract-definition")
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("bad.yaml")
        let text = try String(contentsOfFile: Repository.root.appendingPathComponent("Samples/contracts/max-min.yaml").path, encoding: .utf8)
        try text.replacingOccurrences(of: "units: 100", with: "units: 100\n  unit: 1").write(to: file, atomically: true, encoding: .utf8)
        let run = try cli.run(["contract", "simulate", file.path, "--claims", "Samples/contracts/max-min.claims"])
        #expect(run.status == 1)
        #expect(run.stderr == "careledger contract simulate: \(file.path): pool.unit: no such field (here: divisible, owners, resource, units)\n")
    }

    @Test func aFailedExecutionPrintsItsResultAndExitsOne() throws {
        // A fractional supply for an indivisible pool: the execution fails and says why, allocating nothing.
        let (run, json) = try simulate(["Samples/contracts/max-min.yaml", "--claims", "Samples/contracts/max-min.claims", "--supply", "7/2"])
        #expect(run.status == 1)
        #expect((json?["failure"] as? [String: String])?["code"] == "invalidClaim", "\(run.stdout)")
        #expect(Self.allocations(json) == [Self.northfield: "0", Self.harbourview: "0", Self.stBrigid: "0"])
        #expect(Self.text(json?["free"]) == "3.5")
        #expect(run.stderr.hasPrefix("careledger contract simulate: the execution failed: invalidClaim:"), "\(run.stderr)")
    }

    @Test func usageAndUnreadableFilesHaveTheirExitCodes() throws {
        let base = ["contract", "simulate", "Samples/contracts/pro-rata.yaml", "--claims", "Samples/contracts/pro-rata.claims"]
        let badSupply = try cli.run(base + ["--supply", "2.5.1"])
        #expect(badSupply.status == 64 && badSupply.stderr.contains("--supply"), "\(badSupply.stderr)")
        let badSeed = try cli.run(base + ["--seed", "xyz"])
        #expect(badSeed.status == 64 && badSeed.stderr.contains("--seed"), "\(badSeed.stderr)")
        let missing = try cli.run(["contract", "simulate", "Samples/contracts/no-such.yaml", "--claims", "Samples/contracts/pro-rata.claims"])
        #expect(missing.status == 66 && missing.stderr.contains("no-such.yaml"), "\(missing.stderr)")
        let noClaims = try cli.run(["contract", "simulate", "Samples/contracts/pro-rata.yaml"])
        #expect(noClaims.status == 64)
    }
}
