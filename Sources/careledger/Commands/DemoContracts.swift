import Contracts
import Foundation
import Ledger
import Node
import Services

/// The demo's allocation part (issue 18): the four providers share ICU ventilators by a contract deployed on their
/// ledger — max-min fair within SOFA triage priority (Samples/contracts/demo-icu-ventilators.yaml). The first
/// provider proposes it, the second votes it in (40 + 30 of 100 stake is more than 2/3), each provider claims for
/// itself, the epoch runs inside block finalization on every validator, and the result is printed with its
/// explanation and a proof checked as `careledger verify` checks it — each step through the use case its command calls.
extension DemoCommand {
    func contractDemo(network: LocalNetwork) async throws -> Int {
        var failures = 0
        print("")
        let file = URL(fileURLWithPath: samples).appendingPathComponent("contracts/demo-icu-ventilators.yaml").path
        let claimsFile = URL(fileURLWithPath: samples).appendingPathComponent("contracts/demo-icu-ventilators.claims").path
        let contract = try ContractFiles.definition(try String(contentsOfFile: file, encoding: .utf8), file: file)
        let claims = try ContractFiles.claims(try String(contentsOfFile: claimsFile, encoding: .utf8), file: claimsFile)
        let d = contract.definition
        let owner = ContractLedger(home: network.homes[0])
        // A second run finds the contract in force already.
        let before = try await network.homes[0].openChain()
        if await before.state.contract(d.id) == nil {
            do throws(ServiceError) {
                let proposed = try await owner.deploy(contract)
                print("  contract    \(try await owner.participantName()) proposed \(d.id) v\(d.version) (\(d.mechanism.type.rawValue), priority \(d.priority ?? "none")) at height \(proposed.height)")
                let voter = ContractLedger(home: network.homes[1])
                let voted = try await voter.vote(contract: d.id, version: d.version, approve: true)
                print("              \(try await voter.participantName()) approved it at height \(voted.height): 70 of 100 stake > 2/3, in force")
            } catch {
                print("  contract    NOT DEPLOYED: \(error)")
                return 1
            }
        } else {
            print("  contract    \(d.id) is in force already (a second run)")
        }
        print("              (careledger contract deploy \(file) --home \(network.homes[0].root.path); contract vote \(d.id) --version \(d.version) --approve --home …/node1)")
        var lastHeight: UInt64 = 0
        for home in network.homes {
            let ledger = ContractLedger(home: home)
            do throws(ServiceError) {
                let name = try await ledger.participantName()
                guard let claim = claims.first(where: { $0.claimant == name }) else { continue }
                let committed = try await ledger.claim(contract: d.id, claim)
                lastHeight = max(lastHeight, committed.height)
                print("  claim       \(name): \(claim.units.displayText) ventilator(s), SOFA \(claim.attributes["sofa"]?.description ?? "?") (height \(committed.height))")
            } catch {
                print("  claim       NOT COMMITTED: \(error)")
                failures += 1
            }
        }
        // The first epoch that ends after every claim stands, once a finalized header commits to its result.
        let epoch = d.epochs.epoch(containing: lastHeight + 1) ?? 0
        let chain = try await network.homes[0].openChain()
        let queries = ContractQueries(chain: chain)
        let deadline = ContinuousClock.now + .seconds(60)
        var proven: (proof: AllocationProof, result: EpochResult)?
        while proven == nil && ContinuousClock.now < deadline {
            try await chain.refresh()
            do throws(ServiceError) {
                proven = try await queries.prove(d.id, epoch: epoch, claimant: "northfield-community-health")
            } catch where error.code == .notFound || error.code == .notReady {
                try await Task.sleep(for: .milliseconds(100))
            } catch {
                print("  epoch       \(epoch): \(error)")
                return failures + 1
            }
        }
        guard let (proof, result) = proven else {
            print("  epoch       \(epoch) (ending at height \(d.epochs.lastHeight(of: epoch))) did not run within 60 s")
            return failures + 1
        }
        print("  epoch       \(epoch) of \(d.id) ran at height \(d.epochs.lastHeight(of: epoch)) on every validator, inside block finalization (gas \(result.gasUsed)):")
        for a in result.allocations { print("                \(a.claimant.padding(toLength: 30, withPad: " ", startingAt: 0)) \(a.units.displayText)") }
        print("              explanation:")
        for (i, s) in result.steps.enumerated() { print("                \(i + 1). [\(s.kind)] \(s.claimant.map { "\($0): " } ?? "")\(s.note)") }
        let expected = ["alder-creek-family-clinic": 7, "harbourview-medical-centre": 2, "northfield-community-health": 1, "st-brigid-general-hospital": 4]
        if result.failure != nil || result.allocations.contains(where: { $0.units != Rational(expected[$0.claimant] ?? -1) }) { failures += 1 }
        // The proof for one claimant, checked as `careledger verify` checks the written file.
        let document = Array(try AllocationJSON.encode(proof, result: result))
        if case .allocationProof(_, let verified) = ReceiptVerification.verify(proof, document: document, genesis: chain.genesis), verified == result {
            print("  proof       northfield-community-health's 1 ventilator in epoch \(epoch): verified against the state root of height \(proof.header.height), \(proof.commit.signatures.count) signatures")
        } else {
            print("  proof       DOES NOT VERIFY")
            failures += 1
        }
        print("              (careledger contract explain \(d.id) --epoch \(epoch) --claimant northfield-community-health --prove proof.json --home \(network.homes[0].root.path); careledger verify proof.json --genesis …/genesis.json)")
        return failures
    }
}
